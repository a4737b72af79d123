#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Configuration
import Foundation
import Logging
import RosterAPI
import RosterHTTP

/// Where a setting's effective value came from.
public enum SettingSource: Sendable, Equatable, CustomStringConvertible {
    /// A command-line flag, with its dashes: `--listen`.
    case flag(String)
    /// An environment variable: `ROSTER_LISTEN`.
    case environment(String)
    /// The config file at this path, as it was given.
    case file(String)
    /// No source set the key, so its documented default applies.
    case defaultValue

    /// `flag --listen`, `environment variable ROSTER_LISTEN`, `config file /etc/roster.yaml` or `default`.
    public var description: String {
        switch self {
        case .flag(let name): "flag \(name)"
        case .environment(let name): "environment variable \(name)"
        case .file(let path): "config file \(path)"
        case .defaultValue: "default"
        }
    }
}

/// A setting that could not be loaded: which key, from which source, and what is wrong.
///
/// Problems with the config file itself (missing, unreadable, malformed, unsupported extension) use
/// the key `config`; their source is the flag or variable that named the file, or, for its contents,
/// the file.
public struct SettingsError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The setting key (`listen`, `http.max_body`), or `config` for the config file itself.
    public var key: String
    /// Where the offending value came from.
    public var source: SettingSource
    /// What is wrong, quoting the value: `expected HOST:PORT, got "nonsense"`.
    public var message: String

    /// Creates an error about `key` from `source`.
    public init(key: String, source: SettingSource, message: String) {
        self.key = key
        self.source = source
        self.message = message
    }

    /// One line naming key and source, e.g.
    /// ``invalid value for `listen` from environment variable ROSTER_LISTEN: expected HOST:PORT, got "nonsense"``.
    public var description: String {
        "invalid value for `\(key)` from \(source): \(message)"
    }
}

/// One setting key and its names in every source, derived by one naming rule.
///
/// Key `http.max_body` ⇄ flag `--http-max-body` ⇄ environment variable `ROSTER_HTTP_MAX_BODY` ⇄
/// YAML `http: {max_body: 2MiB}` ⇄ JSON `{"http": {"max_body": "2MiB"}}`.
public struct SettingKey: Sendable, Hashable {
    /// Dotted snake_case key, whose dots are the nesting levels of a config file: `http.max_body`.
    public var name: String
    /// The command-line flag: `--http-max-body`.
    public var flag: String
    /// The environment variable: `ROSTER_HTTP_MAX_BODY`.
    public var environmentVariable: String
    /// One sentence for `--help` and the README.
    public var summary: String
    /// The default in setting syntax: `1MiB`, `30s`, `127.0.0.1:8700`.
    public var defaultDescription: String

    /// Creates a key whose flag and environment variable are derived from `name`.
    public init(name: String, summary: String, defaultDescription: String) {
        self.name = name
        self.flag = Self.flag(forName: name)
        self.environmentVariable = Self.environmentVariable(forName: name)
        self.summary = summary
        self.defaultDescription = defaultDescription
    }

    /// The flag for a key: `--` and the key with dots and underscores as dashes (`--sweep-interval`).
    public static func flag(forName name: String) -> String {
        "--" + name.replacing(".", with: "-").replacing("_", with: "-")
    }

    /// The environment variable for a key: `ROSTER_` and the key upper-cased with dots as underscores
    /// (`ROSTER_HTTP_MAX_BODY`).
    public static func environmentVariable(forName name: String) -> String {
        "ROSTER_" + name.replacing(".", with: "_").uppercased()
    }
}

extension ServerSettings {
    /// The flag naming the config file.
    public static let configFileFlag = "--config"
    /// The environment variable naming the config file when `--config` is absent.
    public static let configFileEnvironmentVariable = "ROSTER_CONFIG"

    /// Every key, in README order, with flag and environment variable names derived by the one naming rule.
    public static let keys: [SettingKey] = definitions.map(\.key)

