import DequeModule
import RosterCore
import Synchronization

/// Which services a watch follows.
public enum WatchScope: Sendable, Equatable {
    case all
    case services(Set<String>)
    /// Every service the patterns match: a watch of everything a token may read.
    case matching(ServicePatterns)

    func contains(_ service: String) -> Bool {
        switch self {
        case .all: true
        case .services(let names): names.contains(service)
        case .matching(let patterns): patterns.matches(service)
        }
    }
}

/// One watcher's bounded queue of changes, filled in index order after each commit (outside the store's
/// lock, see `RegistryStore.flushWatchWakeups`) and drained by the watcher's stream. Filling never waits:
/// a full queue closes the subscription instead.
public final class WatchSubscription: Sendable {
    /// What `next(timeout:)` returns.
    public enum Next: Sendable {
        case change(RegistryChange)
        /// The keepalive ticker found the watch silent for `watch.keepalive`.
        case idle
        /// An immediate write left part of a chunk behind; flush it.
        case flush
        /// The subscription ended: the queue overflowed, the server is stopping, or it was cancelled.
        case closed(CloseReason)
    }

    public enum CloseReason: Sendable, Equatable {
        case overflow
        case shutdown
        case cancelled
    }

    /// What an immediate write of queued changes achieved (see `setImmediateWriter`).
    public enum ImmediateOutcome: Sendable {
        /// Every change went out; the stream stays parked.
        case sent
        /// They went out in part; the stream must flush the rest.
        case partiallySent
        /// Nothing went out; the stream takes the changes itself.
        case notSent
    }

    private struct State {
        var queue = Deque<RegistryChange>()
        var waiter: CheckedContinuation<Void, Never>?
        var closed: CloseReason?
        var poked = false
        var needsFlush = false
        /// A wake-up is queued in the store for this subscription.
        var wakeScheduled = false
        /// Sends changes without waiting, while the stream is parked; `nil` while the stream runs or ends.
        var immediateWriter: (@Sendable (Deque<RegistryChange>) -> ImmediateOutcome)?
        /// When the stream last took something (a change or a keepalive).
        var lastActivity: ContinuousClock.Instant = .now
    }

    public let id: Int
    public let scope: WatchScope
    let capacity: Int
    /// The index the watch started after: changes up to it reached the stream with its start
    /// (snapshot or resumed changes), so `deliver` skips them.
    let startIndex: UInt64
    private let state = Mutex(State())
    /// Called once when the queue overflows (outside any lock of the store's), e.g. to cut the connection.
    let onOverflow: Mutex<(@Sendable () -> Void)?> = Mutex(nil)

    init(id: Int, scope: WatchScope, capacity: Int, after startIndex: UInt64) {
        self.id = id
        self.scope = scope
        self.capacity = capacity
        self.startIndex = startIndex
    }

    /// Sets what to do when the queue overflows.
    public func setOverflowHandler(_ handler: @escaping @Sendable () -> Void) {
        onOverflow.withLock { $0 = handler }
    }

    /// Sets (or, with `nil`, removes) the writer that sends queued changes straight to the socket while
    /// the stream is parked. Removing it waits for an immediate write in progress, so once this returns the
    /// stream owns its socket alone.
    public func setImmediateWriter(_ writer: (@Sendable (Deque<RegistryChange>) -> ImmediateOutcome)?) {
        state.withLock { $0.immediateWriter = writer }
    }

    /// Queues a change; never blocks and never wakes the stream itself.
    /// - Returns: whether it was queued (false: the queue overflowed and the watch is closed), and whether
    ///   the caller must schedule a `wake()` (the stream is parked and no wake-up is scheduled yet).
    func deliver(_ change: RegistryChange) -> (accepted: Bool, needsWake: Bool) {
        guard change.index > startIndex else { return (true, false) }
        return state.withLock { s -> (Bool, Bool) in
            guard s.closed == nil else { return (true, false) }
            let needsWake = s.waiter != nil && !s.wakeScheduled
            if needsWake { s.wakeScheduled = true }
            if s.queue.count >= capacity {
                s.closed = .overflow
                s.queue.removeAll()
                return (false, needsWake)
            }
            s.queue.append(change)
            return (true, needsWake)
        }
    }

    /// Delivers what was queued to a parked stream: with the immediate writer if there is one and it sends
    /// everything (the stream stays parked: no task switch), else by resuming the stream. Called off the
    /// writer's path (`RegistryStore.flushWatchWakeups`, then the fan-out thread).
    func wake() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.wakeScheduled = false
            guard let waiter = s.waiter else { return nil }
            if s.closed == nil, !s.queue.isEmpty, s.queue.count <= WatchSubscription.immediateBatch,
                let writer = s.immediateWriter
            {
                // The queue itself (copy-on-write): no allocation per watcher.
                switch writer(s.queue) {
                case .sent:
                    s.queue.removeAll(keepingCapacity: true)
                    s.lastActivity = .now
                    return nil
                case .partiallySent:
                    s.queue.removeAll(keepingCapacity: true)
                    s.lastActivity = .now
                    s.needsFlush = true
                case .notSent:
                    break
                }
            }
            s.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Most changes sent by one immediate write; more are left to the stream.
    static let immediateBatch = 64

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
            if s.needsFlush {
                s.needsFlush = false
                return .flush
            }
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
                    if !s.queue.isEmpty || s.closed != nil || s.poked || s.needsFlush || Task.isCancelled { return true }
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
        case .all, .matching: everything[subscription.id] = subscription
        case .services(let names): for name in names { byService[name, default: [:]][subscription.id] = subscription }
        }
        count += 1
    }

    mutating func remove(_ subscription: WatchSubscription) {
        switch subscription.scope {
        case .all, .matching:
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

    /// Delivers a change to every subscriber in scope; collects those that overflowed (to be
    /// removed) and those to wake.
    func deliver(_ change: RegistryChange, overflowed: inout [WatchSubscription], toWake: inout [WatchSubscription]) {
        func one(_ subscription: WatchSubscription) {
            let (accepted, needsWake) = subscription.deliver(change)
            if !accepted { overflowed.append(subscription) }
            if needsWake { toWake.append(subscription) }
        }
        for subscription in everything.values where subscription.scope.contains(change.instance.service) { one(subscription) }
        if let scoped = byService[change.instance.service] {
            for subscription in scoped.values { one(subscription) }
        }
    }

    var all: [WatchSubscription] {
        Array(everything.values) + byService.values.flatMap(\.values)
    }
}
