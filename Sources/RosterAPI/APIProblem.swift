/// An API error as an RFC 9457 problem details object.
///
/// ```json
/// {"type": "urn:roster:problem:invalid_field", "title": "Bad Request", "status": 400,
///  "detail": "port must be an integer from 1 to 65535", "code": "invalid_field", "field": "port"}
/// ```
public struct APIProblem: Error, Sendable, Equatable, CustomStringConvertible {
    /// The HTTP status (e.g. 400).
    public var status: Int
    /// The reason phrase of `status`, used as the problem's `title`.
    public var title: String
    /// Stable machine-readable code, safe for metrics (`invalid_field`, `instance_exists`, …).
    public var code: String
    /// What went wrong, for humans.
    public var detail: String
    /// The JSON path, from the body's root, of the offending field (`port`, `metadata.version`).
    public var field: String?
    /// Extra members (e.g. `instance_id` for `instance_exists`).
    public var extra: [(String, JSONValue)] = []

    public init(status: Int, title: String, code: String, detail: String, field: String? = nil, extra: [(String, JSONValue)] = []) {
        self.status = status
        self.title = title
        self.code = code
        self.detail = detail
        self.field = field
        self.extra = extra
    }

    public static func == (a: APIProblem, b: APIProblem) -> Bool {
        a.status == b.status && a.code == b.code && a.detail == b.detail && a.field == b.field
            && a.extra.map(\.0) == b.extra.map(\.0) && a.extra.map(\.1) == b.extra.map(\.1)
    }

    public var description: String { "\(status) \(code)\(field.map { " (\($0))" } ?? ""): \(detail)" }

    /// A 400 for a request body that failed validation.
    public static func badRequest(_ code: String, _ detail: String, field: String? = nil) -> APIProblem {
        APIProblem(status: 400, title: "Bad Request", code: code, detail: detail, field: field)
    }

    /// The problem as a JSON object.
    public var json: JSONValue {
        var object = JSONObject()
        object["type"] = .string("urn:roster:problem:\(code)")
        object["title"] = .string(title)
        object["status"] = .number(JSONNumber(status))
        object["detail"] = .string(detail)
        object["code"] = .string(code)
        if let field { object["field"] = .string(field) }
        for (key, value) in extra { object[key] = value }
        return .object(object)
    }
}
