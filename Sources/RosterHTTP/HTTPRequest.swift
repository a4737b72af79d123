/// The protocol version of a request (RFC 9112 §2.3). Only HTTP/1.0 and HTTP/1.1 are served.
public enum HTTPVersion: Sendable, Equatable, CustomStringConvertible {
    case http1_0
    case http1_1

    public var description: String {
        switch self {
        case .http1_0: "HTTP/1.0"
        case .http1_1: "HTTP/1.1"
        }
    }
}

/// A fully read request: head, decoded path, and the whole body (at most `http.max_body` bytes).
public struct HTTPRequest: Sendable {
    /// The method token as sent, e.g. `GET` (methods are case-sensitive, RFC 9110 §9.1).
    public var method: String
    /// The request target exactly as sent (origin-form), e.g. `/services/web?x=1`.
    public var target: String
    /// The path part of the target, still percent-encoded.
    public var path: String
    /// The query part of the target without `?`, if any, still percent-encoded.
    public var query: String?
    public var version: HTTPVersion
    public var headers: HTTPHeaders
    /// The body after transfer decoding (chunked bodies are de-chunked).
    public var body: [UInt8]
    /// Values of the matched route template's `{parameters}`, percent-decoded once.
    public var pathParameters: [String: String] = [:]
    /// The route template that matched, e.g. `/services/{name}/{id}` (a bounded label for metrics).
    public var routeTemplate: String?

    public init(
        method: String, target: String, version: HTTPVersion = .http1_1,
        headers: HTTPHeaders = [:], body: [UInt8] = []
    ) {
        self.method = method
        self.target = target
        // Absolute-form (`http://host/path`) is accepted and reduced to its path (RFC 9112 §3.2.2).
        var originForm = Substring(target)
        for scheme in ["http://", "https://"] where target.count >= scheme.count && target.prefix(scheme.count).lowercased() == scheme {
            let afterScheme = target.dropFirst(scheme.count)
            if let slash = afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" }) {
                originForm = afterScheme[slash...]
                if originForm.hasPrefix("?") { originForm = "/" + originForm }
            } else {
                originForm = "/"
            }
        }
        if let q = originForm.firstIndex(of: "?") {
            self.path = String(originForm[..<q])
            self.query = String(originForm[originForm.index(after: q)...])
        } else {
            self.path = String(originForm)
            self.query = nil
        }
        self.version = version
        self.headers = headers
        self.body = body
    }

    /// Query parameters in order, percent-decoded (`+` is not a space); malformed pairs are skipped.
    public var queryItems: [(name: String, value: String)] {
        guard let query, !query.isEmpty else { return [] }
        return query.split(separator: "&").compactMap { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = PercentDecoding.decode(parts[0]) else { return nil }
            let value = parts.count > 1 ? PercentDecoding.decode(parts[1]) : ""
            guard let value else { return nil }
            return (name, value)
        }
    }
}