    /// The key called `name` (`http.max_body`), or `nil` if there is none.
    public static func key(named name: String) -> SettingKey? {
        keys.first { $0.name == name }
    }

    /// The key whose flag is `flag` (`--http-max-body`), or `nil` if there is none.
    public static func key(forFlag flag: String) -> SettingKey? {
        keys.first { $0.flag == flag }
    }

    /// The key read from environment variable `name` (`ROSTER_HTTP_MAX_BODY`), or `nil` if there is none.
    public static func key(forEnvironmentVariable name: String) -> SettingKey? {
        keys.first { $0.environmentVariable == name }
    }

    /// The value of the key called `name` in setting syntax (`2MiB`, `[::]:8700`), for the startup log line;
    /// parsing it gives back the same value. An unknown key gives an empty string.
    public func describe(key name: String) -> String {
        Self.definitions.first { $0.key.name == name }?.format(self) ?? ""
    }

    /// Loads settings. Precedence per key: flag > environment variable > config file > default.
    ///
    /// Each key is read as text from the highest-precedence source that has it and parsed by
    /// `SettingValueSyntax`; a bad value there stops loading, while a value it overrides is never parsed.
    /// - Parameters:
    ///   - flags: Command-line values keyed by setting key (`["listen": "[::]:8700", "http.max_body": "2MiB"]`),
    ///     holding only the flags that were given.
    ///   - environment: The process environment; only `ROSTER_*` variables are read, and unknown ones are ignored
    ///     (a client may share them).
    ///   - configFile: The path given with `--config`. If `nil`, `ROSTER_CONFIG` names the file; if neither,
    ///     no file is read (no default locations are searched). `.yaml`/`.yml` is read as YAML, `.json` as JSON.
    ///     Keys the server does not know are ignored (a client may share the file).
    /// - Returns: The settings and, for every key in `keys`, where its value came from.
    /// - Throws: `SettingsError` naming the key and source of the first bad value, a flag key that is not a
    ///   setting, or, with key `config`, a config file that is missing, unreadable, malformed or of another type.
    public static func load(
        flags: [String: String],
        environment: [String: String],
        configFile: String?
    ) throws(SettingsError) -> (settings: ServerSettings, sources: [String: SettingSource]) {
        for name in flags.keys.sorted() where key(named: name) == nil {
            throw SettingsError(key: name, source: .flag(SettingKey.flag(forName: name)), message: "unknown setting")
        }
        var layers = [
            SettingLayer(
                snapshot: InMemoryProvider(
                    name: "flags",
                    values: Dictionary(
                        uniqueKeysWithValues: flags.map { name, text in
                            (configKey(name), ConfigValue(.string(text), isSecret: false))
                        }
                    )
                ).snapshot(),
                source: { .flag($0.flag) }
            ),
            SettingLayer(
                snapshot: KeyMappingProvider(
                    upstream: EnvironmentVariablesProvider(
                        environmentVariables: environment.filter { $0.key.hasPrefix("ROSTER_") }
                    ),
                    keyMapper: { $0.prepending(["roster"]) }
                ).snapshot(),
                source: { .environment($0.environmentVariable) }
            ),
        ]
        let namedFile: (path: String, source: SettingSource)? =
            if let configFile {
                (configFile, .flag(configFileFlag))
            } else if let path = environment[configFileEnvironmentVariable] {
                (path, .environment(configFileEnvironmentVariable))
            } else {
                nil
            }
        if let namedFile, let snapshot = try configFileSnapshot(path: namedFile.path, namedBy: namedFile.source) {
            let path = namedFile.path
            layers.append(SettingLayer(snapshot: snapshot, source: { _ in .file(path) }))
        }

        var settings = ServerSettings()
        var sources: [String: SettingSource] = [:]
        for definition in definitions {
            let key = definition.key
            sources[key.name] = .defaultValue
            for layer in layers {
                let source = layer.source(key)
                do throws(SettingValueError) {
                    guard let text = try layer.text(forKey: configKey(key.name)) else { continue }
                    try definition.apply(&settings, text)
                } catch {
                    throw SettingsError(key: key.name, source: source, message: error.message)
                }
                sources[key.name] = source
                break
            }
        }
        if settings.health.timeout >= settings.health.interval {
            throw SettingsError(
                key: "health.timeout", source: sources["health.timeout"] ?? .defaultValue,
                message: "must be less than health.interval (\(SettingValueSyntax.formatDuration(settings.health.interval)) from \(sources["health.interval"] ?? .defaultValue)), got \(SettingValueSyntax.formatDuration(settings.health.timeout))")
        }
        return (settings, sources)
    }

