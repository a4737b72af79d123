/// Why a client call failed.
public enum RosterClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No registry answered: every address failed below HTTP (refused, timed out, reset, DNS, TLS).
    /// `attempts` pairs each address with its failure reason (`connection_refused`, `timeout`, …).
    case unreachable(attempts: [Attempt])
    /// The registry answered with an error status. `code` is the problem's `code` member
    /// (`instance_not_found`, `invalid_field`, `unauthorized`, …) or `http_<status>` for a body that is no
    /// RFC 9457 problem; `field` names the offending request field for validation errors.
    case problem(status: Int, code: String, detail: String, field: String?)
    /// The registry answered 2xx with a body this client cannot read (`message` says what is wrong).
    case decoding(String)

    /// One failed try at one address.
    public struct Attempt: Sendable, Equatable {
        /// The registry address tried.
        public var address: String
        /// The transfer failure's stable reason: `connection_refused`, `timeout`, `connection_reset`, …
        public var reason: String

        public init(address: String, reason: String) {
            self.address = address
            self.reason = reason
        }
    }

    /// The HTTP status of a `.problem`, else `nil`.
    public var status: Int? {
        if case .problem(let status, _, _, _) = self { return status }
        return nil
    }

    /// The problem `code` of a `.problem`, else `nil`.
    public var code: String? {
        if case .problem(_, let code, _, _) = self { return code }
        return nil
    }

    /// One line for people: `registry unreachable: http://127.0.0.1:8700 (connection_refused)`,
    /// `404 instance_not_found: no instance …`, `unreadable response: …`.
    public var description: String {
        switch self {
        case .unreachable(let attempts):
            "registry unreachable: " + attempts.map { "\($0.address) (\($0.reason))" }.joined(separator: ", ")
        case .problem(let status, let code, let detail, let field):
            "\(status) \(code)\(field.map { " [\($0)]" } ?? ""): \(detail)"
        case .decoding(let message):
            "unreadable response: \(message)"
        }
    }
}
