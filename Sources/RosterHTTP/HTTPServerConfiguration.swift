/// Limits and timeouts of the HTTP/1.1 server.
///
/// Every limit is enforced while bytes arrive, never after buffering without bound.
/// The defaults are the documented defaults of the `http.*` settings.
public struct HTTPServerConfiguration: Sendable, Equatable {
    /// Longest request line (method, target, version) in bytes; longer → `414`. Key `http.max_request_line`.
    public var maxRequestLine: Int = 8 * 1024
    /// Most bytes of header fields after the request line; more → `431`. Key `http.max_header_bytes`.
    public var maxHeaderBytes: Int = 32 * 1024
    /// Most header fields in one request; more → `431`. Key `http.max_header_fields`.
    public var maxHeaderFields: Int = 100
    /// Largest request body in bytes, decoded; larger → `413`. Key `http.max_body`.
    public var maxBody: Int = 1024 * 1024
    /// Time from the first byte of a request until its head is complete (and again for its body); → `408`.
    /// Key `http.head_timeout`.
    public var headTimeout: Duration = .seconds(10)
    /// Time an idle keep-alive connection is kept open waiting for the next request. Key `http.idle_timeout`.
    public var idleTimeout: Duration = .seconds(75)
    /// Most open connections; the next one is answered `503` and closed. Key `http.max_connections`.
    public var maxConnections: Int = 16_384

    public init() {}
}
