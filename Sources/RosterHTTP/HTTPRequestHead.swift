/// How the length of a request body is determined (RFC 9112 §6.3).
public enum HTTPBodyFraming: Sendable, Equatable {
    case none
    case contentLength(Int)
    case chunked
}

/// A parsed and validated request head.
public struct HTTPRequestHead: Sendable {
    public var method: String
    public var target: String
    public var version: HTTPVersion
    public var headers: HTTPHeaders
    public var framing: HTTPBodyFraming
    /// The client sent `Expect: 100-continue` on HTTP/1.1.
    public var expectsContinue: Bool
    /// Whether the client asked to keep the connection open (RFC 9112 §9.3).
    public var keepAlive: Bool
}

/// Incremental, strict parser of a request head (RFC 9112 §2–§6).
///
/// Feed it the connection buffer as bytes arrive; it scans each byte once, so a head costs
/// O(head bytes) however it is split. Limits are enforced while scanning, before buffering more.
public struct HTTPHeadParser: Sendable {
    public enum Outcome: Sendable {
        /// More bytes are needed.
        case needMore
        /// The head is complete; it ended just before `end` (the index after its final CRLF CRLF).
        case complete(HTTPRequestHead, end: Int)
    }

    let configuration: HTTPServerConfiguration
    private var scanIndex: Int
    private var lineStart: Int
    private var requestLine: Range<Int>?
    private var headersStart = 0
    private var headerLines: [Range<Int>] = []
    private var leadingEmptyLines = 0

    /// Creates a parser for a head that starts at `start` in the buffer.
    public init(configuration: HTTPServerConfiguration, start: Int = 0) {
        self.configuration = configuration
        self.scanIndex = start
        self.lineStart = start
    }

    /// Whether any byte of the head has been scanned.
    public var hasStarted: Bool { requestLine != nil || scanIndex > lineStart }

    /// Scans the new bytes of `buffer` (those after the last call).
    /// - Throws: `HTTPProblem` with 400, 414, 431, 501 or 505 for a head that must be rejected.
    public mutating func parse(_ buffer: [UInt8]) throws(HTTPProblem) -> Outcome {
        let count = buffer.count
        var i = scanIndex
        defer { scanIndex = i }
        while i < count {
            let byte = buffer[i]
            if byte == 0x0A {
                guard i > lineStart, buffer[i - 1] == 0x0D else {
                    throw .badRequest("bare LF as a line end (RFC 9112 §2.2)")
                }
                let line = lineStart..<(i - 1)
                lineStart = i + 1
                if requestLine == nil {
                    if line.isEmpty {
                        leadingEmptyLines += 1
                        guard leadingEmptyLines <= 4 else { throw .badRequest("too many empty lines before the request line") }
                    } else {
                        requestLine = line
                        headersStart = i + 1
                    }
                } else if line.isEmpty {
                    i += 1
                    return .complete(try makeHead(buffer), end: i)
                } else {
                    headerLines.append(line)
                    if headerLines.count > configuration.maxHeaderFields {
                        throw HTTPProblem(
                            .requestHeaderFieldsTooLarge, code: "header_too_large",
                            "more than \(configuration.maxHeaderFields) header fields")
                    }
                }
            } else if i > lineStart, buffer[i - 1] == 0x0D {
                throw .badRequest("bare CR in the request head (RFC 9112 §2.2)")
            }
            if byte == 0x0D || byte == 0x0A {
                // Line ends do not count against the limits.
            } else if requestLine == nil {
                if i - lineStart >= configuration.maxRequestLine {
                    throw HTTPProblem(
                        .uriTooLong, code: "uri_too_long",
                        "request line longer than \(configuration.maxRequestLine) bytes")
                }
            } else if i - headersStart >= configuration.maxHeaderBytes {
                throw HTTPProblem(
                    .requestHeaderFieldsTooLarge, code: "header_too_large",
                    "header section larger than \(configuration.maxHeaderBytes) bytes")
            }
            i += 1
        }
        return .needMore
    }

    private func makeHead(_ buffer: [UInt8]) throws(HTTPProblem) -> HTTPRequestHead {
        let (method, target, version) = try Self.parseRequestLine(buffer[requestLine!])
        var headers = HTTPHeaders()
        for line in headerLines {
            let (name, value) = try Self.parseField(buffer[line])
            headers.add(name, value)
        }
        return try Self.validate(method: method, target: target, version: version, headers: headers, configuration: configuration)
    }

    static func parseRequestLine(_ line: ArraySlice<UInt8>) throws(HTTPProblem) -> (String, String, HTTPVersion) {
        let parts = line.split(separator: 0x20, maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count == 3 else {
            throw .badRequest("request line must be METHOD SP TARGET SP VERSION")
        }
        let method = parts[0], target = parts[1], version = parts[2]
        guard !method.isEmpty, method.allSatisfy(isTokenChar) else {
            throw .badRequest("invalid method token")
        }
        guard !target.isEmpty, target.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw .badRequest("request target must be visible US-ASCII")
        }
        guard !target.contains(UInt8(ascii: "#")) else {
            throw .badRequest("a request target has no fragment (RFC 9112 §3.2)")
        }
        let httpVersion = try parseVersion(version)
        return (String(decoding: method, as: UTF8.self), String(decoding: target, as: UTF8.self), httpVersion)
    }

