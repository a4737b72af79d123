import CoreMetrics
import RosterHTTP

/// The HTTP front's metrics: requests and their durations (moved by the router's observer),
/// requests refused before routing (moved by `HTTPServer`'s `onReject`), and open connections
/// (set at each scrape).
struct HTTPMetrics: Sendable {
    let requests: CounterFamily
    let durations: TimerFamily
    let rejected: CounterFamily
    let openConnections: GaugeFamily
    /// Moved by `AccessDenials` for every request access control refuses.
    let accessDenied: CounterFamily

    /// Methods that get their own `method` label; any other token is counted as `other`.
    static let knownMethods: Set<String> = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]
    /// The `route` label of a request no route matched (404, 405, malformed paths).
    static let unmatchedRoute = "_unmatched"

    init(factory: any MetricsFactory) {
        requests = CounterFamily(MetricCatalog.httpRequests, factory: factory)
        durations = TimerFamily(MetricCatalog.httpRequestDuration, factory: factory)
        rejected = CounterFamily(MetricCatalog.httpRejectedRequests, factory: factory)
        openConnections = GaugeFamily(MetricCatalog.httpOpenConnections, factory: factory)
        accessDenied = CounterFamily(MetricCatalog.accessDenied, factory: factory)
    }

    /// Counts one answered request under its route template, never its raw path.
    func record(_ request: HTTPRequest, _ response: HTTPResponse, _ duration: Duration) {
        let method = Self.knownMethods.contains(request.method) ? request.method : "other"
        let route = request.routeTemplate ?? Self.unmatchedRoute
        requests(method, route, String(response.status.code)).increment()
        durations.record(duration, method, route)
    }

    func reject(reason: String) {
        rejected(reason).increment()
    }
}