    /// The configuration key for a dotted setting key: `http.max_body` → `["http", "max_body"]`.
    static func configKey(_ name: String) -> AbsoluteConfigKey {
        AbsoluteConfigKey(name.split(separator: ".").map(String.init))
    }

    /// Reads and parses the config file, or returns `nil` for a file with no settings in it (empty, or only
    /// YAML comments).
    ///
    /// Reads synchronously and builds the snapshot directly, so `load` needs no `async`: `FileProvider`'s
    /// initializer is `async` and its file errors are not public.
    static func configFileSnapshot(
        path: String, namedBy source: SettingSource
    ) throws(SettingsError) -> (any ConfigSnapshot)? {
        func failure(_ message: String, from source: SettingSource) -> SettingsError {
            SettingsError(key: "config", source: source, message: message)
        }
        guard !path.isEmpty else { throw failure("config file path is empty", from: source) }
        let fileName = path.split(separator: "/").last ?? ""
        let fileExtension = fileName.lastIndex(of: ".").map { fileName[$0...].dropFirst().lowercased() } ?? ""
        let isYAML: Bool
        switch fileExtension {
        case "yaml", "yml": isYAML = true
        case "json": isYAML = false
        default:
            throw failure(
                "unsupported config file type (use .yaml, .yml or .json): \(path)", from: source)
        }
        let contents: [UInt8]?
        do throws(SettingValueError) {
            contents = try readFile(atPath: path)
        } catch {
            throw failure("cannot read config file \(path): \(error.message)", from: source)
        }
        guard let bytes = contents else { throw failure("config file not found: \(path)", from: source) }
        let text = String(decoding: bytes, as: UTF8.self)
        let meaningfulLines = text.split(whereSeparator: \.isNewline).lazy
            .map { SettingValueSyntax.trimmingWhitespace($0) }
            .filter { !$0.isEmpty && !(isYAML && ($0.hasPrefix("#") || $0 == "---")) }
        if meaningfulLines.isEmpty { return nil }
        do {
            let providerName = "config file \(path)"
            if isYAML {
                return try YAMLSnapshot(data: bytes.span.bytes, providerName: providerName, parsingOptions: .default)
            } else {
                return try jsonSnapshot(bytes, providerName: providerName)
            }
        } catch {
            throw failure("malformed \(isYAML ? "YAML" : "JSON"): \(oneLine(error))", from: .file(path))
        }
    }

    /// A JSON config file as a snapshot of text values: numbers keep their literal, booleans become
    /// `true`/`false`, so that every value is parsed by the same rules as a flag.
    ///
    /// Read with the strict `JSONReader` rather than `JSONSnapshot`, whose Foundation parsing on Linux
    /// turns `true` into `1` (so `"max_body": true` would silently mean one byte).
    static func jsonSnapshot(_ bytes: [UInt8], providerName: String) throws -> any ConfigSnapshot {
        let root = try JSONReader.read(bytes, maxDepth: 16)
        guard case .object = root else { throw ConfigFileError("the top level must be an object") }
        var values: [AbsoluteConfigKey: ConfigValue] = [:]
        func flatten(_ value: JSONValue, _ path: [String]) {
            switch value {
            case .object(let object):
                for (key, member) in object { flatten(member, path + [key]) }
            case .string(let text): values[AbsoluteConfigKey(path)] = ConfigValue(.string(text), isSecret: false)
            case .number(let number): values[AbsoluteConfigKey(path)] = ConfigValue(.string(number.literal), isSecret: false)
            case .bool(let flag): values[AbsoluteConfigKey(path)] = ConfigValue(.string(flag ? "true" : "false"), isSecret: false)
            case .array: values[AbsoluteConfigKey(path)] = ConfigValue(.stringArray(["(a list)"]), isSecret: false)
            case .null: break
            }
        }
        flatten(root, [])
        return InMemoryProvider(name: providerName, values: values).snapshot()
    }