    static func parseVersion(_ bytes: ArraySlice<UInt8>) throws(HTTPProblem) -> HTTPVersion {
        let v = Array(bytes)
        let isDigit = { (b: UInt8) in b >= 0x30 && b <= 0x39 }
        guard v.count == 8, v[0..<5].elementsEqual("HTTP/".utf8), isDigit(v[5]), v[6] == UInt8(ascii: "."), isDigit(v[7]) else {
            throw .badRequest("malformed HTTP version")
        }
        switch (v[5], v[7]) {
        case (UInt8(ascii: "1"), UInt8(ascii: "0")): return .http1_0
        // A higher 1.x minor version is answered as 1.1 (RFC 9110 §6.2).
        case (UInt8(ascii: "1"), _): return .http1_1
        default:
            throw HTTPProblem(.httpVersionNotSupported, code: "version_not_supported", "only HTTP/1.0 and HTTP/1.1 are supported")
        }
    }

    static func parseField(_ line: ArraySlice<UInt8>) throws(HTTPProblem) -> (String, String) {
        guard let first = line.first else { throw .badRequest("empty header line") }
        if first == 0x20 || first == 0x09 {
            throw .badRequest("obsolete line folding in a header (RFC 9112 §5.2)")
        }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
            throw .badRequest("header line without a colon")
        }
        let name = line[line.startIndex..<colon]
        guard !name.isEmpty else { throw .badRequest("empty header name") }
        guard name.allSatisfy(isTokenChar) else {
            if let last = name.last, last == 0x20 || last == 0x09 {
                throw .badRequest("whitespace between header name and colon (RFC 9112 §5.1)")
            }
            throw .badRequest("invalid character in header name")
        }
        var value = line[(colon + 1)...]
        while let b = value.first, b == 0x20 || b == 0x09 { value.removeFirst() }
        while let b = value.last, b == 0x20 || b == 0x09 { value.removeLast() }
        for b in value where !(b == 0x09 || b >= 0x20) || b == 0x7F {
            throw .badRequest("control character in header value")
        }
        return (String(decoding: name, as: UTF8.self).lowercased(), String(decoding: value, as: UTF8.self))
    }

    static func validate(
        method: String, target: String, version: HTTPVersion, headers: HTTPHeaders,
        configuration: HTTPServerConfiguration
    ) throws(HTTPProblem) -> HTTPRequestHead {
        let hosts = headers.values("host")
        if version == .http1_1 && hosts.count != 1 {
            throw .badRequest(hosts.isEmpty ? "missing Host header (RFC 9112 §3.2)" : "more than one Host header")
        }
        if hosts.count > 1 { throw .badRequest("more than one Host header") }

        let transferEncodings = headers.values("transfer-encoding")
        let contentLengths = headers.values("content-length")
        var framing = HTTPBodyFraming.none
        if !transferEncodings.isEmpty {
            guard contentLengths.isEmpty else {
                throw .badRequest("both Content-Length and Transfer-Encoding (RFC 9112 §6.3)")
            }
            guard version == .http1_1 else {
                throw .badRequest("Transfer-Encoding in an HTTP/1.0 request (RFC 9112 §6.1)")
            }
            let codings = transferEncodings.flatMap { $0.split(separator: ",", omittingEmptySubsequences: false) }
                .map { $0.trimmingOWS().lowercased() }
            guard codings != [""] else { throw .badRequest("empty Transfer-Encoding") }
            guard codings == ["chunked"] else {
                throw HTTPProblem(
                    .notImplemented, code: "unsupported_transfer_coding",
                    "only Transfer-Encoding: chunked is supported")
            }
            framing = .chunked
        } else if !contentLengths.isEmpty {
            var length: Int?
            for element in contentLengths.flatMap({ $0.split(separator: ",", omittingEmptySubsequences: false) }) {
                let text = element.trimmingOWS()
                guard !text.isEmpty, text.utf8.count <= 18, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                      let value = Int(text)
                else {
                    throw .badRequest("malformed Content-Length")
                }
                if let length, length != value {
                    throw .badRequest("differing Content-Length values")
                }
                length = value
            }
            framing = length! > 0 ? .contentLength(length!) : .none
        }

        let connection = headers.tokens("connection")
        let keepAlive: Bool = switch version {
        case .http1_1: !connection.contains("close")
        case .http1_0: connection.contains("keep-alive") && !connection.contains("close")
        }

        var expectsContinue = false
        let expectations = headers.tokens("expect")
        if !expectations.isEmpty {
            guard expectations == ["100-continue"] else {
                throw HTTPProblem(.expectationFailed, code: "expectation_failed", "only Expect: 100-continue is supported")
            }
            // HTTP/1.0 clients cannot receive 1xx responses (RFC 9110 §10.1.1): ignore the expectation.
            expectsContinue = version == .http1_1
        }

        if case .contentLength(let length) = framing, length > configuration.maxBody {
            throw HTTPProblem(.contentTooLarge, code: "body_too_large", "body larger than \(configuration.maxBody) bytes")
        }

        return HTTPRequestHead(
            method: method, target: target, version: version, headers: headers, framing: framing,
            expectsContinue: expectsContinue, keepAlive: keepAlive)
    }

    /// `tchar` of RFC 9110 §5.6.2.
    static func isTokenChar(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
             UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
             UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }
}
