#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
import RosterAPI
import RosterCore
import Synchronization

/// The live registry: `RosterCore.Registry` behind a mutex, with time read once per operation.
///
/// Critical sections are short and synchronous; nothing awaits under the lock.
public final class RegistryStore: Sendable {
    private let registry = Mutex(Registry())
    let clock: any RosterClock
    let logger: Logger
    /// Identifies this run of the registry (`Roster-Epoch`); indexes restart with the process.
    public let epoch: String

    public init(clock: any RosterClock, logger: Logger, epoch: String = RegistryStore.makeEpoch()) {
        self.clock = clock
        self.logger = logger
        self.epoch = epoch
    }

    /// A random epoch: 16 lowercase hex digits.
    public static func makeEpoch() -> String {
        var generator = SystemRandomNumberGenerator()
        let value = generator.next() as UInt64
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// The index of the last committed change.
    public var index: UInt64 { registry.withLock { $0.index } }

    /// Registers an instance under a fresh random id.
    /// - Returns: the instance and the index of its registration.
    /// - Throws: `RegistryError.instanceExists` if a live instance holds the same address.
    public func register(_ registration: Registration) throws(RegistryError) -> (Instance, UInt64) {
        let id = UUID()
        let now = clock.now, wallNow = clock.wallNow
        let changes = try registry.withLock { r throws(RegistryError) in
            try r.register(registration, id: id, now: now, wallNow: wallNow)
        }
        for change in changes { log(change) }
        let last = changes[changes.count - 1]
        return (last.instance, last.index)
    }

    /// Renews a lease. - Returns: the renewed instance and the current index.
    /// - Throws: `RegistryError.instanceNotFound`.
    public func renew(_ id: UUID, service: String) throws(RegistryError) -> (Instance, UInt64) {
        let now = clock.now
        return try registry.withLock { r throws(RegistryError) in
            (try r.renew(id, service: service, now: now), r.index)
        }
    }

    /// Deregisters a live instance. - Returns: the index of the change.
    /// - Throws: `RegistryError.instanceNotFound`.
    public func deregister(_ id: UUID, service: String) throws(RegistryError) -> UInt64 {
        let now = clock.now, wallNow = clock.wallNow
        let change = try registry.withLock { r throws(RegistryError) in
            try r.deregister(id, service: service, now: now, wallNow: wallNow)
        }
        log(change)
        return change.index
    }

    /// Expires every lease whose deadline has passed and logs each expiry.
    /// - Returns: the expiry changes, earliest first.
    @discardableResult
    public func sweep() -> [RegistryChange] {
        let now = clock.now, wallNow = clock.wallNow
        let changes = registry.withLock { $0.expire(now: now, wallNow: wallNow) }
        for change in changes { log(change) }
        return changes
    }

    /// The live instance, with the current index.
    public func instance(_ id: UUID, service: String) -> (Instance?, UInt64) {
        let now = clock.now
        return registry.withLock { ($0.instance(id, service: service, now: now), $0.index) }
    }

    /// The live instances of a service, with the current index.
    public func instances(of service: String) -> ([Instance], UInt64) {
        let now = clock.now
        return registry.withLock { ($0.instances(of: service, now: now), $0.index) }
    }

    /// Every service with live instances and its count, with the current index.
    public func serviceCounts() -> ([(service: String, instances: Int)], UInt64) {
        let now = clock.now
        return registry.withLock { ($0.serviceCounts(now: now), $0.index) }
    }

    /// Instances held in memory, including expired ones the sweeper has not removed yet.
    public var storedCount: Int { registry.withLock { $0.storedCount } }

    private func log(_ change: RegistryChange) {
        let metadata: Logger.Metadata = [
            "index": "\(change.index)",
            "service.name": "\(change.instance.service)",
            "instance.id": "\(change.instance.id.uuidString.lowercased())",
            "at": "\(WireTime.rfc3339(change.at))",
        ]
        switch change.kind {
        case .registered:
            logger.info("instance registered", metadata: metadata.merging([
                "instance.address": "\(change.instance.host):\(change.instance.port)",
                "lease.ttl": "\(change.instance.ttl)",
            ]) { a, _ in a })
        case .deregistered(.deregistered):
            logger.info("instance deregistered", metadata: metadata)
        case .deregistered(.expired):
            logger.info("lease expired", metadata: metadata)
        }
    }
}
