#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import RosterSettings

/// The base URL of one registry: `http://127.0.0.1:8700`, `https://registry.internal:8700`.
///
/// Parsed from `http://HOST[:PORT]`, `https://HOST[:PORT]` or a bare `HOST:PORT` (read as `http`, as
/// Consul reads `CONSUL_HTTP_ADDR`). An IPv6 host is bracketed (`http://[::1]:8700`). A trailing `/` is
/// dropped; any other path, a query, a fragment or user info is refused.
public struct RegistryAddress: Sendable, Hashable, CustomStringConvertible {
    /// The base URL without a trailing slash: `http://127.0.0.1:8700`.
    public let url: String

    /// The address every client uses when nothing else is configured.
    public static let `default` = RegistryAddress(checkedURL: "http://127.0.0.1:8700")

    private init(checkedURL: String) {
        url = checkedURL
    }

    /// Parses one address.
    /// - Throws: `SettingValueError` quoting the text for an empty address, another scheme, a missing host,
    ///   a bad port, or a path, query, fragment or user info.
    public init(parsing text: String) throws(SettingValueError) {
        let trimmed = String(SettingValueSyntax.trimmingWhitespace(text))
        let given = SettingValueSyntax.quoted(text)
        guard !trimmed.isEmpty else { throw SettingValueError("expected a registry URL such as http://127.0.0.1:8700, got \(given)") }
        var scheme = "http"
        var rest = Substring(trimmed)
        if let range = trimmed.range(of: "://") {
            scheme = trimmed[..<range.lowerBound].lowercased()
            guard scheme == "http" || scheme == "https" else {
                throw SettingValueError("the scheme must be http or https, got \(given)")
            }
            rest = trimmed[range.upperBound...]
        } else if !trimmed.contains(":") {
            throw SettingValueError("expected http://HOST:PORT or HOST:PORT, got \(given)")
        }
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.isEmpty else { throw SettingValueError("missing host, got \(given)") }
        for character in rest where "/?#@".contains(character) || character.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F }) {
            throw SettingValueError(
                "a registry address is scheme, host and port only (no path, query or user info), got \(given)")
        }
        let host: Substring
        let port: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw SettingValueError("missing \"]\" in \(given)") }
            host = rest[...close]
            var address = in6_addr()
            guard String(rest[rest.index(after: rest.startIndex)..<close]).withCString({ inet_pton(AF_INET6, $0, &address) }) == 1 else {
                throw SettingValueError("not an IPv6 address in brackets: \(given)")
            }
            let after = rest[rest.index(after: close)...]
            guard after.isEmpty || after.hasPrefix(":") else { throw SettingValueError("expected [IPV6]:PORT, got \(given)") }
            port = after.isEmpty ? nil : after.dropFirst()
        } else {
            let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count <= 2 else { throw SettingValueError("an IPv6 address needs brackets, got \(given)") }
            host = parts[0]
            port = parts.count == 2 ? parts[1] : nil
        }
        guard !host.isEmpty else { throw SettingValueError("missing host, got \(given)") }
        if let port {
            guard !port.isEmpty, port.utf8.allSatisfy(SettingValueSyntax.isDigit), let number = UInt16(port), number > 0 else {
                throw SettingValueError("port must be a number from 1 to 65535, got \(given)")
            }
        }
        url = "\(scheme)://\(host.lowercased())\(port.map { ":\($0)" } ?? "")"
    }

    public var description: String { url }

    /// Parses a comma-separated list (`http://a:8700,http://b:8700`), keeping order and dropping repeats.
    /// - Throws: `SettingValueError` for an empty list or any bad address.
    public static func parseList(_ text: String) throws(SettingValueError) -> [RegistryAddress] {
        var result: [RegistryAddress] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let address = try RegistryAddress(parsing: String(part))
            if !result.contains(address) { result.append(address) }
        }
        return result
    }
}

