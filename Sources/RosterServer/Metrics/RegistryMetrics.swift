import CoreMetrics
import RosterCore

/// The registry's metrics, moved by `RegistryStore`: registrations, expirations and
/// deregistrations as changes commit, heartbeats as leases renew, dropped watchers as queues
/// overflow; `roster_instances` and `roster_watchers` are set at each scrape (`refresh`).
public struct RegistryMetrics: Sendable {
    let services: ServiceLabels
    let registrations: CounterFamily
    let heartbeats: CounterFamily
    let expirations: CounterFamily
    let deregistrations: CounterFamily
    let droppedWatchers: Counter
    let instances: GaugeFamily
    let watchers: GaugeFamily

    /// - Parameters:
    ///   - factory: where handles are made; `NOOPMetricsHandler.instance` records nothing.
    ///   - maxServices: services given their own `service` label (`metrics.max_services`).
    public init(factory: any MetricsFactory, maxServices: Int) {
        services = ServiceLabels(limit: maxServices)
        registrations = CounterFamily(MetricCatalog.registrations, factory: factory)
        heartbeats = CounterFamily(MetricCatalog.heartbeats, factory: factory)
        expirations = CounterFamily(MetricCatalog.expirations, factory: factory)
        deregistrations = CounterFamily(MetricCatalog.deregistrations, factory: factory)
        droppedWatchers = Counter(label: MetricCatalog.droppedWatchers.name, factory: factory)
        instances = GaugeFamily(MetricCatalog.instances, factory: factory)
        watchers = GaugeFamily(MetricCatalog.watchers, factory: factory)
    }

    /// Metrics that record nothing (stores built outside a `RosterApplication`).
    public static var none: RegistryMetrics { RegistryMetrics(factory: NOOPMetricsHandler.instance, maxServices: 1) }

    func record(_ changes: [RegistryChange]) {
        for change in changes {
            let service = services.label(for: change.instance.service)
            switch change.kind {
            case .registered: registrations(service).increment()
            case .deregistered(.expired): expirations(service).increment()
            case .deregistered(.deregistered): deregistrations(service).increment()
            case .healthChanged: break
            }
        }
    }

    func heartbeat(service: String) {
        heartbeats(services.label(for: service)).increment()
    }

    /// Sets `roster_instances` from live counts per service and status, and `roster_watchers`.
    func refresh(instances counts: [(service: String, status: HealthStatus, count: Int)], watchers: Int) {
        var values: [[String]: Int] = [:]
        for entry in counts {
            let service = services.label(for: entry.service)
            // Every status of a labelled service is shown, zeros included, so rates and sums work.
            for status in HealthStatus.allCases { values[[service, status.rawValue], default: 0] += 0 }
            values[[service, entry.status.rawValue], default: 0] += entry.count
        }
        instances.replaceAll(with: values)
        self.watchers.replaceAll(with: [[]: watchers])
    }
}
