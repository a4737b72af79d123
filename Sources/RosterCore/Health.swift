#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// An active health check: what to probe and how to judge it.
public struct HealthCheck: Sendable, Equatable {
    /// The `http` or `https` URL to GET.
    public var url: String
    /// Time between probes (each probe is jittered by ±10 %).
    public var interval: Duration
    /// Time a probe may take; a slower probe fails with reason `timeout`.
    public var timeout: Duration
    /// N: consecutive failures that make an instance `unhealthy`.
    public var unhealthyThreshold: Int
    /// M: consecutive passes that make an `unhealthy` instance `healthy` again.
    public var healthyThreshold: Int

    public init(url: String, interval: Duration, timeout: Duration, unhealthyThreshold: Int, healthyThreshold: Int) {
        self.url = url
        self.interval = interval
        self.timeout = timeout
        self.unhealthyThreshold = unhealthyThreshold
        self.healthyThreshold = healthyThreshold
    }
}

/// The health status of an instance: healthy → suspect → unhealthy → recovering → healthy.
public enum HealthStatus: String, Sendable, Equatable, CaseIterable {
    case healthy
    /// 1 … N-1 consecutive failures: still served.
    case suspect
    /// N consecutive failures: hidden from lookups.
    case unhealthy
    /// 1 … M-1 consecutive passes after being unhealthy: still hidden.
    case recovering

    /// Whether default lookups return an instance in this status.
    public var isServing: Bool { self == .healthy || self == .suspect }
}

/// The result of one probe.
public struct ProbeResult: Sendable, Equatable {
    /// Whether the probe passed (a 2xx answer in time).
    public var passed: Bool
    /// `ok` for a pass; otherwise why it failed: `http_500`, `redirect`, `timeout`, `connection_refused`, …
    public var reason: String
    /// The HTTP status, if the target answered.
    public var httpStatus: Int?
    public var duration: Duration
    /// Wall-clock time the probe finished, for display.
    public var at: Date

    public init(passed: Bool, reason: String, httpStatus: Int?, duration: Duration, at: Date) {
        self.passed = passed
        self.reason = reason
        self.httpStatus = httpStatus
        self.duration = duration
        self.at = at
    }
}

/// An instance's health: its status, the streaks that move it, and the last probe.
public struct HealthState: Sendable, Equatable {
    public private(set) var status: HealthStatus = .healthy
    public private(set) var consecutiveFailures = 0
    public private(set) var consecutiveSuccesses = 0
    public private(set) var lastResult: ProbeResult?

    public init() {}

    /// Applies a probe result with thresholds N (`unhealthy`) and M (`healthy`), both at least 1.
    ///
    /// A pass resets the failure streak and a failure resets the pass streak. Transitions:
    /// healthy –fail→ suspect (unhealthy if N = 1); suspect –pass→ healthy, –N-th failure→ unhealthy;
    /// unhealthy –pass→ recovering (healthy if M = 1); recovering –M-th pass→ healthy, –fail→ unhealthy.
    /// - Returns: the previous status if the status changed, else nil.
    public mutating func record(_ result: ProbeResult, unhealthyThreshold: Int, healthyThreshold: Int) -> HealthStatus? {
        let before = status
        lastResult = result
        if result.passed {
            consecutiveSuccesses += 1
            consecutiveFailures = 0
            switch status {
            case .healthy, .suspect:
                status = .healthy
            case .unhealthy, .recovering:
                status = consecutiveSuccesses >= healthyThreshold ? .healthy : .recovering
            }
        } else {
            consecutiveFailures += 1
            consecutiveSuccesses = 0
            switch status {
            case .healthy, .suspect:
                status = consecutiveFailures >= unhealthyThreshold ? .unhealthy : .suspect
            case .unhealthy, .recovering:
                status = .unhealthy
            }
        }
        return status == before ? nil : before
    }
}
