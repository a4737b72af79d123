#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import RosterServer
import Synchronization

/// A clock that moves only when a test calls `advance(by:)`; sleepers wake when their
/// deadline is reached. Wall time moves by the same amounts.
public final class ManualClock: RosterClock {
    private struct Sleeper {
        var id: Int
        var deadline: ContinuousClock.Instant
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now: ContinuousClock.Instant
        var wallNow: Date
        var sleepers: [Sleeper] = []
        var nextID = 0
    }

    private let state: Mutex<State>

    public init(wallNow: Date = Date(timeIntervalSince1970: 1_790_000_000)) {
        state = Mutex(State(now: ContinuousClock.now, wallNow: wallNow))
    }

    public var now: ContinuousClock.Instant { state.withLock { $0.now } }
    public var wallNow: Date { state.withLock { $0.wallNow } }

    /// Number of tasks sleeping on this clock.
    public var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    /// Moves time forward and wakes every sleeper whose deadline has been reached.
    public func advance(by duration: Duration) {
        let woken = state.withLock { s -> [Sleeper] in
            s.now = s.now + duration
            let (seconds, attoseconds) = duration.components
            s.wallNow = s.wallNow.addingTimeInterval(Double(seconds) + Double(attoseconds) / 1e18)
            let now = s.now
            let due = s.sleepers.filter { $0.deadline <= now }
            s.sleepers.removeAll { $0.deadline <= now }
            return due
        }
        for sleeper in woken { sleeper.continuation.resume() }
    }

    public func sleep(until deadline: ContinuousClock.Instant) async throws {
        let id = state.withLock { s in
            s.nextID += 1
            return s.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resumeNow: Bool? = state.withLock { s in
                    if Task.isCancelled { return false }
                    if deadline <= s.now { return true }
                    s.sleepers.append(Sleeper(id: id, deadline: deadline, continuation: continuation))
                    return nil
                }
                switch resumeNow {
                case true?: continuation.resume()
                case false?: continuation.resume(throwing: CancellationError())
                case nil: break
                }
            }
        } onCancel: {
            let cancelled = state.withLock { s -> Sleeper? in
                guard let index = s.sleepers.firstIndex(where: { $0.id == id }) else { return nil }
                return s.sleepers.remove(at: index)
            }
            cancelled?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Waits (yielding, bounded) until at least `count` tasks sleep on the clock.
    public func waitForSleepers(_ count: Int = 1) async {
        for _ in 0..<10_000 where sleeperCount < count {
            try? await Task.sleep(for: .milliseconds(1))
        }
    }
}

extension ManualClock: Clock {
    public typealias Instant = ContinuousClock.Instant

    public var minimumResolution: Duration { .zero }

    /// `Clock` conformance, so code that sleeps on an injected `any Clock<Duration>` (the client's
    /// heartbeats and backoff) can be driven by hand; `tolerance` is ignored.
    public func sleep(until deadline: ContinuousClock.Instant, tolerance: Duration?) async throws {
        try await sleep(until: deadline)
    }
}
