#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
import RosterAPI
import RosterCore
import RosterSettings
import Synchronization

/// The live registry: `RosterCore.Registry` behind a mutex, with time read once per operation.
///
/// Critical sections are short and synchronous; nothing awaits under the lock.
public final class RegistryStore: Sendable {
    /// Everything that changes together under one lock: the registry, the log of its changes and
    /// the watchers they go to. A new watcher is handed its starting point in the same critical
    /// section that assigns indexes, so nothing falls between a snapshot and the stream.
    struct State: Sendable {
        var registry = Registry()
        var log: EventLog
        var watchers = WatcherSet()
        var nextWatchID = 0
        /// Set by `closeAllWatches`: later watches start closed.
        var watchesClosed = false
        /// Committed changes not yet handed to watchers (kept only while there are watchers).
        var pendingChanges: [RegistryChange] = []
    }

    private let state: Mutex<State>
    /// Held while pending changes are handed to watchers, so that they reach every queue in index
    /// order whichever thread hands them over. Taken before `state`, never inside it.
    private let delivery = Mutex<Void>(())
    /// Whether `pendingChanges` may be non-empty: lets requests that changed nothing skip the fan-out thread.
    private let hasPendingChanges = Atomic<Bool>(false)
    /// Lookup bodies by service and filter, each with the index it was made at (see `lookupBody`).
    private let lookupCache = Mutex<[LookupKey: (index: UInt64, body: [UInt8])]>([:])
    let clock: any RosterClock
    let logger: Logger
    /// Identifies this run of the registry (`Roster-Epoch`); indexes restart with the process.
    public let epoch: String
    let metrics: RegistryMetrics

    /// - Parameters:
    ///   - history: how many changes the event log keeps for resuming watchers (`watch.history`).
    ///   - metrics: what registrations, heartbeats, expiries and dropped watchers move.
    public init(
        clock: any RosterClock, logger: Logger, epoch: String = RegistryStore.makeEpoch(), history: Int = 10_000,
        metrics: RegistryMetrics = .none
    ) {
        self.clock = clock
        self.logger = logger
        self.epoch = epoch
        self.metrics = metrics
        self.state = Mutex(State(log: EventLog(capacity: history)))
    }

    private let observers = Mutex<[@Sendable ([RegistryChange]) -> Void]>([])

    /// Calls `observer` after every committed batch of changes, outside the lock. Batches from
    /// concurrent writers may arrive out of index order; observers re-check the store.
    public func observe(_ observer: @escaping @Sendable ([RegistryChange]) -> Void) {
        observers.withLock { $0.append(observer) }
    }

    private func publish(_ changes: [RegistryChange]) {
        guard !changes.isEmpty else { return }
        for change in changes { log(change) }
        metrics.record(changes)
        for observer in observers.withLock({ $0 }) { observer(changes) }
    }