/// Where a client finds the registry and how it authenticates.
///
/// Resolved by `ClientSettings.load`, per key: an explicit value in code > flag > environment variable >
/// config file > default. Keys:
/// - `registry`: one or more registry addresses, comma-separated (a YAML or JSON list works too).
///   Flag `--registry`, variable `ROSTER_ADDR`; default `http://127.0.0.1:8700`.
/// - `token`: the bearer token sent as `Authorization: Bearer …`. Flag `--token`, variable `ROSTER_TOKEN`;
///   default none.
///
/// The config file is `--config`, else `ROSTER_CONFIG`, else `./roster.yaml`, else
/// `~/.config/roster/config.yaml`, the first that is named or exists; YAML or JSON. The server may read the
/// same file: each side reads its own keys and ignores the other's.
public struct ClientSettings: Sendable, Equatable {
    /// Registries to use, in order of preference; never empty.
    public var registry: [RegistryAddress] = [.default]
    /// Bearer token for a registry with access control, or `nil`.
    public var token: String?

    /// Settings with the defaults.
    public init() {}

    /// Settings for the given addresses and token.
    public init(registry: [RegistryAddress], token: String? = nil) {
        self.registry = registry.isEmpty ? [.default] : registry
        self.token = token
    }

    /// The environment variable for `registry`, named like Consul's `CONSUL_HTTP_ADDR`.
    public static let registryEnvironmentVariable = "ROSTER_ADDR"

    /// Every client key, in README order.
    public static let definitions: [SettingDefinition<ClientSettings>] = [
        SettingDefinition(
            "registry", "Registry addresses, comma-separated; the first that answers is used.",
            defaults: ClientSettings(), environmentVariable: registryEnvironmentVariable, acceptsList: true,
            apply: { settings, text throws(SettingValueError) in
                settings.registry = try RegistryAddress.parseList(text)
            },
            format: { $0.registry.map(\.url).joined(separator: ",") }
        ),
        SettingDefinition(
            "token", "Bearer token for a registry with access control.",
            defaults: ClientSettings(),
            apply: { settings, text throws(SettingValueError) in
                let token = SettingValueSyntax.trimmingWhitespace(text)
                guard !token.isEmpty, token.allSatisfy({ $0.isASCII && !$0.isWhitespace && $0 != "," }) else {
                    throw SettingValueError("a token is printable ASCII without spaces")
                }
                settings.token = String(token)
            },
            format: { $0.token == nil ? "" : "(set)" }
        ),
    ]

    /// The config file a client reads: `configFile` (from `--config`), else `ROSTER_CONFIG`, else
    /// `<currentDirectory>/roster.yaml`, else `<homeDirectory>/.config/roster/config.yaml`; the last two only
    /// if they exist. `nil` if none applies.
    public static func configFileLocation(
        configFile: String?, environment: [String: String], currentDirectory: String, homeDirectory: String?
    ) -> ConfigFileLocation? {
        if let named = ConfigFileLocation.named(configFile: configFile, environment: environment) { return named }
        var candidates = [currentDirectory + "/roster.yaml"]
        if let homeDirectory, !homeDirectory.isEmpty { candidates.append(homeDirectory + "/.config/roster/config.yaml") }
        for path in candidates where access(path, F_OK) == 0 {
            return ConfigFileLocation(path: path, source: .file(path))
        }
        return nil
    }

    /// Resolves the client settings.
    /// - Parameters:
    ///   - registry: Addresses given in code; when set they win over every other source.
    ///   - flags: `["registry": "…", "token": "…"]`, only the flags given.
    ///   - environment: The process environment (`ROSTER_ADDR`, `ROSTER_TOKEN`, `ROSTER_CONFIG`).
    ///   - configFile: The path given with `--config`.
    ///   - currentDirectory: Where `roster.yaml` is looked for.
    ///   - homeDirectory: Where `.config/roster/config.yaml` is looked for (`$HOME`).
    /// - Returns: The settings, each key's source, and the config file read (if any).
    /// - Throws: `SettingsError` naming the key and source of a bad value or config file.
    public static func load(
        registry: [RegistryAddress]? = nil,
        flags: [String: String],
        environment: [String: String],
        configFile: String?,
        currentDirectory: String,
        homeDirectory: String?
    ) throws(SettingsError) -> (settings: ClientSettings, sources: [String: SettingSource], configFile: ConfigFileLocation?) {
        let location = configFileLocation(
            configFile: configFile, environment: environment, currentDirectory: currentDirectory,
            homeDirectory: homeDirectory)
        var (settings, sources) = try SettingsLoader.load(
            definitions, into: ClientSettings(), flags: flags, environment: environment, configFile: location)
        if let registry, !registry.isEmpty {
            settings.registry = registry
            sources["registry"] = .explicit
        }
        return (settings, sources, location)
    }
}
