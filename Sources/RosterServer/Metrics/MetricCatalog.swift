/// One metric Roster exports on `/metrics`: its Prometheus name, type, help text, labels and,
/// for histograms, bucket bounds. `MetricCatalog.all` lists every one; the README's table follows it.
public struct MetricDefinition: Sendable, Equatable {
    /// The Prometheus type.
    public enum Kind: String, Sendable, Equatable {
        case counter
        case gauge
        case histogram
    }

    /// The exported name; counters end in `_total`, durations in `_seconds`.
    public var name: String
    public var kind: Kind
    /// The `# HELP` text: what the metric counts and what moves it.
    public var help: String
    /// Label names; every one has a bounded set of values.
    public var labels: [String]
    /// Upper bounds of a histogram's buckets; empty for counters and gauges.
    public var buckets: [Duration]

    init(_ name: String, _ kind: Kind, _ help: String, labels: [String] = [], buckets: [Duration] = []) {
        self.name = name
        self.kind = kind
        self.help = help
        self.labels = labels
        self.buckets = buckets
    }
}

/// Every metric Roster exports. The swift-metrics handles that components build (see
/// `RosterMetricsFactory`) take their help text and buckets from here.
public enum MetricCatalog {
    /// 0.5 ms to 2.5 s: API requests are answered in well under a millisecond on loopback.
    static let requestBuckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .microseconds(2500), .milliseconds(5), .milliseconds(10),
        .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .milliseconds(2500),
    ]
    /// 1 ms to 10 s: a probe takes a network round trip and may run up to its timeout.
    static let probeBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500),
        .seconds(5), .seconds(10),
    ]

    public static let instances = MetricDefinition(
        "roster_instances", .gauge,
        "Live instances by service and health status (services beyond metrics.max_services are counted under service=\"_other\").",
        labels: ["service", "status"])
    public static let registrations = MetricDefinition(
        "roster_registrations_total", .counter, "Instances registered.", labels: ["service"])
    public static let heartbeats = MetricDefinition(
        "roster_heartbeats_total", .counter, "Heartbeats that renewed a live lease.", labels: ["service"])
    public static let expirations = MetricDefinition(
        "roster_lease_expirations_total", .counter, "Instances removed because their lease expired.", labels: ["service"])
    public static let deregistrations = MetricDefinition(
        "roster_deregistrations_total", .counter, "Instances deregistered at their owner's request.", labels: ["service"])
    public static let probes = MetricDefinition(
        "roster_probes_total", .counter,
        "Health probes finished, by outcome (pass or fail) and reason (ok, timeout, http_5xx, connection_refused, ...).",
        labels: ["outcome", "reason"])
    public static let probeDuration = MetricDefinition(
        "roster_probe_duration_seconds", .histogram, "Time health probes took, by outcome.",
        labels: ["outcome"], buckets: probeBuckets)
    public static let watchers = MetricDefinition(
        "roster_watchers", .gauge, "Watch (Server-Sent Events) streams connected now.")
    public static let watchEvents = MetricDefinition(
        "roster_watch_events_total", .counter,
        "Events written to watch streams, once per watcher, by type (snapshot, reset, register, deregister, health_change).",
        labels: ["type"])
    public static let droppedWatchers = MetricDefinition(
        "roster_watchers_dropped_total", .counter,
        "Watchers disconnected because they fell more than watch.queue_size changes behind.")
    public static let httpRequests = MetricDefinition(
        "roster_http_requests_total", .counter,
        "HTTP requests answered by a route, by method, route template (_unmatched for none) and status code.",
        labels: ["method", "route", "status"])
    public static let httpRequestDuration = MetricDefinition(
        "roster_http_request_duration_seconds", .histogram,
        "Time from a request's routing to its response head, by method and route template.",
        labels: ["method", "route"], buckets: requestBuckets)
    public static let httpOpenConnections = MetricDefinition(
        "roster_http_open_connections", .gauge, "HTTP connections open now, watch streams included.")
    public static let httpRejectedRequests = MetricDefinition(
        "roster_http_rejected_requests_total", .counter,
        "Requests and connections the HTTP server refused before routing, by reason (bad_request, request_timeout, body_too_large, too_many_connections, ...).",
        labels: ["reason"])
    public static let accessDenied = MetricDefinition(
        "roster_access_denied_total", .counter,
        "Requests refused by access control, by reason (missing_token, malformed_token, unknown_token, forbidden).",
        labels: ["reason"])

    /// Every metric, in the README's order.
    public static let all: [MetricDefinition] = [
        instances, registrations, heartbeats, expirations, deregistrations,
        probes, probeDuration,
        watchers, watchEvents, droppedWatchers,
        httpRequests, httpRequestDuration, httpOpenConnections, httpRejectedRequests,
        accessDenied,
    ]

    static let byName: [String: MetricDefinition] = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })
}