    struct ConfigFileError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// Most bytes read from a config file, so that a path like `/dev/zero` cannot exhaust memory.
    static let maximumConfigFileSize = 1 << 20

    /// Reads the whole file at `path`, or returns `nil` if nothing is there.
    /// - Throws: `SettingValueError` with the system's reason (`Permission denied`, `Is a directory`), or for
    ///   a file larger than `maximumConfigFileSize`.
    static func readFile(atPath path: String) throws(SettingValueError) -> [UInt8]? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        if descriptor < 0 {
            if errno == ENOENT { return nil }
            throw SettingValueError(String(cString: strerror(errno)))
        }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw SettingValueError(String(cString: strerror(errno)))
            }
            if count == 0 { return bytes }
            bytes.append(contentsOf: chunk[..<count])
            if bytes.count > maximumConfigFileSize {
                throw SettingValueError("larger than \(SettingValueSyntax.formatByteSize(maximumConfigFileSize))")
            }
        }
    }

    /// `error`'s description on one line, so that a `SettingsError` stays one line. For Foundation's JSON
    /// errors that is their debug description (`Unexpected end of file during JSON parse.`); for Yams errors
    /// the excerpt and caret lines are dropped (the message already names line and column).
    private static func oneLine(_ error: any Error) -> String {
        let nsError = error as NSError
        if nsError.domain == NSCocoaErrorDomain, let reason = nsError.userInfo[NSDebugDescriptionErrorKey] as? String {
            return reason
        }
        var lines = String(describing: error).split(whereSeparator: \.isNewline)
            .map { SettingValueSyntax.trimmingWhitespace($0) }
        if lines.count >= 2, lines.last == "^" {
            lines.removeLast(2)
            if let last = lines.last, last.hasSuffix(":") { lines[lines.count - 1] = last.dropLast() }
        }
        return lines.filter { !$0.isEmpty }.joined(separator: " ")
    }
}

/// One source of settings, read through swift-configuration, and how to name it in errors and sources.
struct SettingLayer: Sendable {
    /// The source's values, keyed by setting key (the environment layer maps keys to `ROSTER_…` names).
    var snapshot: any ConfigSnapshot
    /// The name of this source for a key: its flag, its variable, or the file.
    var source: @Sendable (SettingKey) -> SettingSource

    /// The text of the value at `key`, or `nil` if this source does not set it.
    ///
    /// Flags, environment variables and YAML scalars are text already. JSON numbers answer only to numeric
    /// lookups, so they are read as `Int` or `Double` and written back as text (JSON `true` reads as `1`).
    /// - Throws: `SettingValueError` for a value that is neither text nor a number (a list).
    func text(forKey key: AbsoluteConfigKey) throws(SettingValueError) -> String? {
        do {
            guard let value = try snapshot.value(forKey: key, type: .string).value else { return nil }
            if case .string(let text) = value.content { return text }
        } catch {
            // A value of another type; try the numeric readings below.
        }
        if let value = try? snapshot.value(forKey: key, type: .int).value, case .int(let number) = value.content {
            return String(number)
        }
        if let value = try? snapshot.value(forKey: key, type: .double).value,
            case .double(let number) = value.content
        {
            return String(number)
        }
        throw SettingValueError("expected a single value, not a list or object")
    }
}