    /// A random epoch: 16 lowercase hex digits.
    public static func makeEpoch() -> String {
        var generator = SystemRandomNumberGenerator()
        let value = generator.next() as UInt64
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// The index of the last committed change.
    public var index: UInt64 { transaction { r, _, _ in (r.index, []) } }

    /// Runs `body` under the lock after expiring every lease that is due, so that every answer and
    /// every index reflects expiries exactly at their deadlines; publishes all changes after unlocking.
    private func transaction<T>(
        _ body: (inout Registry, ContinuousClock.Instant, Date) throws(RegistryError) -> (T, [RegistryChange])
    ) throws(RegistryError) -> T {
        let now = clock.now, wallNow = clock.wallNow
        let (result, changes) = state.withLock { s -> (Result<T, RegistryError>, [RegistryChange]) in
            var changes = s.registry.expire(now: now, wallNow: wallNow)
            let result: Result<T, RegistryError>
            do throws(RegistryError) {
                let (value, more) = try body(&s.registry, now, wallNow)
                changes += more
                result = .success(value)
            } catch {
                result = .failure(error)
            }
            commit(changes, into: &s)
            return (result, changes)
        }
        finish(changes)
        return try result.get()
    }

    /// Appends committed changes to the log and, while anyone watches, to the changes pending for
    /// watchers (under the lock). Handing them to each watcher's queue waits for `flushWatchWakeups`.
    private func commit(_ changes: [RegistryChange], into s: inout State) {
        for change in changes { s.log.append(change) }
        // A watcher that subscribes later starts after these indexes, so none of them is owed to it.
        if s.watchers.count > 0 && !changes.isEmpty {
            s.pendingChanges += changes
            hasPendingChanges.store(true, ordering: .relaxed)
        }
    }

    /// Hands pending changes to the queues of the watchers that follow their services, in index order,
    /// then has the fan-out thread wake those streams. Commits outside request handlers call it at once.
    public func flushWatchWakeups() {
        FanOutThread.shared.wake(deliverPendingChanges())
    }

    /// Leaves `flushWatchWakeups`'s work to the fan-out thread. Request handlers call it after their
    /// response is written: the work per watcher then neither delays the response nor competes at the
    /// same priority with the client it just woke, on a machine they share.
    public func flushWatchWakeupsLater() {
        if hasPendingChanges.load(ordering: .relaxed) { FanOutThread.shared.deliver(for: self) }
        FanOutThread.shared.runIfStarved()
    }

    /// Hands pending changes to watchers' queues in index order, outside the store's lock (one delivery at a
    /// time), cuts the watchers whose queue overflowed, and returns the streams to wake.
    func deliverPendingChanges() -> [WatchSubscription] {
        let (overflowed, toWake) = delivery.withLock { _ -> ([WatchSubscription], [WatchSubscription]) in
            let (changes, watchers) = state.withLock { s -> ([RegistryChange], WatcherSet) in
                let changes = s.pendingChanges
                s.pendingChanges = []
                hasPendingChanges.store(false, ordering: .relaxed)
                return (changes, s.watchers)
            }
            guard !changes.isEmpty else { return ([], []) }
            var overflowed: [WatchSubscription] = []
            var toWake: [WatchSubscription] = []
            for change in changes { watchers.deliver(change, overflowed: &overflowed, toWake: &toWake) }
            if !overflowed.isEmpty {
                state.withLock { s in for subscription in overflowed { s.watchers.remove(subscription) } }
            }
            return (overflowed, toWake)
        }
        for subscription in overflowed {
            logger.info("watcher dropped: queue full", metadata: ["watch.id": "\(subscription.id)"])
            metrics.droppedWatchers.increment()
            subscription.onOverflow.withLock { $0 }?()
        }
        return toWake
    }

    /// Set while a request handler runs, so that its commit leaves the hand-over to `flushWatchWakeupsLater`
    /// after the response.
    @TaskLocal static var deferWakeups = false

    /// After unlocking: hand changes to watchers (unless a request handler does it after its response),
    /// log the changes and notify observers.
    private func finish(_ changes: [RegistryChange]) {
        if !changes.isEmpty && !Self.deferWakeups { flushWatchWakeups() }
        publish(changes)
    }

    private func transaction<T>(_ body: (inout Registry, ContinuousClock.Instant, Date) -> (T, [RegistryChange])) -> T {
        let nonThrowing: (inout Registry, ContinuousClock.Instant, Date) throws(RegistryError) -> (T, [RegistryChange]) = { r, now, wallNow in
            body(&r, now, wallNow)
        }
        do throws(RegistryError) {
            return try transaction(nonThrowing)
        } catch {
            fatalError("unreachable: the body does not throw")
        }
    }

    /// Registers an instance under a fresh random id.
    /// - Returns: the instance and the index of its registration.
    /// - Throws: `RegistryError.instanceExists` if a live instance holds the same address.
    public func register(_ registration: Registration) throws(RegistryError) -> (Instance, UInt64) {
        let id = UUID()
        return try transaction { r, now, wallNow throws(RegistryError) in
            let changes = try r.register(registration, id: id, now: now, wallNow: wallNow)
            let last = changes[changes.count - 1]
            return ((last.instance, last.index), changes)
        }
    }

    /// Renews a lease. - Returns: the renewed instance and the current index.
    /// - Throws: `RegistryError.instanceNotFound`.
    public func renew(_ id: UUID, service: String) throws(RegistryError) -> (Instance, UInt64) {
        let renewed = try transaction { r, now, _ throws(RegistryError) in
            ((try r.renew(id, service: service, now: now), r.index), [])
        }
        metrics.heartbeat(service: service)
        return renewed
    }

    /// Deregisters a live instance. - Returns: the index of the change.
    /// - Throws: `RegistryError.instanceNotFound`.
    public func deregister(_ id: UUID, service: String) throws(RegistryError) -> UInt64 {
        try transaction { r, now, wallNow throws(RegistryError) in
            let change = try r.deregister(id, service: service, now: now, wallNow: wallNow)
            return (change.index, [change])
        }
    }

    /// Expires every lease whose deadline has passed (each logged with its deadline's time).
    /// Every other operation does the same first; the sweeper calls this when nothing else runs.
    public func sweep() {
        transaction { _, _, _ in ((), []) }
    }

    /// The live instance, with the current index.
    public func instance(_ id: UUID, service: String) -> (Instance?, UInt64) {
        transaction { r, now, _ in ((r.instance(id, service: service, now: now), r.index), []) }
    }

    /// The live instances of a service (serving ones unless `includeUnhealthy`), with the current index.
    public func instances(of service: String, includeUnhealthy: Bool = false) -> ([Instance], UInt64) {
        transaction { r, now, _ in ((r.instances(of: service, now: now, includeUnhealthy: includeUnhealthy), r.index), []) }
    }

    /// The body of a lookup, `encode(instances)`, with the current index, served from a cache while the
    /// index has not moved.
    ///
    /// Every change that could alter a lookup (register, deregister, expiry, health change) takes an index,
    /// and renewals change nothing a lookup shows, so a body made at index k is exact as long as the index is
    /// still k. Expiries due now are applied first, as for every read. The cache holds at most
    /// `lookupCacheLimit` bodies and is emptied when full.
    /// - Complexity: O(1) on a hit; on a miss, as `instances(of:)` plus encoding (outside the lock).
    public func lookupBody(
        of service: String, includeUnhealthy: Bool, encode: ([Instance]) -> [UInt8]
    ) -> ([UInt8], UInt64) {
        let key = LookupKey(service: service, includeUnhealthy: includeUnhealthy)
        let (cached, instances, index): ([UInt8]?, [Instance], UInt64) = transaction { r, now, _ in
            let index = r.index
            if let hit = lookupCache.withLock({ $0[key] }), hit.index == index { return ((hit.body, [], index), []) }
            return ((nil, r.instances(of: service, now: now, includeUnhealthy: includeUnhealthy), index), [])
        }
        if let cached { return (cached, index) }
        let body = encode(instances)
        lookupCache.withLock { cache in
            if cache.count >= Self.lookupCacheLimit { cache.removeAll(keepingCapacity: true) }
            cache[key] = (index, body)
        }
        return (body, index)
    }

    struct LookupKey: Hashable {
        var service: String
        var includeUnhealthy: Bool
    }

    /// Most lookup bodies kept by `lookupBody`.
    static let lookupCacheLimit = 1_024

    /// Applies a probe result; returns the health change, if the status changed.
    @discardableResult
    public func recordProbe(_ result: ProbeResult, for id: UUID, service: String) -> RegistryChange? {
        transaction { r, now, wallNow in
            let change = r.recordProbe(result, for: id, service: service, now: now, wallNow: wallNow)
            return (change, change.map { [$0] } ?? [])
        }
    }

    /// Every service with live instances, its live and serving counts, with the current index.
    public func serviceCounts() -> ([(service: String, instances: Int, healthy: Int)], UInt64) {
        transaction { r, now, _ in ((r.serviceCounts(now: now), r.index), []) }
    }

    /// Live instances by service and health status (non-zero counts only), for metrics.
    public func statusCounts() -> [(service: String, status: HealthStatus, count: Int)] {
        transaction { r, now, _ in (r.statusCounts(now: now), []) }
    }

    /// Sets the gauges that are read at scrape time: instances by service and status, watchers.
    public func refreshMetrics() {
        metrics.refresh(instances: statusCounts(), watchers: watcherCount)
    }

    /// Instances held in memory, including expired ones the sweeper has not removed yet.
    public var storedCount: Int { state.withLock { $0.registry.storedCount } }

    /// Watchers connected now.
    public var watcherCount: Int { state.withLock { $0.watchers.count } }

    /// Where a new watch starts.
    public enum WatchStart: Sendable {
        /// No resume point: the full current state in scope at `index`, then live changes.
        case snapshot([Instance], index: UInt64)
        /// Resumed inside the log: exactly the changes in scope after the resume point.
        case resume([RegistryChange])
        /// The resume point cannot be honoured (too old, in the future, another epoch, malformed):
        /// the full current state at `index`, then live changes.
        case reset([Instance], index: UInt64)
    }

    /// Registers a watcher and returns its starting point, atomically with respect to changes.
    /// - Parameters:
    ///   - resumeAfter: `nil` for a fresh watch; `.some(nil)` for a resume point that is unusable
    ///     (another epoch or malformed); `.some(k)` to resume after index k.
    public func watch(scope: WatchScope, resumeAfter: UInt64??, queueSize: Int) -> (WatchSubscription, WatchStart) {
        let now = clock.now, wallNow = clock.wallNow
        let (subscription, start, expired) = state.withLock { s -> (WatchSubscription, WatchStart, [RegistryChange]) in
            // Due expiries are applied first, like every operation, so the starting point is exact.
            let expired = s.registry.expire(now: now, wallNow: wallNow)
            commit(expired, into: &s)
            let (subscription, start) = Self.subscribe(&s, scope: scope, resumeAfter: resumeAfter, queueSize: queueSize, now: now)
            return (subscription, start, expired)
        }
        finish(expired)
        return (subscription, start)
    }

    private static func subscribe(
        _ s: inout State, scope: WatchScope, resumeAfter: UInt64??, queueSize: Int, now: ContinuousClock.Instant
    ) -> (WatchSubscription, WatchStart) {
            s.nextWatchID += 1
            // It is owed the changes after the current index: the snapshot or the resumed changes cover the rest.
            let subscription = WatchSubscription(id: s.nextWatchID, scope: scope, capacity: queueSize, after: s.registry.index)
            if s.watchesClosed {
                subscription.close(.shutdown)
            } else {
                s.watchers.add(subscription)
            }
            func snapshot() -> [Instance] {
                switch scope {
                case .all: s.registry.allInstances(now: now)
                case .matching(let patterns): s.registry.allInstances(now: now).filter { patterns.matches($0.service) }
                case .services(let names): names.sorted().flatMap { s.registry.instances(of: $0, now: now, includeUnhealthy: true) }
                }
            }
            switch resumeAfter {
            case nil:
                return (subscription, .snapshot(snapshot(), index: s.registry.index))
            case .some(nil):
                return (subscription, .reset(snapshot(), index: s.registry.index))
            case .some(.some(let k)):
                guard let changes = s.log.changes(after: k) else {
                    return (subscription, .reset(snapshot(), index: s.registry.index))
                }
                return (subscription, .resume(changes.filter { scope.contains($0.instance.service) }))
            }
    }

    /// Wakes every watch that has been silent for `silence`, so its stream sends a keepalive.
    public func pokeSilentWatches(silence: Duration) {
        let now = ContinuousClock.now
        let all = state.withLock { $0.watchers.all }
        for subscription in all { subscription.pokeIfSilent(for: silence, now: now) }
    }

    /// Removes a watcher.
    public func unwatch(_ subscription: WatchSubscription) {
        state.withLock { $0.watchers.remove(subscription) }
        subscription.close(.cancelled)
    }

    /// Ends every watch (graceful shutdown): their streams finish cleanly.
    public func closeAllWatches() {
        let all = state.withLock { s -> [WatchSubscription] in
            s.watchesClosed = true
            defer { s.watchers = WatcherSet() }
            return s.watchers.all
        }
        for subscription in all { subscription.close(.shutdown) }
    }

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
                "instance.address": "\(change.instance.host.contains(":") ? "[\(change.instance.host)]" : change.instance.host):\(change.instance.port)",
                "lease.ttl": "\(SettingValueSyntax.formatDuration(change.instance.ttl))",
            ]) { a, _ in a })
        case .deregistered(.deregistered):
            logger.info("instance deregistered", metadata: metadata)
        case .deregistered(.expired):
            logger.info("lease expired", metadata: metadata)
        case .healthChanged(let from, let to, let reason):
            logger.info("health changed", metadata: metadata.merging([
                "health.from": "\(from.rawValue)", "health.to": "\(to.rawValue)", "health.reason": "\(reason)",
            ]) { a, _ in a })
        }
    }
}
