#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import RosterAPI
import RosterCore
import RosterHTTP

/// The registry's HTTP routes: thin handlers that validate, call the store, and render.
///
/// Every response carries `Roster-Epoch`; every 2xx carries `Roster-Index`.
struct RegistryRoutes: Sendable {
    let store: RegistryStore
    let defaultTTL: Duration
    let health: HealthSettings
    let allowForeignHealthURLs: Bool
    /// Answers and counts refusals of requests the grant does not allow.
    let denials: AccessDenials

    /// What each route needs from the request's `AccessGrant`, by `"METHOD template"`.
    static let access: [String: RouteAccess] = [
        "POST /services": .writeSomeService,
        "GET /services": .anyToken,
        "GET /services/{name}": .readService,
        "GET /services/{name}/{id}": .readService,
        "DELETE /services/{name}/{id}": .writeService,
        "PUT /services/{name}/{id}/heartbeat": .writeService,
        "GET /services/{name}/{id}/health": .readService,
    ]

    func install(in router: inout Router) {
        router.add("POST", "/services") { await register($0) }
        router.add("GET", "/services") { _ in listServices() }
        router.add("GET", "/services/{name}") { request in checkingName(request, listInstances) }
        router.add("GET", "/services/{name}/{id}") { request in checkingName(request, getInstance) }
        router.add("DELETE", "/services/{name}/{id}") { request in checkingName(request, deregister) }
        router.add("PUT", "/services/{name}/{id}/heartbeat") { request in checkingName(request, heartbeat) }
        router.add("GET", "/services/{name}/{id}/health") { request in checkingName(request, health) }
    }

    /// Answers 400 `invalid_path` when the path's `{name}` is not a valid service name (no such
    /// service can exist, so the request is malformed rather than unknown); else runs `handler`.
    func checkingName(_ request: HTTPRequest, _ handler: (HTTPRequest) -> HTTPResponse) -> HTTPResponse {
        if let problem = Self.invalidName(request) { return self.problem(problem) }
        return handler(request)
    }

    static func invalidName(_ request: HTTPRequest) -> APIProblem? {
        guard let name = request.pathParameters["name"], !RegistrationRequest.isValidServiceName(name) else { return nil }
        return .badRequest(
            "invalid_path",
            "the service name in the path must be 1-63 letters, digits, '.', '_' or '-', starting and ending with a letter or digit",
            field: "name")
    }

    // MARK: Handlers

    private func register(_ request: HTTPRequest) async -> HTTPResponse {
        let body: RegistrationRequest
        do {
            body = try RegistrationRequest(body: request.body)
        } catch {
            return problem(error)
        }
        guard AccessGrant.current.canWrite(body.name) else {
            return denials.forbidden(request, detail: "may not write service \"\(body.name)\"")
        }
        let check: HealthCheck?
        do {
            check = try body.healthCheck.map { request throws(APIProblem) in try resolve(request, host: body.host) }
        } catch {
            return problem(error)
        }
        let registration = Registration(
            service: body.name, host: body.host, port: body.port, metadata: body.metadata, ttl: body.ttl ?? defaultTTL,
            healthCheck: check)
        do {
            let (instance, index) = try store.register(registration)
            var response = json(.created, instance.json, index: index)
            response.headers.add("Location", "/services/\(instance.service)/\(instance.id.uuidString.lowercased())")
            return response
        } catch {
            return problem(Self.problem(for: error))
        }
    }

    /// Only the services the request's grant may read.
    private func listServices() -> HTTPResponse {
        let (counts, index) = store.serviceCounts()
        let grant = AccessGrant.current
        var object = JSONObject()
        for entry in counts where grant.canRead(entry.service) {
            object[entry.service] = .object(JSONObject([
                ("instances", .number(JSONNumber(entry.instances))),
                ("healthy", .number(JSONNumber(entry.healthy))),
            ]))
        }
        return json(.ok, .object(object), index: index)
    }

    private func listInstances(_ request: HTTPRequest) -> HTTPResponse {
        let name = request.pathParameters["name"]!
        var includeUnhealthy = false
        for item in request.queryItems where item.name == "include_unhealthy" {
            switch item.value {
            case "true", "1", "": includeUnhealthy = true
            case "false", "0": includeUnhealthy = false
            default: return problem(.badRequest("invalid_query", "include_unhealthy must be true or false", field: "include_unhealthy"))
            }
        }
        let (body, index) = store.lookupBody(of: name, includeUnhealthy: includeUnhealthy) { instances in
            JSONWriter.bytes(.array(instances.map(\.json)))
        }
        var response = HTTPResponse(status: .ok, headers: ["Content-Type": "application/json"], body: .bytes(body))
        decorate(&response, index: index)
        return response
    }

    private func health(_ request: HTTPRequest) -> HTTPResponse {
        guard let (name, id) = Self.instanceAddress(request) else { return problem(Self.problem(for: .instanceNotFound)) }
        let (instance, index) = store.instance(id, service: name)
        guard let instance else { return problem(Self.problem(for: .instanceNotFound)) }
        return json(.ok, instance.healthJSON, index: index)
    }

