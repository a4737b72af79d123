import CoreMetrics
import Synchronization

/// Gives services their own `service` label value up to `limit`; later services share
/// `_other`. A service keeps its label for the life of the process, so a counter's series never
/// changes label and the number of series stays bounded by `limit + 1`.
final class ServiceLabels: Sendable {
    /// The label value shared by the services beyond the limit.
    static let other = "_other"
    let limit: Int
    private let named = Mutex<Set<String>>([])

    init(limit: Int) {
        self.limit = limit
    }

    /// `service` itself while fewer than `limit` services have a label, or once it has one; else `_other`.
    func label(for service: String) -> String {
        named.withLock { named in
            if named.contains(service) { return service }
            guard named.count < limit else { return Self.other }
            named.insert(service)
            return service
        }
    }
}

/// The swift-metrics counters of one metric, one per label values, each built once and reused.
final class CounterFamily: Sendable {
    let definition: MetricDefinition
    let factory: any MetricsFactory
    private let handles = Mutex<[[String]: Counter]>([:])

    init(_ definition: MetricDefinition, factory: any MetricsFactory) {
        self.definition = definition
        self.factory = factory
    }

    /// The counter for `values`, in the order of `definition.labels`.
    func callAsFunction(_ values: String...) -> Counter {
        handles.withLock { handles in
            if let counter = handles[values] { return counter }
            let counter = Counter(
                label: definition.name, dimensions: Array(zip(definition.labels, values)), factory: factory)
            handles[values] = counter
            return counter
        }
    }
}

/// The swift-metrics timers (Prometheus histograms) of one metric, one per label values.
final class TimerFamily: Sendable {
    let definition: MetricDefinition
    let factory: any MetricsFactory
    private let handles = Mutex<[[String]: Timer]>([:])

    init(_ definition: MetricDefinition, factory: any MetricsFactory) {
        self.definition = definition
        self.factory = factory
    }

    /// Records `duration` in the histogram for `values`.
    func record(_ duration: Duration, _ values: String...) {
        let timer = handles.withLock { handles in
            if let timer = handles[values] { return timer }
            let timer = Timer(label: definition.name, dimensions: Array(zip(definition.labels, values)), factory: factory)
            handles[values] = timer
            return timer
        }
        let (seconds, attoseconds) = duration.components
        timer.recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

/// The swift-metrics gauges of one metric, set all together at scrape time: series whose label
/// values are no longer present are removed.
final class GaugeFamily: Sendable {
    let definition: MetricDefinition
    let factory: any MetricsFactory
    private let handles = Mutex<[[String]: Gauge]>([:])

    init(_ definition: MetricDefinition, factory: any MetricsFactory) {
        self.definition = definition
        self.factory = factory
    }

    /// Sets every series to its value in `values` (keyed by label values) and removes the others.
    func replaceAll(with values: [[String]: Int]) {
        let removed = handles.withLock { handles -> [Gauge] in
            for (labels, value) in values {
                let gauge = handles[labels] ?? Gauge(
                    label: definition.name, dimensions: Array(zip(definition.labels, labels)), factory: factory)
                handles[labels] = gauge
                gauge.record(value)
            }
            let gone = handles.keys.filter { values[$0] == nil }
            return gone.compactMap { handles.removeValue(forKey: $0) }
        }
        for gauge in removed { gauge.destroy() }
    }
}
