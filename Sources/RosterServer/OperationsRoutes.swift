import Prometheus
import RosterAPI
import RosterHTTP

/// The endpoints for operators and orchestrators: liveness, readiness and Prometheus metrics.
struct OperationsRoutes: Sendable {
    let store: RegistryStore
    let readiness: Readiness
    let registry: PrometheusCollectorRegistry
    /// Sets the gauges read at scrape time (instances, watchers, open connections).
    let refreshGauges: @Sendable () -> Void

    /// The `Content-Type` of the Prometheus text exposition format, version 0.0.4.
    static let metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

    /// What each route needs from the request's `AccessGrant` when the path is not open
    /// (`acl_open_paths`); `/metrics`, not listed, needs an admin token.
    static let access: [String: RouteAccess] = [
        "GET /healthz": .anyToken,
        "GET /readyz": .anyToken,
    ]

    func install(in router: inout Router) {
        router.add("GET", "/healthz") { _ in
            json(.ok, .object(JSONObject([("status", .string("ok"))])))
        }
        router.add("GET", "/readyz") { _ in
            let problems = readiness.problems
            guard problems.isEmpty else {
                var response = APIProblem(
                    status: 503, title: "Service Unavailable", code: "not_ready",
                    detail: "not ready: " + problems.joined(separator: ", ")
                ).response(epoch: store.epoch)
                response.headers.add("Retry-After", "1")
                return response
            }
            return json(.ok, .object(JSONObject([("status", .string("ready"))])))
        }
        router.add("GET", "/metrics") { _ in
            refreshGauges()
            return HTTPResponse(
                status: .ok, headers: ["Content-Type": Self.metricsContentType, "Cache-Control": "no-store"],
                body: .bytes(registry.emitToBuffer()))
        }
    }

    private func json(_ status: HTTPStatus, _ value: JSONValue) -> HTTPResponse {
        var response = HTTPResponse(
            status: status, headers: ["Content-Type": "application/json", "Cache-Control": "no-store"],
            body: .bytes(JSONWriter.bytes(value)))
        response.headers.add(RosterHeader.epoch, store.epoch)
        return response
    }
}
