#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The body of `POST /services`, validated field by field.
///
/// ```json
/// {"name": "web", "host": "10.0.0.5", "port": 8080, "metadata": {"version": "1.4.2"}, "ttl": 30}
/// ```
/// `metadata` and `ttl` are optional. `ttl` is in seconds.
public struct RegistrationRequest: Sendable, Equatable {
    public var name: String
    public var host: String
    public var port: Int
    public var metadata: [String: String]
    /// The lease TTL, or nil for the server's default.
    public var ttl: Duration?
    /// The active health check, if requested (defaults not yet applied).
    public var healthCheck: HealthCheckRequest?

    public static let allowedKeys: Set<String> = ["name", "host", "port", "metadata", "ttl", "health_check"]
    public static let maxMetadataKeys = 64
    public static let maxMetadataKeyBytes = 128
    public static let maxMetadataValueBytes = 1024
    public static let ttlRange: ClosedRange<Double> = 1...86_400

    public init(
        name: String, host: String, port: Int, metadata: [String: String] = [:], ttl: Duration? = nil,
        healthCheck: HealthCheckRequest? = nil
    ) {
        self.name = name
        self.host = host
        self.port = port
        self.metadata = metadata
        self.ttl = ttl
        self.healthCheck = healthCheck
    }

    /// Reads and validates a request body.
    /// - Throws: `APIProblem` (400) whose `code` is one of the JSON reader's codes
    ///   (`invalid_json`, `invalid_utf8`, `duplicate_key`, `too_deep`, `empty_body`),
    ///   `unknown_field`, `missing_field` or `invalid_field`, and whose `field` names the JSON path.
    public init(body: [UInt8]) throws(APIProblem) {
        let value: JSONValue
        do {
            value = try JSONReader.read(body)
        } catch {
            throw .badRequest(error.code.rawValue, error.message, field: error.path.flatMap { $0.isEmpty ? nil : $0 })
        }
        try self.init(json: value)
    }

    /// Validates an already parsed body. - Throws: `APIProblem` as `init(body:)`.
    public init(json: JSONValue) throws(APIProblem) {
        guard case .object(let object) = json else {
            throw .badRequest("invalid_json", "the request body must be a JSON object, not \(json.typeName)")
        }
        for key in object.keys where !Self.allowedKeys.contains(key) {
            throw .badRequest("unknown_field", "unknown field \"\(Self.printable(key))\"", field: Self.clipped(key))
        }
        name = try Self.required("name", in: object, Self.validateName)
        host = try Self.required("host", in: object, Self.validateHost)
        port = try Self.required("port", in: object, Self.validatePort)
        metadata = try object["metadata"].map(Self.validateMetadata) ?? [:]
        ttl = try object["ttl"].map(Self.validateTTL)
        healthCheck = try object["health_check"].map(HealthCheckRequest.init(json:))
    }

    private static func required<T>(
        _ key: String, in object: JSONObject, _ validate: (JSONValue) throws(APIProblem) -> T
    ) throws(APIProblem) -> T {
        guard let value = object[key] else {
            throw .badRequest("missing_field", "\(key) is required", field: key)
        }
        return try validate(value)
    }

    static func invalid(_ field: String, _ detail: String) -> APIProblem {
        .badRequest("invalid_field", detail, field: field)
    }

    /// 1–63 characters of letters, digits, `.`, `_`, `-`, starting and ending with a letter or digit.
    public static func validateName(_ value: JSONValue) throws(APIProblem) -> String {
        guard case .string(let name) = value else { throw invalid("name", "name must be a string, not \(value.typeName)") }
        guard isValidServiceName(name) else {
            throw invalid("name", "name must be 1-63 letters, digits, '.', '_' or '-', starting and ending with a letter or digit")
        }
        return name
    }

