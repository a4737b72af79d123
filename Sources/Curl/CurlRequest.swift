/// An HTTP request for `CurlHTTPClient`.
public struct CurlRequest: Sendable {
    /// `GET`, `HEAD`, `POST`, `PUT`, `DELETE`, …
    public var method: String
    /// An absolute `http` or `https` URL; other schemes are refused.
    public var url: String
    /// Extra request header fields, in order.
    public var headers: [(name: String, value: String)]
    /// The request body, if any (sent with `Content-Length`).
    public var body: [UInt8]?
    /// Limit for the whole transfer, connecting included; when it passes the transfer fails with `.timeout`.
    public var timeout: Duration
    /// Sent as `User-Agent`, if set.
    public var userAgent: String?
    /// Read at most this many body bytes; the transfer then ends successfully with `truncated` set.
    public var maxBodyBytes: Int?
    /// For long-lived streams: when set, `timeout` limits only connecting, and the transfer fails with
    /// `.timeout` once no byte has arrived for this long (whole seconds, at least 1; libcurl's
    /// `CURLOPT_LOW_SPEED_TIME` with a limit of 1 byte/s).
    public var idleTimeout: Duration?
    /// Redirects are never followed: a 3xx is returned as it is.
    public init(
        method: String = "GET", url: String, headers: [(name: String, value: String)] = [], body: [UInt8]? = nil,
        timeout: Duration = .seconds(30), userAgent: String? = nil, maxBodyBytes: Int? = nil,
        idleTimeout: Duration? = nil
    ) {
        self.idleTimeout = idleTimeout
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        self.userAgent = userAgent
        self.maxBodyBytes = maxBodyBytes
    }
}

/// A completed response.
public struct CurlResponse: Sendable {
    /// The final status code (e.g. 200, 302, 500).
    public var status: Int
    /// Header fields of the final response, names as sent.
    public var headers: [(name: String, value: String)]
    /// The body, at most `maxBodyBytes` of it.
    public var body: [UInt8]
    /// Whether the body was cut at `maxBodyBytes`.
    public var truncated: Bool
    /// Time from start to end of the transfer.
    public var duration: Duration

    /// The first value of a header field, compared case-insensitively.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

/// Events of a streamed response: the head once, then body bytes as they arrive.
public enum CurlStreamEvent: Sendable {
    case head(status: Int, headers: [(name: String, value: String)])
    case body([UInt8])
}

/// Why a transfer failed. `reason` is a stable snake_case code, safe for JSON and metrics.
public struct CurlError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case timeout
        case connectionRefused = "connection_refused"
        case dnsFailure = "dns_failure"
        case tlsError = "tls_error"
        case connectionReset = "connection_reset"
        case emptyResponse = "empty_response"
        case invalidRequest = "invalid_request"
        case cancelled
        case shutdown
        case other = "transfer_error"
    }

    public var kind: Kind
    /// libcurl's `CURLcode`, 0 where not from libcurl.
    public var code: Int32
    /// libcurl's explanation, for logs.
    public var message: String

    public init(_ kind: Kind, code: Int32 = 0, message: String) {
        self.kind = kind
        self.code = code
        self.message = message
    }

    /// `timeout`, `connection_refused`, `dns_failure`, `tls_error`, …
    public var reason: String { kind.rawValue }
    public var description: String { "\(kind.rawValue) (curl \(code)): \(message)" }
}
