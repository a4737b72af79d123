import DequeModule
import RosterCore
import Synchronization

/// Which services a watch follows.
public enum WatchScope: Sendable, Equatable {
    case all
    case services(Set<String>)

    func contains(_ service: String) -> Bool {
        switch self {
        case .all: true
        case .services(let names): names.contains(service)
        }
    }
}

/// One watcher's bounded queue of changes, filled by writers under the store's lock and drained
/// by the watcher's stream. Writers never wait: a full queue closes the subscription instead.
public final class WatchSubscription: Sendable {
    /// What `next(timeout:)` returns.
    public enum Next: Sendable {
        case change(RegistryChange)
        /// The keepalive ticker found the watch silent for `watch.keepalive`.
        case idle
        /// The subscription ended: the queue overflowed, the server is stopping, or it was cancelled.
        case closed(CloseReason)
    }

    public enum CloseReason: Sendable, Equatable {
        case overflow
        case shutdown
        case cancelled
    }

    private struct State {
        var queue = Deque<RegistryChange>()
        var waiter: CheckedContinuation<Void, Never>?
        var closed: CloseReason?
        var poked = false
        /// When the stream last took something (a change or a keepalive).
        var lastActivity: ContinuousClock.Instant = .now
    }

    public let id: Int
    public let scope: WatchScope
    let capacity: Int
    private let state = Mutex(State())
    /// Called once when the queue overflows (outside any lock of the store's), e.g. to cut the connection.
    let onOverflow: Mutex<(@Sendable () -> Void)?> = Mutex(nil)

    init(id: Int, scope: WatchScope, capacity: Int) {
        self.id = id
        self.scope = scope
        self.capacity = capacity
    }

    /// Sets what to do when the queue overflows.
    public func setOverflowHandler(_ handler: @escaping @Sendable () -> Void) {
        onOverflow.withLock { $0 = handler }
    }

    /// Queues a change; never blocks and never wakes the stream itself.
    /// - Returns: whether it was queued (false: the queue overflowed and the watch is closed),
    ///   and the stream's waiter, which the caller resumes (off the writer's path).
    func deliver(_ change: RegistryChange) -> (accepted: Bool, waiter: CheckedContinuation<Void, Never>?) {
        let (waiter, overflowed) = state.withLock { s -> (CheckedContinuation<Void, Never>?, Bool) in
            guard s.closed == nil else { return (nil, false) }
            if s.queue.count >= capacity {
                s.closed = .overflow
                s.queue.removeAll()
                defer { s.waiter = nil }
                return (s.waiter, true)
            }
            s.queue.append(change)
            defer { s.waiter = nil }
            return (s.waiter, false)
        }
        return (!overflowed, waiter)
    }

    /// Ends the subscription; a waiting `next` returns `.closed`.
    func close(_ reason: CloseReason) {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if s.closed == nil { s.closed = reason }
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    /// Changes queued and not yet taken.
    public var queuedCount: Int { state.withLock { $0.queue.count } }

    /// The next change, `.idle` when the keepalive ticker pokes a silent watch, or `.closed`.
    /// Waiting costs one continuation: no timer per watcher.
    public func next() async -> Next {
        while true {
            if let ready = take() { return ready }
            await waitForDelivery()
            if Task.isCancelled { return take() ?? .closed(.cancelled) }
        }
    }

    /// Wakes the stream with `.idle` if nothing was taken for `silence` (called by the ticker).
    func pokeIfSilent(for silence: Duration, now: ContinuousClock.Instant) {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard s.closed == nil, s.queue.isEmpty, now - s.lastActivity >= silence else { return nil }
            s.poked = true
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    /// Takes up to `max` changes that are already queued, without waiting.
    public func takeAvailable(max: Int) -> [RegistryChange] {
        state.withLock { s in
            var taken: [RegistryChange] = []
            while taken.count < max, let change = s.queue.popFirst() { taken.append(change) }
            return taken
        }
    }

    private func take() -> Next? {
        state.withLock { s in
            if let change = s.queue.popFirst() {
                s.lastActivity = .now
                return .change(change)
            }
            if let reason = s.closed { return .closed(reason) }
            if s.poked {
                s.poked = false
                s.lastActivity = .now
                return .idle
            }
            return nil
        }
    }

    private func waitForDelivery() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { s -> Bool in
                    if !s.queue.isEmpty || s.closed != nil || s.poked || Task.isCancelled { return true }
                    s.waiter = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
                defer { s.waiter = nil }
                return s.waiter
            }
            waiter?.resume()
        }
    }
}

/// The watchers of a store, indexed by scope so a change reaches only those who follow its service.
struct WatcherSet: Sendable {
    private var byService: [String: [Int: WatchSubscription]] = [:]
    private var everything: [Int: WatchSubscription] = [:]
    private(set) var count = 0

    mutating func add(_ subscription: WatchSubscription) {
        switch subscription.scope {
        case .all: everything[subscription.id] = subscription
        case .services(let names): for name in names { byService[name, default: [:]][subscription.id] = subscription }
        }
        count += 1
    }

    mutating func remove(_ subscription: WatchSubscription) {
        switch subscription.scope {
        case .all:
            guard everything.removeValue(forKey: subscription.id) != nil else { return }
        case .services(let names):
            var removed = false
            for name in names {
                if byService[name]?.removeValue(forKey: subscription.id) != nil { removed = true }
                if byService[name]?.isEmpty == true { byService[name] = nil }
            }
            guard removed else { return }
        }
        count -= 1
    }

    /// Delivers a change to every subscriber in scope; returns those that overflowed (to be
    /// removed) and the waiters to wake.
    func deliver(_ change: RegistryChange, overflowed: inout [WatchSubscription], waiters: inout [CheckedContinuation<Void, Never>]) {
        func one(_ subscription: WatchSubscription) {
            let (accepted, waiter) = subscription.deliver(change)
            if !accepted { overflowed.append(subscription) }
            if let waiter { waiters.append(waiter) }
        }
        for subscription in everything.values { one(subscription) }
        if let scoped = byService[change.instance.service] {
            for subscription in scoped.values { one(subscription) }
        }
    }

    var all: [WatchSubscription] {
        Array(everything.values) + byService.values.flatMap(\.values)
    }
}
