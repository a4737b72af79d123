#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import RosterSettings

extension ListenAddress {
    /// Parses `HOST:PORT`, where HOST is an IPv4 literal, a bracketed IPv6 literal or `localhost`:
    /// `127.0.0.1:8700`, `0.0.0.0:8700`, `[::]:8700`, `[::1]:0`, `localhost:8700`.
    ///
    /// The stored host of an IPv6 address has no brackets (`[::]:8700` → host `::`). Port `0` asks the
    /// system for an ephemeral port.
    /// - Throws: `SettingValueError` for a missing or malformed host or port, an IPv6 literal without
    ///   brackets, or a host name other than `localhost` (names are not resolved).
    public init(parsing text: String) throws(SettingValueError) {
        let trimmed = SettingValueSyntax.trimmingWhitespace(text)
        let given = SettingValueSyntax.quoted(text)
        let hostText: Substring
        let portText: Substring
        if trimmed.hasPrefix("[") {
            guard let close = trimmed.firstIndex(of: "]") else {
                throw SettingValueError("missing \"]\" after IPv6 address, got \(given)")
            }
            hostText = trimmed[trimmed.index(after: trimmed.startIndex)..<close]
            let rest = trimmed[trimmed.index(after: close)...]
            guard rest.hasPrefix(":") else {
                if rest.isEmpty { throw SettingValueError("missing port: expected [IPV6]:PORT, got \(given)") }
                throw SettingValueError("expected [IPV6]:PORT, got \(given)")
            }
            guard Self.isIPv6Literal(hostText) else {
                throw SettingValueError("not an IPv6 address: \(SettingValueSyntax.quoted(hostText)), got \(given)")
            }
            portText = rest.dropFirst()
        } else {
            let colons = trimmed.filter { $0 == ":" }.count
            if colons == 0 {
                if Self.isIPv4Literal(trimmed) || trimmed.lowercased() == "localhost" {
                    throw SettingValueError("missing port: expected HOST:PORT, got \(given)")
                }
                throw SettingValueError("expected HOST:PORT, got \(given)")
            }
            if colons > 1 {
                throw SettingValueError("an IPv6 address needs brackets, as in [::1]:8700, got \(given)")
            }
            let colon = trimmed.firstIndex(of: ":")!
            hostText = trimmed[..<colon]
            portText = trimmed[trimmed.index(after: colon)...]
            guard !hostText.isEmpty else {
                throw SettingValueError("missing host: expected HOST:PORT, got \(given)")
            }
            let looksNumeric = hostText.allSatisfy { $0 == "." || $0.isASCII && $0.isNumber }
            if looksNumeric, !Self.isIPv4Literal(hostText) {
                throw SettingValueError("not an IPv4 address: \(SettingValueSyntax.quoted(hostText)), got \(given)")
            }
            guard hostText.lowercased() == "localhost" || Self.isIPv4Literal(hostText) else {
                throw SettingValueError(
                    "host names other than localhost are not supported, use an IP address, got \(given)")
            }
        }
        guard !portText.isEmpty else {
            throw SettingValueError("missing port: expected HOST:PORT, got \(given)")
        }
        guard portText.utf8.allSatisfy(SettingValueSyntax.isDigit), let port = UInt16(portText) else {
            throw SettingValueError("port must be a number from 0 to 65535, got \(given)")
        }
        let host = hostText.lowercased() == "localhost" ? "localhost" : String(hostText)
        self.init(host: host, port: port)
    }

    /// Whether `text` is a dotted-quad IPv4 literal (`0.0.0.0` … `255.255.255.255`, no leading zeros).
    static func isIPv4Literal(_ text: some StringProtocol) -> Bool {
        let octets = text.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4
            && octets.allSatisfy { octet in
                (1...3).contains(octet.count)
                    && octet.utf8.allSatisfy(SettingValueSyntax.isDigit)
                    && !(octet.count > 1 && octet.hasPrefix("0"))
                    && Int(octet)! <= 255
            }
    }

    /// Whether `text` is an IPv6 literal without brackets or zone (`::`, `::1`, `fe80::1`), per `inet_pton`.
    static func isIPv6Literal(_ text: some StringProtocol) -> Bool {
        var address = in6_addr()
        return String(text).withCString { inet_pton(AF_INET6, $0, &address) } == 1
    }
}
