import Logging
import RosterAPI
import RosterHTTP
import Synchronization

/// Why the access gate refused a request; a stable label for logs and metrics.
public enum AccessDenial: String, Sendable, CaseIterable {
    /// No `Authorization` header (401).
    case missingToken = "missing_token"
    /// An `Authorization` header that is not `Bearer <token>` (401).
    case malformedToken = "malformed_token"
    /// A well-formed token that is not in the ACL (401).
    case unknownToken = "unknown_token"
    /// A known token without the right for this request (403).
    case forbidden = "forbidden"
}

/// What a route needs from the request's grant, checked before its handler runs.
public enum RouteAccess: Sendable, Equatable {
    /// Read on the service named by the path's `{name}`.
    case readService
    /// Write on the service named by the path's `{name}`.
    case writeService
    /// Write on some service; the handler checks the one named in the body.
    case writeSomeService
    /// Any valid token; the handler shows only what the grant may read.
    case anyToken
    /// An admin token (routes that concern no one service, and any route not listed).
    case admin
}

/// Access control in front of the router: authenticates every request by its bearer token
/// (RFC 6750 §2.1) against the ACL, and runs the router with the token's `AccessGrant` as
/// `AccessGrant.current`; `middleware` then authorizes each matched route by its `RouteAccess`.
///
/// With no ACL everything is allowed. Paths in `openPaths` (exact paths, e.g. `/healthz`) need
/// no token and run with no grant. Refusals are problem+json: 401 with `WWW-Authenticate: Bearer`
/// (`error="invalid_token"` when a token was given), 403 for a token without the right. Every
/// refusal is logged without the token and counted by reason (`denials`, `onDenial`).
public struct AccessGate: HTTPHandler {
    public let acl: AccessControlList?
    public let openPaths: Set<String>
    let inner: any HTTPHandler
    let denials: AccessDenials
    /// Told about every 401 the gate answers itself (the router never sees those requests).
    let onRefusal: @Sendable (HTTPRequest, HTTPResponse) -> Void

    public init(
        acl: AccessControlList?, openPaths: Set<String>, denials: AccessDenials, inner: any HTTPHandler,
        onRefusal: @escaping @Sendable (HTTPRequest, HTTPResponse) -> Void = { _, _ in }
    ) {
        self.acl = acl
        self.openPaths = openPaths
        self.inner = inner
        self.denials = denials
        self.onRefusal = onRefusal
    }

    public func respond(to request: HTTPRequest) async -> HTTPResponse {
        guard let acl else {
            return await AccessGrant.$current.withValue(.unrestricted) { await inner.respond(to: request) }
        }
        if openPaths.contains(request.path) {
            return await AccessGrant.$current.withValue(.none) { await inner.respond(to: request) }
        }
        let refusal: HTTPResponse
        switch Self.bearerToken(request.headers.values("authorization")) {
        case .missing:
            refusal = denials.deny(.missingToken, request, detail: "this registry requires an Authorization: Bearer token")
        case .malformed(let why):
            refusal = denials.deny(.malformedToken, request, detail: why)
        case .token(let token):
            guard let entry = acl.token(withDigest: AccessToken.sha256(token)) else {
                refusal = denials.deny(.unknownToken, request, detail: "the bearer token is not valid")
                break
            }
            return await AccessGrant.$current.withValue(entry.grant) { await inner.respond(to: request) }
        }
        onRefusal(request, refusal)
        return refusal
    }

    enum Presented: Equatable {
        case missing
        case malformed(String)
        case token(String)
    }