    /// Whether `name` is a valid service name (also used for names in paths).
    public static func isValidServiceName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...63).contains(bytes.count), isAlnum(bytes.first!), isAlnum(bytes.last!) else { return false }
        return bytes.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    /// An IPv4 address, an IPv6 address without brackets, or an RFC 1123 hostname of at most 253
    /// characters; returned in canonical form (see `canonicalHost`).
    public static func validateHost(_ value: JSONValue) throws(APIProblem) -> String {
        guard case .string(let host) = value else { throw invalid("host", "host must be a string, not \(value.typeName)") }
        guard isValidHost(host) else {
            throw invalid("host", "host must be an IPv4 address, an IPv6 address without brackets, or a hostname of at most 253 characters")
        }
        return canonicalHost(host)
    }

    /// The form in which equal hosts are equal strings: IPv6 in RFC 5952 text (lowercase,
    /// compressed), hostnames lowercased without a trailing dot, IPv4 unchanged.
    /// - Precondition: `isValidHost(host)`.
    public static func canonicalHost(_ host: String) -> String {
        if let bytes = IPv6.bytes(host) { return IPv6.text(bytes) }
        var lower = host.lowercased()
        if lower.count > 1 && lower.hasSuffix(".") { lower.removeLast() }
        return lower
    }

    public static func isValidHost(_ host: String) -> Bool {
        let bytes = Array(host.utf8)
        guard !bytes.isEmpty, bytes.count <= 253 else { return false }
        if bytes.contains(UInt8(ascii: ":")) { return isIPv6(host) }
        if bytes.allSatisfy({ isDigit($0) || $0 == UInt8(ascii: ".") }) { return isIPv4(bytes) }
        return isHostname(bytes)
    }

    /// Dotted-quad IPv4: four decimal octets 0–255, no leading zeros.
    static func isIPv4(_ bytes: [UInt8]) -> Bool {
        let parts = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 4 else { return false }
        return parts.allSatisfy { part in
            guard (1...3).contains(part.count), part.allSatisfy(isDigit) else { return false }
            if part.count > 1 && part.first == UInt8(ascii: "0") { return false }
            return Int(String(decoding: part, as: UTF8.self))! <= 255
        }
    }

    static func isIPv6(_ host: String) -> Bool { IPv6.bytes(host) != nil }

    /// RFC 1123 §2.1: labels of 1–63 letters, digits and hyphens, not starting or ending with a
    /// hyphen; the last label is not all digits (RFC 3696 §2).
    static func isHostname(_ bytes: [UInt8]) -> Bool {
        var labels = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        if labels.count > 1, labels.last!.isEmpty { labels.removeLast() }  // a trailing dot is allowed
        guard !labels.isEmpty else { return false }
        for label in labels {
            guard (1...63).contains(label.count), isAlnum(label.first!), isAlnum(label.last!),
                  label.allSatisfy({ isAlnum($0) || $0 == UInt8(ascii: "-") })
            else { return false }
        }
        return !labels.last!.allSatisfy(isDigit)
    }

    /// An integer literal from 1 to 65535 (`80.0`, `8e1` and `"80"` are rejected).
    public static func validatePort(_ value: JSONValue) throws(APIProblem) -> Int {
        guard case .number(let number) = value, number.isIntegerLiteral else {
            throw invalid("port", "port must be an integer from 1 to 65535, not \(describe(value))")
        }
        guard let port = number.intValue, (1...65_535).contains(port) else {
            throw invalid("port", "port must be an integer from 1 to 65535, got \(printable(number.literal))")
        }
        return port
    }

    /// An object of at most 64 string values; keys 1–128 bytes, values at most 1024 bytes.
    public static func validateMetadata(_ value: JSONValue) throws(APIProblem) -> [String: String] {
        guard case .object(let object) = value else {
            throw invalid("metadata", "metadata must be an object of strings, not \(value.typeName)")
        }
        guard object.count <= maxMetadataKeys else {
            throw invalid("metadata", "metadata has \(object.count) keys; at most \(maxMetadataKeys) are allowed")
        }
        var result: [String: String] = [:]
        for (key, item) in object {
            let field = clipped("metadata.\(key)")
            guard (1...maxMetadataKeyBytes).contains(key.utf8.count) else {
                throw invalid(field, "metadata keys must be 1-\(maxMetadataKeyBytes) bytes")
            }
            guard case .string(let text) = item else {
                throw invalid(field, "metadata values must be strings, not \(item.typeName)")
            }
            guard text.utf8.count <= maxMetadataValueBytes else {
                throw invalid(field, "metadata values must be at most \(maxMetadataValueBytes) bytes")
            }
            result[key] = text
        }
        return result
    }

    /// A number of seconds from 1 to 86400; kept with millisecond precision.
    public static func validateTTL(_ value: JSONValue) throws(APIProblem) -> Duration {
        guard case .number(let number) = value, let seconds = number.doubleValue, ttlRange.contains(seconds) else {
            throw invalid("ttl", "ttl must be a number of seconds from 1 to 86400, not \(describe(value))")
        }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }

    /// A number of seconds within `range`, kept with millisecond precision.
    static func validateSeconds(_ value: JSONValue, field: String, range: ClosedRange<Double>, what: String) throws(APIProblem) -> Duration {
        guard case .number(let number) = value, let seconds = number.doubleValue, range.contains(seconds) else {
            throw invalid(field, "\(what), not \(describe(value))")
        }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }

    static func describe(_ value: JSONValue) -> String {
        switch value {
        case .number(let n): printable(n.literal)
        case .string: "a string"
        default: value.typeName
        }
    }

    /// Shortens and neutralizes user text quoted in messages.
    static func printable(_ text: String) -> String {
        let clipped = text.unicodeScalars.prefix(64).map { $0.value < 0x20 || $0.value == 0x7F ? Character("?") : Character($0) }
        return String(clipped) + (text.unicodeScalars.count > 64 ? "…" : "")
    }

    /// A field path echoed back, cut to 256 bytes so that hostile keys cannot inflate answers.
    static func clipped(_ field: String) -> String {
        guard field.utf8.count > 256 else { return field }
        var cut = ""
        for character in field {
            if cut.utf8.count + String(character).utf8.count > 253 { break }
            cut.append(character)
        }
        return cut + "…"
    }

    static func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
    static func isHexDigit(_ b: UInt8) -> Bool {
        isDigit(b) || (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "f")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "F"))
    }
    static func isAlnum(_ b: UInt8) -> Bool {
        isDigit(b) || (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
    }
}

