/// Exponential backoff with full jitter: the wait before retry `n` (1, 2, …) is uniformly random in
/// `[0, min(cap, base × 2^(n-1))]`.
///
/// Full jitter spreads clients that lost the registry at the same moment over the whole window, so a
/// registry restart does not bring them all back in the same second (AWS Architecture Blog, "Exponential
/// Backoff And Jitter", 2015).
public struct Backoff: Sendable {
    /// Upper bound of the first wait.
    public var base: Duration
    /// Largest upper bound of any wait.
    public var cap: Duration
    /// Returns a number in `[0, 1)`; injected so tests can fix the schedule.
    public var random: @Sendable () -> Double

    /// Base 0.5 s and cap 30 s by default.
    public init(
        base: Duration = .milliseconds(500), cap: Duration = .seconds(30),
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }
    ) {
        self.base = base
        self.cap = cap
        self.random = random
    }

    /// The upper bound of the wait before retry `attempt` (1 or more): `min(cap, base × 2^(attempt-1))`.
    public func ceiling(attempt: Int) -> Duration {
        let doublings = max(0, min(attempt - 1, 40))
        var bound = base
        for _ in 0..<doublings {
            bound *= 2
            if bound >= cap { return cap }
        }
        return min(bound, cap)
    }

    /// The wait before retry `attempt` (1 or more): a random fraction of `ceiling(attempt:)`.
    public func delay(attempt: Int) -> Duration {
        let fraction = min(max(random(), 0), 1)
        return ceiling(attempt: attempt) * fraction
    }
}
