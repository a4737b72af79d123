#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import RosterHTTP

import RosterSettings

extension ServerSettings {
    /// The flag naming the config file.
    public static let configFileFlag = ConfigFileLocation.flag
    /// The environment variable naming the config file when `--config` is absent.
    public static let configFileEnvironmentVariable = ConfigFileLocation.environmentVariable

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
        let namedFile = ConfigFileLocation.named(configFile: configFile, environment: environment)
        let (settings, sources) = try SettingsLoader.load(
            definitions, into: ServerSettings(), flags: flags, environment: environment, configFile: namedFile)
        if settings.health.timeout >= settings.health.interval {
            throw SettingsError(
                key: "health.timeout", source: sources["health.timeout"] ?? .defaultValue,
                message: "must be less than health.interval (\(SettingValueSyntax.formatDuration(settings.health.interval)) from \(sources["health.interval"] ?? .defaultValue)), got \(SettingValueSyntax.formatDuration(settings.health.timeout))")
        }
        return (settings, sources)
    }
}

/// A server setting's definition.
typealias ServerSettingDefinition = SettingDefinition<ServerSettings>

extension SettingDefinition where Settings == ServerSettings {
    /// A server setting whose documented default is that of `ServerSettings()`.
    init(
        _ name: String,
        _ summary: String,
        apply: @escaping @Sendable (inout ServerSettings, String) throws(SettingValueError) -> Void,
        format: @escaping @Sendable (ServerSettings) -> String
    ) {
        self.init(name, summary, defaults: ServerSettings(), apply: apply, format: format)
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

    static func boolean(
        _ name: String,
        _ summary: String,
        _ keyPath: any WritableKeyPath<ServerSettings, Bool> & Sendable
    ) -> Self {
        Self(
            name, summary,
            apply: { settings, text throws(SettingValueError) in
                switch SettingValueSyntax.trimmingWhitespace(text).lowercased() {
                case "true", "1", "yes", "on": settings[keyPath: keyPath] = true
                case "false", "0", "no", "off": settings[keyPath: keyPath] = false
                default: throw SettingValueError("expected true or false, got \(SettingValueSyntax.quoted(text))")
                }
            },
            format: { $0[keyPath: keyPath] ? "true" : "false" }
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
    static let definitions: [ServerSettingDefinition] = [
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
        .boolean(
            "allow_foreign_health_urls",
            "Accept health check URLs whose host is not the instance's host: true or false.",
            \.allowForeignHealthURLs),
        .positiveInteger(
            "watch.history", "Changes kept for watchers that resume; older resume points get a reset.",
            \.watch.history, isByteSize: false),
        .duration(
            "watch.keepalive", "Silence on a watch after which a keepalive comment is sent.", \.watch.keepalive, .positive),
        .positiveInteger(
            "watch.queue_size", "Changes queued per watcher; a watcher that falls further behind is dropped.",
            \.watch.queueSize, isByteSize: false),
        .positiveInteger(
            "metrics.max_services",
            "Services given their own service label in /metrics; later services are counted under _other.",
            \.metrics.maxServices, isByteSize: false),
        SettingDefinition(
            "acl_file",
            "ACL file (YAML) of tokens and their rights; turns access control on. Empty: off.",
            apply: { settings, text throws(SettingValueError) in
                let path = SettingValueSyntax.trimmingWhitespace(text)
                guard !path.utf8.contains(0) else { throw SettingValueError("a path cannot contain a NUL byte") }
                settings.aclFile = String(path)
            },
            format: { $0.aclFile }
        ),
        SettingDefinition(
            "acl_open_paths",
            "Paths served without a token when access control is on, comma-separated; empty for none.",
            apply: { settings, text throws(SettingValueError) in
                settings.aclOpenPaths = try SettingValueSyntax.parsePathList(text)
            },
            format: { $0.aclOpenPaths.joined(separator: ",") }
        ),
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
        .boolean("access_log", "Log one line per answered request at info: true or false.", \.accessLog),
    ]
}
