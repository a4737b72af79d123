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
            instances[lease.id].map { remove($0, reason: .expired, wallNow: wallNow) }
        }
    }

    /// The earliest deadline of a live lease (when the next expiry is due).
    public mutating func nextDeadline() -> ContinuousClock.Instant? { leases.nextDeadline() }

    /// The live instance with this id in this service.
    public func instance(_ id: UUID, service: String, now: ContinuousClock.Instant) -> Instance? {
        guard let instance = instances[id], instance.service == service, instance.isLive(at: now) else { return nil }
        return instance
    }

    /// The live instances of a service in registration order; `[]` for an unknown service.
    /// - Complexity: O(instances of the service).
    public func instances(of service: String, now: ContinuousClock.Instant) -> [Instance] {
        guard let ids = services[service] else { return [] }
        var result: [Instance] = []
        result.reserveCapacity(ids.count)
        for id in ids {
            if let instance = instances[id], instance.isLive(at: now) { result.append(instance) }
        }
        return result
    }

    /// Every service with at least one live instance, with its live-instance count, sorted by name.
    /// - Complexity: O(all instances).
    public func serviceCounts(now: ContinuousClock.Instant) -> [(service: String, instances: Int)] {
        services.compactMap { name, ids -> (String, Int)? in
            let live = ids.reduce(0) { $0 + ((instances[$1]?.isLive(at: now) ?? false) ? 1 : 0) }
            return live > 0 ? (name, live) : nil
        }.sorted { $0.0 < $1.0 }
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