/// How one key is parsed into `ServerSettings` and formatted back.
struct SettingDefinition: Sendable {
    /// The key and its names.
    var key: SettingKey
    /// Parses text and stores it; throws without storing if the text is not a valid value.
    var apply: @Sendable (inout ServerSettings, String) throws(SettingValueError) -> Void
    /// The current value in setting syntax.
    var format: @Sendable (ServerSettings) -> String

    init(
        _ name: String,
        _ summary: String,
        apply: @escaping @Sendable (inout ServerSettings, String) throws(SettingValueError) -> Void,
        format: @escaping @Sendable (ServerSettings) -> String
    ) {
        self.key = SettingKey(name: name, summary: summary, defaultDescription: format(ServerSettings()))
        self.apply = apply
        self.format = format
    }

    /// The range a duration setting must lie in.
    enum DurationBounds: Sendable {
        case positive
        case nonNegative
        case within(ClosedRange<Duration>)
    }

    static func duration(
        _ name: String,
        _ summary: String,
        _ keyPath: any WritableKeyPath<ServerSettings, Duration> & Sendable,
        _ bounds: DurationBounds
    ) -> Self {
        Self(
            name, summary,
            apply: { settings, text throws(SettingValueError) in
                let value = try SettingValueSyntax.parseDuration(text)
                switch bounds {
                case .positive where value <= .zero:
                    throw SettingValueError("must be greater than 0, got \(SettingValueSyntax.quoted(text))")
                case .within(let range) where !range.contains(value):
                    let lower = SettingValueSyntax.formatDuration(range.lowerBound)
                    let upper = SettingValueSyntax.formatDuration(range.upperBound)
                    throw SettingValueError("must be from \(lower) to \(upper), got \(SettingValueSyntax.quoted(text))")
                default:
                    settings[keyPath: keyPath] = value
                }
            },
            format: { SettingValueSyntax.formatDuration($0[keyPath: keyPath]) }
        )
    }

    static func positiveInteger(
        _ name: String,
        _ summary: String,
        _ keyPath: any WritableKeyPath<ServerSettings, Int> & Sendable,
        isByteSize: Bool
    ) -> Self {
        Self(
            name, summary,
            apply: { settings, text throws(SettingValueError) in
                let value =
                    isByteSize ? try SettingValueSyntax.parseByteSize(text) : try SettingValueSyntax.parseCount(text)
                guard value > 0 else {
                    throw SettingValueError("must be greater than 0, got \(SettingValueSyntax.quoted(text))")
                }
                settings[keyPath: keyPath] = value
            },
            format: {
                isByteSize ? SettingValueSyntax.formatByteSize($0[keyPath: keyPath]) : String($0[keyPath: keyPath])
            }
        )
    }
}

