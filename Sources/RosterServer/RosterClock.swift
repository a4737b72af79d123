#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The registry's source of time: a monotonic instant for leases and a wall-clock date for
/// display fields. Injected so tests can drive time by hand.
public protocol RosterClock: Sendable {
    /// Monotonic now; wall-clock jumps do not move it.
    var now: ContinuousClock.Instant { get }
    /// Wall-clock now, only for display fields such as `registered_at`.
    var wallNow: Date { get }
    /// Suspends until `deadline` on this clock.
    /// - Throws: `CancellationError` if the task is cancelled first.
    func sleep(until deadline: ContinuousClock.Instant) async throws
}

/// The real clocks: `ContinuousClock` and `Date()`.
public struct SystemClock: RosterClock {
    public init() {}
    public var now: ContinuousClock.Instant { .now }
    public var wallNow: Date { Date() }
    public func sleep(until deadline: ContinuousClock.Instant) async throws {
        try await ContinuousClock().sleep(until: deadline)
    }
}
