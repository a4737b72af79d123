/// A protocol-level failure of a request: its status, a stable `code` and a message, rendered as
/// an RFC 9457 problem details body.
///
/// The codes are the transport part of the API's problem codes (`docs/openapi.yaml`).
public struct HTTPProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: HTTPStatus
    public var code: String
    public var message: String
    /// Whether the connection's byte stream can no longer be trusted (or the client must go),
    /// so the response carries `Connection: close` and the connection is closed after it.
    public var closesConnection: Bool

    public init(_ status: HTTPStatus, code: String, _ message: String, closesConnection: Bool = true) {
        self.status = status
        self.code = code
        self.message = message
        self.closesConnection = closesConnection
    }

    public var description: String { "\(status.code) \(code): \(message)" }

    static func badRequest(_ message: String) -> HTTPProblem {
        HTTPProblem(.badRequest, code: "bad_request", message)
    }

    /// The problem as an `application/problem+json` response.
    public var response: HTTPResponse {
        var body: [UInt8] = []
        body.reserveCapacity(128 + message.utf8.count)
        body.append(contentsOf: #"{"type":"urn:roster:problem:"#.utf8)
        ProblemJSON.appendEscaped(code, to: &body)
        body.append(contentsOf: #"","title":""#.utf8)
        ProblemJSON.appendEscaped(status.reasonPhrase, to: &body)
        body.append(contentsOf: #"","status":"#.utf8)
        body.append(contentsOf: String(status.code).utf8)
        body.append(contentsOf: #","detail":""#.utf8)
        ProblemJSON.appendEscaped(message, to: &body)
        body.append(contentsOf: #"","code":""#.utf8)
        ProblemJSON.appendEscaped(code, to: &body)
        body.append(contentsOf: #""}"#.utf8)
        return HTTPResponse(
            status: status,
            headers: ["Content-Type": "application/problem+json"],
            body: .bytes(body),
            closesConnection: closesConnection
        )
    }
}

/// Minimal JSON string escaping for the server's own problem bodies (RFC 8259 §7).
enum ProblemJSON {
    static func appendEscaped(_ string: String, to out: inout [UInt8]) {
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [92, 34])
            case UInt8(ascii: "\\"): out.append(contentsOf: [92, 92])
            case 0x0A: out.append(contentsOf: [92, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [92, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [92, UInt8(ascii: "t")])
            case 0..<0x20, 0x7F:
                out.append(contentsOf: Array(#"\u00"#.utf8))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xF)])
            default: out.append(byte)
            }
        }
    }
}