    /// Applies the server's defaults to a requested check and enforces the rules that need them.
    /// An omitted timeout is the default timeout, or half the interval if the default is not below it.
    func resolve(_ request: HealthCheckRequest, host: String) throws(APIProblem) -> HealthCheck {
        guard allowForeignHealthURLs || request.url.hostMatches(host) else {
            throw .badRequest(
                "invalid_field", "health_check.url must point at the instance's host (\(host))", field: "health_check.url")
        }
        let interval = request.interval ?? health.interval
        let timeout = request.timeout ?? (health.timeout < interval ? health.timeout : interval / 2)
        guard timeout < interval else {
            throw .badRequest("invalid_field", "health_check.timeout must be less than the interval (\(WireTime.seconds(interval)) s)", field: "health_check.timeout")
        }
        return HealthCheck(
            url: request.url.canonical, interval: interval, timeout: timeout,
            unhealthyThreshold: request.unhealthyThreshold ?? health.unhealthyThreshold,
            healthyThreshold: request.healthyThreshold ?? health.healthyThreshold)
    }

    private func getInstance(_ request: HTTPRequest) -> HTTPResponse {
        guard let (name, id) = Self.instanceAddress(request) else { return problem(Self.problem(for: .instanceNotFound)) }
        let (instance, index) = store.instance(id, service: name)
        guard let instance else { return problem(Self.problem(for: .instanceNotFound)) }
        return json(.ok, instance.json, index: index)
    }

    private func deregister(_ request: HTTPRequest) -> HTTPResponse {
        guard let (name, id) = Self.instanceAddress(request) else { return problem(Self.problem(for: .instanceNotFound)) }
        do {
            let index = try store.deregister(id, service: name)
            var response = HTTPResponse(status: .noContent)
            decorate(&response, index: index)
            return response
        } catch {
            return problem(Self.problem(for: error))
        }
    }

    private func heartbeat(_ request: HTTPRequest) -> HTTPResponse {
        guard request.body.isEmpty else {
            return problem(.badRequest("bad_request", "a heartbeat takes no request body"))
        }
        guard let (name, id) = Self.instanceAddress(request) else { return problem(Self.problem(for: .instanceNotFound)) }
        do {
            let (instance, index) = try store.renew(id, service: name)
            let body = JSONValue.object(JSONObject([
                ("id", .string(instance.id.uuidString.lowercased())),
                ("ttl", .number(WireTime.seconds(instance.ttl))),
                ("expires_in", .number(WireTime.seconds(instance.ttl))),
            ]))
            return json(.ok, body, index: index)
        } catch {
            return problem(Self.problem(for: error))
        }
    }

    // MARK: Rendering

    /// The service name and instance id of `/services/{name}/{id}`; nil when the id is not a UUID.
    static func instanceAddress(_ request: HTTPRequest) -> (String, UUID)? {
        guard let name = request.pathParameters["name"], let raw = request.pathParameters["id"],
              isCanonicalUUID(raw), let id = UUID(uuidString: raw)
        else { return nil }
        return (name, id)
    }

    /// Exactly 8-4-4-4-12 hex digits (any case), nothing more: Foundation's parser stops at NUL.
    static func isCanonicalUUID(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 36 else { return false }
        for (i, byte) in bytes.enumerated() {
            if i == 8 || i == 13 || i == 18 || i == 23 {
                guard byte == UInt8(ascii: "-") else { return false }
            } else {
                guard (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x66) else { return false }
            }
        }
        return true
    }

    /// Maps a registry error to its API problem. The one place where registry errors meet HTTP.
    static func problem(for error: RegistryError) -> APIProblem {
        switch error {
        case .instanceExists(let id):
            APIProblem(
                status: 409, title: "Conflict", code: error.code,
                detail: "a live instance of this service is already registered at this host and port",
                extra: [("instance_id", .string(id.uuidString.lowercased()))])
        case .instanceNotFound:
            APIProblem(
                status: 404, title: "Not Found", code: error.code,
                detail: "no live instance with this id in this service")
        }
    }

    func problem(_ problem: APIProblem) -> HTTPResponse {
        problem.response(epoch: store.epoch)
    }

    func json(_ status: HTTPStatus, _ value: JSONValue, index: UInt64) -> HTTPResponse {
        var response = HTTPResponse(status: status, headers: ["Content-Type": "application/json"], body: .bytes(JSONWriter.bytes(value)))
        decorate(&response, index: index)
        return response
    }

    func decorate(_ response: inout HTTPResponse, index: UInt64) {
        response.headers.add(RosterHeader.index, String(index))
        response.headers.add(RosterHeader.epoch, store.epoch)
    }
}

extension APIProblem {
    /// The problem as an `application/problem+json` response carrying `Roster-Epoch`.
    func response(epoch: String) -> HTTPResponse {
        var response = HTTPResponse(
            status: HTTPStatus(status, title),
            headers: ["Content-Type": "application/problem+json"],
            body: .bytes(JSONWriter.bytes(json)))
        response.headers.add(RosterHeader.epoch, epoch)
        return response
    }
}
