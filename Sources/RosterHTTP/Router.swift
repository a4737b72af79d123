/// Routes requests by method and path template (`/services/{name}/{id}`).
///
/// Path segments are matched on their raw bytes for literals and percent-decoded exactly once
/// for `{parameters}`. When several templates match, the most specific wins: a literal segment
/// beats a parameter at the first position where they differ (`/services/{name}/watch` beats
/// `/services/{name}/{id}`), whatever the order routes were added in. HEAD is served by the GET route with the body omitted. An unknown path
/// is 404 `route_not_found`; a known path with another method is 405 with `Allow`.
public struct Router: HTTPHandler {
    public typealias Handler = @Sendable (HTTPRequest) async -> HTTPResponse

    struct Route: Sendable {
        var method: String
        var template: String
        var segments: [Segment]
        var handler: Handler
    }

    enum Segment: Sendable, Equatable {
        case literal(String)
        case parameter(String)
    }

    private var routes: [Route] = []
    /// Runs around every matched route's handler (outermost first).
    private var middleware: [@Sendable (HTTPRequest, Handler) async -> HTTPResponse] = []

    /// Returns a router whose matched routes run through `body`, which calls `next` to continue.
    public func wrapping(_ body: @escaping @Sendable (HTTPRequest, Handler) async -> HTTPResponse) -> Router {
        var copy = self
        copy.middleware.append(body)
        return copy
    }
    /// Told about every request the router answered, matched or not (outermost first).
    private var observers: [@Sendable (HTTPRequest, HTTPResponse, Duration) -> Void] = []

    /// Returns a router that calls `observer` after answering each request, including its own
    /// 404, 405 and 400 answers, e.g. for metrics and access logs.
    ///
    /// The request has `routeTemplate` set when a route matched the path (for a 405, the template
    /// of the path whatever the method). The duration runs from routing
    /// to the handler's return, so for a streamed body it is the time to the response head.
    public func observing(_ observer: @escaping @Sendable (_ request: HTTPRequest, _ response: HTTPResponse, _ duration: Duration) -> Void) -> Router {
        var copy = self
        copy.observers.append(observer)
        return copy
    }

    /// Called on every response the router produces itself (404, 405, 400), e.g. to add headers.
    private let decorate: @Sendable (inout HTTPResponse) -> Void

    public init(decorate: @escaping @Sendable (inout HTTPResponse) -> Void = { _ in }) {
        self.decorate = decorate
    }

    /// Adds a route. `template` is a path such as `/services/{name}`.
    public mutating func add(_ method: String, _ template: String, _ handler: @escaping Handler) {
        let segments = template.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map { part -> Segment in
            if part.hasPrefix("{") && part.hasSuffix("}") { return .parameter(String(part.dropFirst().dropLast())) }
            return .literal(String(part))
        }
        routes.append(Route(method: method, template: template, segments: segments, handler: handler))
        // Most specific first: compare segment by segment, a literal before a parameter.
        routes.sort { a, b in
            for (x, y) in zip(a.segments, b.segments) {
                switch (x, y) {
                case (.literal, .parameter): return true
                case (.parameter, .literal): return false
                default: continue
                }
            }
            return false
        }
    }

    public func respond(to request: HTTPRequest) async -> HTTPResponse {
        guard !observers.isEmpty else { return await route(request).response }
        let start = ContinuousClock.now
        let (routed, response) = await route(request)
        let duration = ContinuousClock.now - start
        for observer in observers { observer(routed, response, duration) }
        return response
    }

    /// Answers a request; returns it with `pathParameters` and `routeTemplate` set if a route matched.
    private func route(_ request: HTTPRequest) async -> (request: HTTPRequest, response: HTTPResponse) {
        guard request.path.hasPrefix("/") else {
            return (request, problem(HTTPProblem(.badRequest, code: "invalid_path", "the request target must be a path starting with /", closesConnection: false)))
        }
        let raw = request.path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        var allowed: [String] = []
        var ownerTemplate: [Segment]?
        var ownerTemplateText: String?
        let method = request.method == "HEAD" ? "GET" : request.method
        for route in routes where route.segments.count == raw.count {
            var parameters: [String: String] = [:]
            var matched = true
            for (segment, part) in zip(route.segments, raw) {
                switch segment {
                case .literal(let literal):
                    if literal != part { matched = false }
                case .parameter(let name):
                    guard let decoded = PercentDecoding.decode(part) else {
                        return (request, problem(HTTPProblem(
                            .badRequest, code: "invalid_path", "malformed percent-encoding in the path", closesConnection: false)))
                    }
                    parameters[name] = decoded
                }
                if !matched { break }
            }
            guard matched else { continue }
            // A more specific template already matched with another method: it owns this path.
            if let owner = ownerTemplate, owner != route.segments { continue }
            ownerTemplate = route.segments
            ownerTemplateText = route.template
            if route.method == method {
                var routed = request
                routed.pathParameters = parameters
                routed.routeTemplate = route.template
                var handler = route.handler
                for layer in middleware.reversed() {
                    let inner = handler
                    handler = { await layer($0, inner) }
                }
                return (routed, await handler(routed))
            }
            allowed.append(route.method)
        }
        if allowed.isEmpty {
            return (request, problem(HTTPProblem(.notFound, code: "route_not_found", "no route for \(request.path)", closesConnection: false)))
        }
        if allowed.contains("GET") { allowed.append("HEAD") }
        var response = problem(HTTPProblem(
            .methodNotAllowed, code: "method_not_allowed",
            "\(request.method) is not allowed here; allowed: \(allowed.joined(separator: ", "))", closesConnection: false))
        response.headers.add("Allow", allowed.joined(separator: ", "))
        // The path is known, so a 405 is reported under its template.
        var routed = request
        routed.routeTemplate = ownerTemplateText
        return (routed, response)
    }

    private func problem(_ problem: HTTPProblem) -> HTTPResponse {
        var response = problem.response
        decorate(&response)
        return response
    }
}