extension ServerSettings {
    /// Every key, in README order.
    static let definitions: [SettingDefinition] = [
        SettingDefinition(
            "listen",
            "Address and port to listen on, as IPV4:PORT, [IPV6]:PORT or localhost:PORT; [::]:8700 for all interfaces.",
            apply: { settings, text throws(SettingValueError) in settings.listen = try ListenAddress(parsing: text) },
            format: { $0.listen.description }
        ),
        .duration("sweep_interval", "How often expired leases are swept; greater than 0.", \.sweepInterval, .positive),
        .duration(
            "default_ttl", "Lease TTL for a registration that names none; from 1s to 24h.", \.defaultTTL,
            .within(.seconds(1) ... .seconds(86_400))),
        .duration(
            "shutdown_timeout", "How long a graceful shutdown waits for in-flight requests; 0 or more.",
            \.shutdownTimeout, .nonNegative),
        .positiveInteger(
            "http.max_request_line", "Longest request line in bytes; longer is answered 414.",
            \.http.maxRequestLine, isByteSize: true),
        .positiveInteger(
            "http.max_header_bytes", "Most bytes of header fields in one request; more is answered 431.",
            \.http.maxHeaderBytes, isByteSize: true),
        .positiveInteger(
            "http.max_header_fields", "Most header fields in one request; more is answered 431.",
            \.http.maxHeaderFields, isByteSize: false),
        .positiveInteger(
            "http.max_body", "Largest request body in bytes; larger is answered 413.", \.http.maxBody,
            isByteSize: true),
        .duration(
            "http.head_timeout", "Time allowed for a request's head (and again its body) to arrive; then 408.",
            \.http.headTimeout, .positive),
        .duration(
            "http.idle_timeout", "How long an idle keep-alive connection is kept open.", \.http.idleTimeout,
            .positive),
        .positiveInteger(
            "http.max_connections", "Most open connections; the next one is answered 503 and closed.",
            \.http.maxConnections, isByteSize: false),
        .duration(
            "health.interval", "Default time between health probes; at least 1s.", \.health.interval,
            .within(.seconds(1) ... .seconds(86_400))),
        .duration(
            "health.timeout", "Default time a health probe may take; at least 100ms and less than health.interval.",
            \.health.timeout, .within(.milliseconds(100) ... .seconds(86_400))),
        .positiveInteger(
            "health.unhealthy_threshold", "Default consecutive failed probes that make an instance unhealthy.",
            \.health.unhealthyThreshold, isByteSize: false),
        .positiveInteger(
            "health.healthy_threshold", "Default consecutive passed probes that make an unhealthy instance healthy.",
            \.health.healthyThreshold, isByteSize: false),
        .positiveInteger(
            "health.max_concurrent_probes", "Most health probes in flight at once.",
            \.health.maxConcurrentProbes, isByteSize: false),
        SettingDefinition(
            "allow_foreign_health_urls",
            "Accept health check URLs whose host is not the instance's host: true or false.",
            apply: { settings, text throws(SettingValueError) in
                switch SettingValueSyntax.trimmingWhitespace(text).lowercased() {
                case "true", "1", "yes", "on": settings.allowForeignHealthURLs = true
                case "false", "0", "no", "off": settings.allowForeignHealthURLs = false
                default: throw SettingValueError("expected true or false, got \(SettingValueSyntax.quoted(text))")
                }
            },
            format: { $0.allowForeignHealthURLs ? "true" : "false" }
        ),
        .positiveInteger(
            "watch.history", "Changes kept for watchers that resume; older resume points get a reset.",
            \.watch.history, isByteSize: false),
        .duration(
            "watch.keepalive", "Silence on a watch after which a keepalive comment is sent.", \.watch.keepalive, .positive),
        .positiveInteger(
            "watch.queue_size", "Changes queued per watcher; a watcher that falls further behind is dropped.",
            \.watch.queueSize, isByteSize: false),
        SettingDefinition(
            "log_level",
            "Least severe level logged: trace, debug, info, notice, warning, error or critical.",
            apply: { settings, text throws(SettingValueError) in
                guard let level = Logger.Level(rawValue: SettingValueSyntax.trimmingWhitespace(text).lowercased())
                else {
                    let names = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
                    throw SettingValueError("expected one of \(names), got \(SettingValueSyntax.quoted(text))")
                }
                settings.logLevel = level
            },
            format: { $0.logLevel.rawValue }
        ),
        SettingDefinition(
            "log_format",
            "Shape of log lines: text, or json for one object per line.",
            apply: { settings, text throws(SettingValueError) in
                guard let format = LogFormat(rawValue: SettingValueSyntax.trimmingWhitespace(text).lowercased())
                else {
                    let names = LogFormat.allCases.map(\.rawValue).joined(separator: ", ")
                    throw SettingValueError("expected one of \(names), got \(SettingValueSyntax.quoted(text))")
                }
                settings.logFormat = format
            },
            format: { $0.logFormat.rawValue }
        ),
    ]
}
