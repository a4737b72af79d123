#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import OrderedCollections

/// The registry's rules as a value: services, their instances, leases and the change index.
///
/// Pure and synchronous: every time-dependent call takes `now` (monotonic) and, where a change
/// is recorded, `wallNow` for display. Callers serialize access (see `RegistryStore`).
public struct Registry: Sendable {
    struct AddressKey: Hashable, Sendable {
        var service: String
        var host: String
        var port: Int
    }

    /// The index of the last committed change; 0 before the first.
    public private(set) var index: UInt64 = 0
    private var instances: [UUID: Instance] = [:]
    /// Instance ids per service, in registration order.
    private var services: [String: OrderedSet<UUID>] = [:]
    private var byAddress: [AddressKey: UUID] = [:]
    private var leases = LeaseTable<UUID>()

    public init() {}

    /// Instances held, live or expired but not yet swept.
    public var storedCount: Int { instances.count }

    /// Registers an instance under a new lease ending at `now + ttl`.
    ///
    /// If an expired (not yet swept) instance holds the same service and address, it is
    /// expired first, so the returned changes are `[expired?, registered]`.
    /// - Throws: `RegistryError.instanceExists` with the id of the live holder of the address.
    /// - Complexity: O(log n).
    public mutating func register(
        _ registration: Registration, id: UUID, now: ContinuousClock.Instant, wallNow: Date
    ) throws(RegistryError) -> [RegistryChange] {
        let key = AddressKey(service: registration.service, host: registration.host, port: registration.port)
        var changes: [RegistryChange] = []
        if let holderID = byAddress[key], let holder = instances[holderID] {
            guard !holder.isLive(at: now) else { throw .instanceExists(holderID) }
            leases.remove(holderID)
            changes.append(remove(holder, reason: .expired, wallNow: wallNow))
        }
        precondition(instances[id] == nil, "instance id reused")
        let instance = Instance(id: id, registration: registration, registeredAt: wallNow, now: now)
        instances[id] = instance
        services[instance.service, default: []].append(id)
        byAddress[key] = id
        leases.set(id, deadline: instance.deadline)
        index += 1
        changes.append(RegistryChange(index: index, kind: .registered, instance: instance, at: wallNow))
        return changes
    }

    /// Renews a live lease so that it ends at `now + ttl`; returns the renewed instance.
    /// Renewals are not changes and take no index.
    /// - Throws: `RegistryError.instanceNotFound` if the instance is unknown, in another service,
    ///   or its lease already expired (expired leases are never revived).
    /// - Complexity: O(log n) amortized.
    public mutating func renew(_ id: UUID, service: String, now: ContinuousClock.Instant) throws(RegistryError) -> Instance {
        guard var instance = instances[id], instance.service == service, instance.isLive(at: now) else {
            throw .instanceNotFound
        }
        instance.deadline = now + instance.ttl
        instances[id] = instance
        leases.set(id, deadline: instance.deadline)
        return instance
    }

    /// Removes a live instance at its owner's request.
    /// - Throws: `RegistryError.instanceNotFound` as for `renew`.
    public mutating func deregister(
        _ id: UUID, service: String, now: ContinuousClock.Instant, wallNow: Date
    ) throws(RegistryError) -> RegistryChange {
        guard let instance = instances[id], instance.service == service, instance.isLive(at: now) else {
            throw .instanceNotFound
        }
        leases.remove(id)
        return remove(instance, reason: .deregistered, wallNow: wallNow)
    }

    /// Removes every instance whose lease ended at or before `now`, earliest deadline first.
    /// - Complexity: O(expired · log n), independent of the number of live instances.
    public mutating func expire(now: ContinuousClock.Instant, wallNow: Date) -> [RegistryChange] {
        leases.popExpired(at: now).compactMap { lease in
            // Record the wall time of the deadline itself, not of the sweep.
            let late = now - lease.deadline
            let at = wallNow.addingTimeInterval(-(Double(late.components.seconds) + Double(late.components.attoseconds) / 1e18))
            return instances[lease.id].map { remove($0, reason: .expired, wallNow: at) }
        }
    }

