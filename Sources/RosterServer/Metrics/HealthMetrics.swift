import CoreMetrics
import RosterCore

/// The prober's metrics, moved by `HealthChecker` as each probe finishes.
public struct HealthMetrics: Sendable {
    let probes: CounterFamily
    let durations: TimerFamily

    public init(factory: any MetricsFactory) {
        probes = CounterFamily(MetricCatalog.probes, factory: factory)
        durations = TimerFamily(MetricCatalog.probeDuration, factory: factory)
    }

    /// Metrics that record nothing.
    public static var none: HealthMetrics { HealthMetrics(factory: NOOPMetricsHandler.instance) }

    func record(_ result: ProbeResult) {
        let outcome = result.passed ? "pass" : "fail"
        probes(outcome, Self.reasonLabel(result.reason)).increment()
        durations.record(result.duration, outcome)
    }

    /// A bounded reason: `http_503` becomes `http_5xx`; the other reasons are a fixed set already.
    static func reasonLabel(_ reason: String) -> String {
        guard reason.hasPrefix("http_"), let digit = reason.dropFirst(5).first, reason.count == 8 else { return reason }
        return "http_\(digit)xx"
    }
}

/// The watch streams' metrics: events written, moved by `WatchRoutes` per event and watcher.
struct WatchMetrics: Sendable {
    let events: CounterFamily
    // Resolved once: the fan-out counts an event per watcher, so a lookup each time would add up.
    private let registered: Counter
    private let deregistered: Counter
    private let healthChanged: Counter

    init(factory: any MetricsFactory) {
        events = CounterFamily(MetricCatalog.watchEvents, factory: factory)
        registered = events("register")
        deregistered = events("deregister")
        healthChanged = events("health_change")
    }

    func sent(_ type: String, count: Int = 1) {
        events(type).increment(by: count)
    }

    /// Counts one event of a change of `kind`.
    func sent(_ kind: RegistryChange.Kind) {
        switch kind {
        case .registered: registered.increment()
        case .deregistered: deregistered.increment()
        case .healthChanged: healthChanged.increment()
        }
    }
}