    /// The token of `Authorization: Bearer <token>`: the scheme in any case, one space, then
    /// `b64token` = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" (RFC 6750 §2.1).
    static func bearerToken(_ values: [String]) -> Presented {
        guard let value = values.first else { return .missing }
        guard values.count == 1 else { return .malformed("more than one Authorization header") }
        let bytes = Array(value.utf8)
        guard bytes.count > 7, String(decoding: bytes[0..<6], as: UTF8.self).lowercased() == "bearer", bytes[6] == 0x20 else {
            return .malformed("the Authorization header must be `Bearer <token>`")
        }
        let token = bytes[7...]
        var sawPadding = false
        for byte in token {
            let isTokenChar = (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7A)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_")
                || byte == UInt8(ascii: "~") || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "/")
            if byte == UInt8(ascii: "=") {
                sawPadding = true
            } else if !isTokenChar || sawPadding {
                return .malformed("the bearer token has characters outside RFC 6750 b64token syntax")
            }
        }
        guard token.first != UInt8(ascii: "=") else {
            return .malformed("the bearer token has characters outside RFC 6750 b64token syntax")
        }
        return .token(String(decoding: token, as: UTF8.self))
    }

    /// Router middleware: refuses a matched route whose `RouteAccess` the current grant lacks.
    /// `access` maps `"METHOD template"` (e.g. `"GET /services/{name}"`) to what it needs; a route
    /// not listed needs an admin token.
    public static func middleware(
        _ access: [String: RouteAccess], openPaths: Set<String>, denials: AccessDenials
    ) -> @Sendable (HTTPRequest, Router.Handler) async -> HTTPResponse {
        { request, next in
            let grant = AccessGrant.current
            if grant.admin { return await next(request) }
            let method = request.method == "HEAD" ? "GET" : request.method
            let template = request.routeTemplate ?? request.path
            if openPaths.contains(request.path) { return await next(request) }
            let needed = access["\(method) \(template)"] ?? .admin
            let name = request.pathParameters["name"] ?? ""
            switch needed {
            case .readService where !grant.canRead(name):
                return denials.forbidden(request, detail: "may not read service \"\(Self.clipped(name))\"")
            case .writeService where !grant.canWrite(name):
                return denials.forbidden(request, detail: "may not write service \"\(Self.clipped(name))\"")
            case .writeSomeService where grant.write.isEmpty:
                return denials.forbidden(request, detail: "may not register services")
            case .admin:
                return denials.forbidden(request, detail: "needs an admin token for \(method) \(template)")
            default:
                return await next(request)
            }
        }
    }

    /// A service name from a path, clipped and made printable for a message.
    static func clipped(_ name: String) -> String {
        AccessControlList.printable(name)
    }
}

/// Refusals of the access gate: logged without the token, counted by reason, and answered
/// as problem+json.
public final class AccessDenials: Sendable {
    let epoch: String
    let logger: Logger
    private let tally = Mutex<[AccessDenial: Int]>([:])
    private let observers = Mutex<[@Sendable (AccessDenial) -> Void]>([])

    public init(epoch: String, logger: Logger) {
        self.epoch = epoch
        self.logger = logger
    }

    /// Refusals so far, by reason.
    public var counts: [AccessDenial: Int] { tally.withLock { $0 } }

    /// Calls `observer` on every refusal (e.g. to move a metrics counter `roster.acl.denied{reason}`).
    public func onDenial(_ observer: @escaping @Sendable (AccessDenial) -> Void) {
        observers.withLock { $0.append(observer) }
    }

    /// A 403 for the current grant, logged and counted; `detail` says what it may not do.
    public func forbidden(_ request: HTTPRequest, detail: String) -> HTTPResponse {
        let name = AccessGrant.current.tokenName ?? "-"
        return deny(.forbidden, request, detail: "token \"\(name)\" \(detail)", tokenName: name)
    }

    func deny(_ reason: AccessDenial, _ request: HTTPRequest, detail: String, tokenName: String? = nil) -> HTTPResponse {
        tally.withLock { $0[reason, default: 0] += 1 }
        for observer in observers.withLock({ $0 }) { observer(reason) }
        var metadata: Logger.Metadata = ["acl.reason": "\(reason.rawValue)", "http.method": "\(request.method)"]
        if let template = request.routeTemplate { metadata["http.route"] = "\(template)" }
        if let tokenName { metadata["acl.token"] = "\(tokenName)" }
        logger.notice("access denied", metadata: metadata)

        let problem: APIProblem
        var challenge: String?
        switch reason {
        case .missingToken:
            problem = APIProblem(status: 401, title: "Unauthorized", code: "missing_token", detail: detail)
            challenge = #"Bearer realm="roster""#
        case .malformedToken, .unknownToken:
            problem = APIProblem(status: 401, title: "Unauthorized", code: "invalid_token", detail: detail)
            challenge = #"Bearer realm="roster", error="invalid_token""#
        case .forbidden:
            problem = APIProblem(status: 403, title: "Forbidden", code: "forbidden", detail: detail)
        }
        var response = problem.response(epoch: epoch)
        if let challenge { response.headers.add("WWW-Authenticate", challenge) }
        return response
    }
}