    /// Applies a probe result to a live instance of `service`.
    /// - Returns: a `healthChanged` change (with the next index) if the status changed; nil if it did
    ///   not, or if the instance is gone or has no check (a late probe changes nothing).
    public mutating func recordProbe(
        _ result: ProbeResult, for id: UUID, service: String, now: ContinuousClock.Instant, wallNow: Date
    ) -> RegistryChange? {
        guard var instance = instances[id], instance.service == service, instance.isLive(at: now),
              let check = instance.healthCheck
        else { return nil }
        let from = instance.health.record(
            result, unhealthyThreshold: check.unhealthyThreshold, healthyThreshold: check.healthyThreshold)
        instances[id] = instance
        guard let from else { return nil }
        index += 1
        return RegistryChange(
            index: index, kind: .healthChanged(from: from, to: instance.health.status, reason: result.reason),
            instance: instance, at: wallNow)
    }

    /// The earliest deadline of a live lease (when the next expiry is due).
    public mutating func nextDeadline() -> ContinuousClock.Instant? { leases.nextDeadline() }

    /// The live instance with this id in this service.
    public func instance(_ id: UUID, service: String, now: ContinuousClock.Instant) -> Instance? {
        guard let instance = instances[id], instance.service == service, instance.isLive(at: now) else { return nil }
        return instance
    }

    /// The live instances of a service in registration order; `[]` for an unknown service.
    /// By default only serving ones (`healthy`, `suspect`); `includeUnhealthy` returns all.
    /// - Complexity: O(instances of the service).
    public func instances(of service: String, now: ContinuousClock.Instant, includeUnhealthy: Bool = false) -> [Instance] {
        guard let ids = services[service] else { return [] }
        var result: [Instance] = []
        result.reserveCapacity(ids.count)
        for id in ids {
            if let instance = instances[id], instance.isLive(at: now), includeUnhealthy || instance.health.status.isServing {
                result.append(instance)
            }
        }
        return result
    }

    /// Every live instance of every service, by service name then registration order.
    public func allInstances(now: ContinuousClock.Instant) -> [Instance] {
        services.keys.sorted().flatMap { instances(of: $0, now: now, includeUnhealthy: true) }
    }

    /// Every service with at least one live instance, with its live and serving counts, sorted by name.
    /// - Complexity: O(all instances).
    public func serviceCounts(now: ContinuousClock.Instant) -> [(service: String, instances: Int, healthy: Int)] {
        services.compactMap { name, ids -> (String, Int, Int)? in
            var live = 0, serving = 0
            for id in ids {
                guard let instance = instances[id], instance.isLive(at: now) else { continue }
                live += 1
                if instance.health.status.isServing { serving += 1 }
            }
            return live > 0 ? (name, live, serving) : nil
        }.sorted { $0.0 < $1.0 }
    }

    /// Live instances counted by service and health status (only non-zero counts), unsorted.
    /// - Complexity: O(all instances).
    public func statusCounts(now: ContinuousClock.Instant) -> [(service: String, status: HealthStatus, count: Int)] {
        var result: [(service: String, status: HealthStatus, count: Int)] = []
        for (name, ids) in services {
            var counts: [HealthStatus: Int] = [:]
            for id in ids {
                guard let instance = instances[id], instance.isLive(at: now) else { continue }
                counts[instance.health.status, default: 0] += 1
            }
            for (status, count) in counts { result.append((name, status, count)) }
        }
        return result
    }

    private mutating func remove(_ instance: Instance, reason: DeregistrationReason, wallNow: Date) -> RegistryChange {
        instances[instance.id] = nil
        services[instance.service]?.remove(instance.id)
        if services[instance.service]?.isEmpty == true { services[instance.service] = nil }
        let key = AddressKey(service: instance.service, host: instance.host, port: instance.port)
        if byAddress[key] == instance.id { byAddress[key] = nil }
        index += 1
        return RegistryChange(index: index, kind: .deregistered(reason), instance: instance, at: wallNow)
    }
}
