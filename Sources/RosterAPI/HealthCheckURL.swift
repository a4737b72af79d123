/// A strictly parsed `http`/`https` URL for health probes, rebuilt canonically so that the
/// prober connects exactly to the host that was checked (no userinfo, fragments, backslashes or
/// other shapes that URL parsers disagree on).
public struct HealthCheckURL: Sendable, Equatable {
    /// `http` or `https`, lowercased.
    public var scheme: String
    /// The host without brackets (an IPv6 literal, an IPv4 literal or a hostname), lowercased.
    public var host: String
    public var port: Int?
    /// Path and query, starting with `/`.
    public var pathAndQuery: String

    public static let maxLength = 2048

    /// The URL as handed to the prober: `scheme://host[:port]/path?query`.
    public var canonical: String {
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "\(scheme)://\(hostPart)\(port.map { ":\($0)" } ?? "")\(pathAndQuery)"
    }

    /// Parses `text`; returns nil with a reason when it is not an acceptable probe URL.
    public static func parse(_ text: String) -> Result<HealthCheckURL, ParseError> {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.count <= maxLength else { return .failure(.init("url must be 1-\(maxLength) characters")) }
        guard bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\\") }) else {
            return .failure(.init("url must be printable ASCII without spaces or backslashes"))
        }
        let lower = text.lowercased()
        let scheme: String
        if lower.hasPrefix("http://") { scheme = "http" } else if lower.hasPrefix("https://") { scheme = "https" } else {
            return .failure(.init("url must start with http:// or https://"))
        }
        let rest = text.dropFirst(scheme.count + 3)
        if rest.contains("#") { return .failure(.init("url must not have a fragment")) }
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        var pathAndQuery = String(rest[authorityEnd...])
        if pathAndQuery.hasPrefix("?") || pathAndQuery.isEmpty { pathAndQuery = "/" + pathAndQuery }
        guard !authority.contains("@") else { return .failure(.init("url must not contain user information")) }
        guard validPercentEncoding(pathAndQuery) else { return .failure(.init("url has malformed percent-encoding")) }

        var host: Substring
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return .failure(.init("url has an unclosed IPv6 bracket")) }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return .failure(.init("url has characters after the IPv6 address")) }
                portText = after.dropFirst()
            }
            guard host.contains(":"), RegistrationRequest.isValidHost(String(host)) else {
                return .failure(.init("url has an invalid IPv6 address"))
            }
        } else {
            let parts = authority.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count <= 2 else { return .failure(.init("url has an invalid host")) }
            host = parts[0]
            if parts.count == 2 { portText = parts[1] }
            guard RegistrationRequest.isValidHost(String(host)) else { return .failure(.init("url has an invalid host")) }
        }
        var port: Int?
        if let portText {
            guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy(\.isASCII), let value = Int(portText), (1...65_535).contains(value)
            else { return .failure(.init("url has an invalid port")) }
            port = value
        }
        return .success(HealthCheckURL(scheme: scheme, host: host.lowercased(), port: port, pathAndQuery: pathAndQuery))
    }

    /// Whether this URL's host is the same as an instance's registered `host`
    /// (case-insensitive; IPv6 literals compared by address).
    public func hostMatches(_ registeredHost: String) -> Bool {
        if host.contains(":") || registeredHost.contains(":") {
            return IPv6.bytes(host) != nil && IPv6.bytes(host) == IPv6.bytes(registeredHost)
        }
        func bare(_ name: String) -> String { name.hasSuffix(".") ? String(name.dropLast()) : name }
        return bare(host) == bare(registeredHost.lowercased())
    }

    static func validPercentEncoding(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "%") {
                guard i + 2 < bytes.count, RegistrationRequest.isHexDigit(bytes[i + 1]), RegistrationRequest.isHexDigit(bytes[i + 2])
                else { return false }
                i += 3
            } else {
                i += 1
            }
        }
        return true
    }

    public struct ParseError: Error, Sendable, Equatable {
        public var message: String
        init(_ message: String) { self.message = message }
    }
}