/// IPv6 literal parsing.
enum IPv6 {
    /// The 16 bytes of an IPv6 literal (no brackets, no zone), or nil.
    static func bytes(_ host: String) -> [UInt8]? {
        guard host.utf8.count <= 45,
              host.utf8.allSatisfy({ RegistrationRequest.isHexDigit($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") })
        else { return nil }
        var address = in6_addr()
        guard inet_pton(AF_INET6, host, &address) == 1 else { return nil }
        return withUnsafeBytes(of: &address) { Array($0) }
    }

    /// RFC 5952 text of 16 address bytes (via `inet_ntop`).
    static func text(_ bytes: [UInt8]) -> String {
        var address = in6_addr()
        withUnsafeMutableBytes(of: &address) { $0.copyBytes(from: bytes) }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(AF_INET6, &address, &buffer, socklen_t(buffer.count)) != nil else { return "" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// The `health_check` member of a registration, validated; server defaults are applied later.
///
/// ```json
/// {"url": "http://10.0.0.5:8080/health", "interval": 10, "timeout": 5, "unhealthy_threshold": 3, "healthy_threshold": 2}
/// ```
/// Durations are seconds; every member but `url` is optional.
public struct HealthCheckRequest: Sendable, Equatable {
    public var url: HealthCheckURL
    public var interval: Duration?
    public var timeout: Duration?
    public var unhealthyThreshold: Int?
    public var healthyThreshold: Int?

    public static let allowedKeys: Set<String> = ["url", "interval", "timeout", "unhealthy_threshold", "healthy_threshold"]
    public static let maxThreshold = 100

    public init(url: HealthCheckURL, interval: Duration? = nil, timeout: Duration? = nil, unhealthyThreshold: Int? = nil, healthyThreshold: Int? = nil) {
        self.url = url
        self.interval = interval
        self.timeout = timeout
        self.unhealthyThreshold = unhealthyThreshold
        self.healthyThreshold = healthyThreshold
    }

    /// - Throws: `APIProblem` 400 naming `health_check.<member>`.
    public init(json: JSONValue) throws(APIProblem) {
        guard case .object(let object) = json else {
            throw RegistrationRequest.invalid("health_check", "health_check must be an object, not \(json.typeName)")
        }
        for key in object.keys where !Self.allowedKeys.contains(key) {
            throw .badRequest("unknown_field", "unknown field \"\(RegistrationRequest.printable(key))\" in health_check", field: "health_check.\(key)")
        }
        guard let urlValue = object["url"] else {
            throw .badRequest("missing_field", "health_check.url is required", field: "health_check.url")
        }
        guard case .string(let text) = urlValue else {
            throw RegistrationRequest.invalid("health_check.url", "health_check.url must be a string, not \(urlValue.typeName)")
        }
        switch HealthCheckURL.parse(text) {
        case .success(let parsed): url = parsed
        case .failure(let error): throw RegistrationRequest.invalid("health_check.url", "health_check.\(error.message)")
        }
        interval = try object["interval"].map { value throws(APIProblem) in
            try RegistrationRequest.validateSeconds(
                value, field: "health_check.interval", range: 1...86_400,
                what: "health_check.interval must be a number of seconds from 1 to 86400")
        }
        timeout = try object["timeout"].map { value throws(APIProblem) in
            try RegistrationRequest.validateSeconds(
                value, field: "health_check.timeout", range: 0.1...86_400,
                what: "health_check.timeout must be a number of seconds of at least 0.1")
        }
        unhealthyThreshold = try object["unhealthy_threshold"].map { value throws(APIProblem) in
            try Self.validateThreshold(value, field: "health_check.unhealthy_threshold")
        }
        healthyThreshold = try object["healthy_threshold"].map { value throws(APIProblem) in
            try Self.validateThreshold(value, field: "health_check.healthy_threshold")
        }
        if let interval, let timeout, timeout >= interval {
            throw RegistrationRequest.invalid("health_check.timeout", "health_check.timeout must be less than health_check.interval")
        }
    }

    static func validateThreshold(_ value: JSONValue, field: String) throws(APIProblem) -> Int {
        guard case .number(let number) = value, number.isIntegerLiteral, let count = number.intValue, (1...maxThreshold).contains(count) else {
            throw RegistrationRequest.invalid(field, "\(field) must be an integer from 1 to \(maxThreshold), not \(RegistrationRequest.describe(value))")
        }
        return count
    }
}
