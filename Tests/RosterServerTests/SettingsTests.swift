#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
import RosterHTTP
import Testing

import RosterServer
import RosterSettings

/// A directory under the system's temporary directory, removed when the last reference goes away.
private final class TemporaryDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory
            .appendingPathComponent("roster-settings-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// Writes `contents` to `name` inside the directory and returns the file's path.
    func write(_ name: String, _ contents: String) throws -> String {
        let filePath = path + "/" + name
        try Data(contents.utf8).write(to: URL(fileURLWithPath: filePath))
        return filePath
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Loads settings, returning the error instead of throwing it, for tests that expect failure.
private func loadError(
    flags: [String: String] = [:], environment: [String: String] = [:], configFile: String? = nil
) -> SettingsError? {
    do {
        _ = try ServerSettings.load(flags: flags, environment: environment, configFile: configFile)
        return nil
    } catch {
        return error
    }
}

/// A YAML document setting dotted `name` to the quoted `value`, nesting one level per dot.
private func nestedYAML(_ name: String, _ value: String) -> String {
    let components = name.split(separator: ".")
    var yaml = ""
    for (depth, component) in components.enumerated() {
        let indent = String(repeating: "  ", count: depth)
        yaml += depth == components.count - 1 ? "\(indent)\(component): \"\(value)\"\n" : "\(indent)\(component):\n"
    }
    return yaml
}

/// A JSON document setting dotted `name` to the string `value`, nesting one object per dot.
private func nestedJSON(_ name: String, _ value: String) -> String {
    name.split(separator: ".").reversed().reduce("\"\(value)\"") { inner, component in "{\"\(component)\": \(inner)}" }
}

@Suite(.timeLimit(.minutes(2))) struct SettingKeyNamingTests {
    /// Every key with its flag, environment variable and documented default, in README order.
    static let table: [(name: String, flag: String, environmentVariable: String, defaultDescription: String)] = [
        ("listen", "--listen", "ROSTER_LISTEN", "127.0.0.1:8700"),
        ("sweep_interval", "--sweep-interval", "ROSTER_SWEEP_INTERVAL", "1s"),
        ("default_ttl", "--default-ttl", "ROSTER_DEFAULT_TTL", "30s"),
        ("shutdown_timeout", "--shutdown-timeout", "ROSTER_SHUTDOWN_TIMEOUT", "10s"),
        ("http.max_request_line", "--http-max-request-line", "ROSTER_HTTP_MAX_REQUEST_LINE", "8KiB"),
        ("http.max_header_bytes", "--http-max-header-bytes", "ROSTER_HTTP_MAX_HEADER_BYTES", "32KiB"),
        ("http.max_header_fields", "--http-max-header-fields", "ROSTER_HTTP_MAX_HEADER_FIELDS", "100"),
        ("http.max_body", "--http-max-body", "ROSTER_HTTP_MAX_BODY", "1MiB"),
        ("http.head_timeout", "--http-head-timeout", "ROSTER_HTTP_HEAD_TIMEOUT", "10s"),
        ("http.idle_timeout", "--http-idle-timeout", "ROSTER_HTTP_IDLE_TIMEOUT", "75s"),
        ("http.max_connections", "--http-max-connections", "ROSTER_HTTP_MAX_CONNECTIONS", "16384"),
        ("health.interval", "--health-interval", "ROSTER_HEALTH_INTERVAL", "10s"),
        ("health.timeout", "--health-timeout", "ROSTER_HEALTH_TIMEOUT", "5s"),
        ("health.unhealthy_threshold", "--health-unhealthy-threshold", "ROSTER_HEALTH_UNHEALTHY_THRESHOLD", "3"),
        ("health.healthy_threshold", "--health-healthy-threshold", "ROSTER_HEALTH_HEALTHY_THRESHOLD", "2"),
        ("health.max_concurrent_probes", "--health-max-concurrent-probes", "ROSTER_HEALTH_MAX_CONCURRENT_PROBES", "512"),
        ("allow_foreign_health_urls", "--allow-foreign-health-urls", "ROSTER_ALLOW_FOREIGN_HEALTH_URLS", "false"),
        ("watch.history", "--watch-history", "ROSTER_WATCH_HISTORY", "10000"),
        ("watch.keepalive", "--watch-keepalive", "ROSTER_WATCH_KEEPALIVE", "15s"),
        ("watch.queue_size", "--watch-queue-size", "ROSTER_WATCH_QUEUE_SIZE", "1024"),
        ("metrics.max_services", "--metrics-max-services", "ROSTER_METRICS_MAX_SERVICES", "1000"),
        ("acl_file", "--acl-file", "ROSTER_ACL_FILE", ""),
        ("acl_open_paths", "--acl-open-paths", "ROSTER_ACL_OPEN_PATHS", "/healthz,/readyz"),
        ("log_level", "--log-level", "ROSTER_LOG_LEVEL", "info"),
        ("log_format", "--log-format", "ROSTER_LOG_FORMAT", "text"),
        ("access_log", "--access-log", "ROSTER_ACCESS_LOG", "false"),
    ]

    @Test func `keys are listed in README order`() {
        #expect(ServerSettings.keys.map(\.name) == Self.table.map(\.name))
    }

    @Test(arguments: table)
    func `key maps to its flag and environment variable and back`(
        entry: (name: String, flag: String, environmentVariable: String, defaultDescription: String)
    ) throws {
        let key = try #require(ServerSettings.key(named: entry.name))
        #expect(key.flag == entry.flag)
        #expect(key.environmentVariable == entry.environmentVariable)
        #expect(ServerSettings.key(forFlag: entry.flag)?.name == entry.name)
        #expect(ServerSettings.key(forEnvironmentVariable: entry.environmentVariable)?.name == entry.name)
        #expect(key.defaultDescription == entry.defaultDescription)
        #expect(!key.summary.isEmpty)
    }

    @Test(arguments: [
        ("health.interval", "--health-interval", "ROSTER_HEALTH_INTERVAL"),
        ("sweep_interval", "--sweep-interval", "ROSTER_SWEEP_INTERVAL"),
        ("a.b_c.d", "--a-b-c-d", "ROSTER_A_B_C_D"),
    ])
    func `naming rule derives flag and environment variable from any key`(
        name: String, flag: String, environmentVariable: String
    ) {
        #expect(SettingKey.flag(forName: name) == flag)
        #expect(SettingKey.environmentVariable(forName: name) == environmentVariable)
    }

    @Test func `unknown names find no key`() {
        #expect(ServerSettings().describe(key: "max_body") == "")
        #expect(ServerSettings.key(named: "max_body") == nil)
        #expect(ServerSettings.key(forFlag: "--config") == nil)
        #expect(ServerSettings.key(forEnvironmentVariable: "HTTP_MAX_BODY") == nil)
    }
}

@Suite(.timeLimit(.minutes(2))) struct ServerSettingsLoadingTests {
    /// For every key, a valid value that differs from the default, and how it is formatted back.
    static let samples: [(name: String, text: String, formatted: String)] = [
        ("listen", "[::]:9000", "[::]:9000"),
        ("sweep_interval", "250ms", "250ms"),
        ("default_ttl", "2m", "2m"),
        ("shutdown_timeout", "0", "0s"),
        ("http.max_request_line", "4KiB", "4KiB"),
        ("http.max_header_bytes", "16KiB", "16KiB"),
        ("http.max_header_fields", "50", "50"),
        ("http.max_body", "2MiB", "2MiB"),
        ("http.head_timeout", "5s", "5s"),
        ("http.idle_timeout", "1h", "1h"),
        ("http.max_connections", "1000", "1000"),
        ("health.interval", "30s", "30s"),
        ("health.timeout", "500ms", "500ms"),
        ("health.unhealthy_threshold", "5", "5"),
        ("health.healthy_threshold", "1", "1"),
        ("health.max_concurrent_probes", "64", "64"),
        ("allow_foreign_health_urls", "true", "true"),
        ("watch.history", "100", "100"),
        ("watch.keepalive", "30s", "30s"),
        ("watch.queue_size", "64", "64"),
        ("metrics.max_services", "10", "10"),
        ("acl_file", "/etc/roster/acl.yaml", "/etc/roster/acl.yaml"),
        ("acl_open_paths", "/healthz, /metrics", "/healthz,/metrics"),
        ("log_level", "debug", "debug"),
        ("log_format", "json", "json"),
        ("access_log", "on", "true"),
    ]

    enum SourceKind: CaseIterable { case flag, environment, yaml, json }

    @Test func `defaults apply when no source sets a key`() throws {
        let (settings, sources) = try ServerSettings.load(flags: [:], environment: [:], configFile: nil)
        #expect(settings == ServerSettings())
        #expect(settings.listen == ListenAddress(host: "127.0.0.1", port: 8700))
        #expect(settings.sweepInterval == .seconds(1))
        #expect(settings.defaultTTL == .seconds(30))
        #expect(settings.shutdownTimeout == .seconds(10))
        #expect(settings.http == HTTPServerConfiguration())
        #expect(settings.logLevel == .info)
        #expect(settings.logFormat == .text)
        #expect(sources.count == ServerSettings.keys.count)
        #expect(sources.values.allSatisfy { $0 == .defaultValue })
    }

    @Test func `samples cover every key`() {
        #expect(Self.samples.map(\.name) == ServerSettings.keys.map(\.name))
    }

    @Test(arguments: samples, SourceKind.allCases)
    func `every key is read from every source under its mapped name`(
        sample: (name: String, text: String, formatted: String), kind: SourceKind
    ) throws {
        let key = try #require(ServerSettings.key(named: sample.name))
        let directory = try TemporaryDirectory()
        var flags: [String: String] = [:]
        var environment: [String: String] = [:]
        var configFile: String?
        let expectedSource: SettingSource
        switch kind {
        case .flag:
            flags[sample.name] = sample.text
            expectedSource = .flag(key.flag)
        case .environment:
            environment[key.environmentVariable] = sample.text
            expectedSource = .environment(key.environmentVariable)
        case .yaml:
            configFile = try directory.write("roster.yaml", nestedYAML(sample.name, sample.text))
            expectedSource = .file(configFile!)
        case .json:
            configFile = try directory.write("roster.json", nestedJSON(sample.name, sample.text))
            expectedSource = .file(configFile!)
        }
        let (settings, sources) = try ServerSettings.load(
            flags: flags, environment: environment, configFile: configFile)
        #expect(settings.describe(key: sample.name) == sample.formatted)
        #expect(sources[sample.name] == expectedSource)
        #expect(settings != ServerSettings())
        #expect(sources.filter { $0.value != .defaultValue }.map(\.key) == [sample.name])
    }

    @Test(arguments: ["yaml", "json"])
    func `flag beats environment beats file beats default`(fileExtension: String) throws {
        let directory = try TemporaryDirectory()
        let contents =
            fileExtension == "yaml"
            ? """
            listen: "0.0.0.0:1111"
            sweep_interval: 3s
            http:
              max_body: 3MiB
            log_level: error
            """
            : """
            {"listen": "0.0.0.0:1111", "sweep_interval": "3s", "http": {"max_body": "3MiB"}, "log_level": "error"}
            """
        let path = try directory.write("roster.\(fileExtension)", contents)
        let (settings, sources) = try ServerSettings.load(
            flags: ["listen": "0.0.0.0:3333", "sweep_interval": "1500ms"],
            environment: [
                "ROSTER_LISTEN": "0.0.0.0:2222", "ROSTER_SWEEP_INTERVAL": "2s", "ROSTER_HTTP_MAX_BODY": "2MiB",
            ],
            configFile: path
        )
        #expect(settings.listen == ListenAddress(host: "0.0.0.0", port: 3333))
        #expect(sources["listen"] == .flag("--listen"))
        #expect(settings.sweepInterval == .milliseconds(1500))
        #expect(sources["sweep_interval"] == .flag("--sweep-interval"))
        #expect(settings.http.maxBody == 2 * 1024 * 1024)
        #expect(sources["http.max_body"] == .environment("ROSTER_HTTP_MAX_BODY"))
        #expect(settings.logLevel == .error)
        #expect(sources["log_level"] == .file(path))
        #expect(settings.defaultTTL == .seconds(30))
        #expect(sources["default_ttl"] == .defaultValue)
    }

    @Test func `nested YAML in flow style and plain numbers are read`() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write(
            "roster.yml",
            """
            http: {max_body: 2MiB, max_connections: 500, idle_timeout: 1.5}
            sweep_interval: 5
            """
        )
        let (settings, _) = try ServerSettings.load(flags: [:], environment: [:], configFile: path)
        #expect(settings.http.maxBody == 2 * 1024 * 1024)
        #expect(settings.http.maxConnections == 500)
        #expect(settings.http.idleTimeout == .milliseconds(1500))
        #expect(settings.sweepInterval == .seconds(5))
    }

    @Test func `nested JSON with numbers is read`() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write(
            "roster.json",
            """
            {"http": {"max_body": 1048576, "head_timeout": 2.5, "max_header_fields": 20}, "default_ttl": 45}
            """
        )
        let (settings, sources) = try ServerSettings.load(flags: [:], environment: [:], configFile: path)
        #expect(settings.http.maxBody == 1_048_576)
        #expect(settings.http.headTimeout == .milliseconds(2500))
        #expect(settings.http.maxHeaderFields == 20)
        #expect(settings.defaultTTL == .seconds(45))
        #expect(sources["http.max_body"] == .file(path))
    }

    @Test func `unknown keys in the config file are ignored`() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write(
            "shared.yaml",
            """
            registry: http://127.0.0.1:8700
            token: s3cret
            client:
              retries: [1, 2, 3]
            http:
              max_body: 2MiB
              compression: on
            """
        )
        let (settings, sources) = try ServerSettings.load(flags: [:], environment: [:], configFile: path)
        var expected = ServerSettings()
        expected.http.maxBody = 2 * 1024 * 1024
        #expect(settings == expected)
        #expect(sources.filter { $0.value != .defaultValue }.map(\.key) == ["http.max_body"])
    }

    @Test func `environment variables without the ROSTER prefix are ignored`() throws {
        let (settings, sources) = try ServerSettings.load(
            flags: [:],
            environment: ["LISTEN": "nonsense", "SWEEP_INTERVAL": "-1", "HTTP_MAX_BODY": "1", "ROSTER_TOKEN": "x"],
            configFile: nil
        )
        #expect(settings == ServerSettings())
        #expect(sources["listen"] == .defaultValue)
    }

    @Test func `bad listen in the environment names key and source`() throws {
        let error = try #require(loadError(environment: ["ROSTER_LISTEN": "nonsense"]))
        #expect(
            error == SettingsError(
                key: "listen", source: .environment("ROSTER_LISTEN"), message: "expected HOST:PORT, got \"nonsense\""))
        #expect(
            error.description
                == "invalid value for `listen` from environment variable ROSTER_LISTEN: "
                + "expected HOST:PORT, got \"nonsense\""
        )
    }

    @Test func `negative sweep interval flag names key and source`() throws {
        let error = try #require(loadError(flags: ["sweep_interval": "-1"]))
        #expect(
            error == SettingsError(
                key: "sweep_interval", source: .flag("--sweep-interval"), message: "must not be negative, got \"-1\""))
        #expect(
            error.description
                == "invalid value for `sweep_interval` from flag --sweep-interval: must not be negative, got \"-1\"")
    }

    @Test func `bad value in the config file names the file`() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("roster.yaml", "http:\n  max_body: lots\n")
        let error = try #require(loadError(configFile: path))
        #expect(error.key == "http.max_body")
        #expect(error.source == .file(path))
        #expect(error.message == "expected a byte size such as 1500, 8KiB, 1MiB or 2MB, got \"lots\"")
    }

    @Test func `a list where a value belongs is an error`() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("roster.yaml", "listen: [\"127.0.0.1:1\", \"[::1]:2\"]\n")
        let error = try #require(loadError(configFile: path))
        #expect(
            error == SettingsError(
                key: "listen", source: .file(path), message: "expected a single value, not a list or object"))
    }

    @Test func `unquoted bracketed address in YAML is malformed YAML`() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("roster.yaml", "listen: [::]:8700\n")
        let error = try #require(loadError(configFile: path))
        #expect(
            error == SettingsError(
                key: "config", source: .file(path),
                message:
                    "malformed YAML: 1:10: error: parser: while parsing a flow node in line 1, column 10 "
                    + "did not find expected node content"
            ))
    }

    @Test func `bad value overridden by a higher source is ignored`() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("roster.yaml", "listen: nonsense\nlog_level: loud\n")
        let (settings, sources) = try ServerSettings.load(
            flags: ["listen": "[::1]:0"], environment: ["ROSTER_LOG_LEVEL": "warning"], configFile: path)
        #expect(settings.listen == ListenAddress(host: "::1", port: 0))
        #expect(settings.logLevel == .warning)
        #expect(sources["log_level"] == .environment("ROSTER_LOG_LEVEL"))
    }

    @Test(arguments: [
        ("default_ttl", "0.5s", "must be from 1s to 24h, got \"0.5s\""),
        ("default_ttl", "25h", "must be from 1s to 24h, got \"25h\""),
        ("sweep_interval", "0", "must be greater than 0, got \"0\""),
        ("http.idle_timeout", "0ms", "must be greater than 0, got \"0ms\""),
        ("http.max_body", "0", "must be greater than 0, got \"0\""),
        ("http.max_connections", "0", "must be greater than 0, got \"0\""),
        ("http.max_header_fields", "1KiB", "expected a whole number, got \"1KiB\""),
        ("log_level", "loud", "expected one of trace, debug, info, notice, warning, error, critical, got \"loud\""),
        ("log_format", "xml", "expected one of text, json, got \"xml\""),
    ])
    func `out of range and unknown values are errors naming the flag`(
        name: String, text: String, message: String
    ) throws {
        let error = try #require(loadError(flags: [name: text]))
        #expect(error == SettingsError(key: name, source: .flag(SettingKey.flag(forName: name)), message: message))
    }

    @Test(arguments: [("1s", 1), ("86400s", 86_400), ("24h", 86_400)])
    func `default TTL bounds are inclusive`(text: String, seconds: Int) throws {
        let (settings, _) = try ServerSettings.load(flags: ["default_ttl": text], environment: [:], configFile: nil)
        #expect(settings.defaultTTL == .seconds(seconds))
    }

    @Test func `log level and format ignore case`() throws {
        let (settings, _) = try ServerSettings.load(
            flags: [:], environment: ["ROSTER_LOG_LEVEL": "DEBUG", "ROSTER_LOG_FORMAT": "Json"], configFile: nil)
        #expect(settings.logLevel == .debug)
        #expect(settings.logFormat == .json)
    }

    @Test func `a flag that is not a setting is an error`() throws {
        let error = try #require(loadError(flags: ["max_bdy": "1"]))
        #expect(error == SettingsError(key: "max_bdy", source: .flag("--max-bdy"), message: "unknown setting"))
    }

    @Test func `missing config file named by flag is an error`() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/absent.yaml"
        let error = try #require(loadError(configFile: path))
        #expect(
            error == SettingsError(key: "config", source: .flag("--config"), message: "config file not found: \(path)"))
        #expect(error.description == "invalid value for `config` from flag --config: config file not found: \(path)")
    }

    @Test func `missing config file named by environment is an error`() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/absent.json"
        let error = try #require(loadError(environment: ["ROSTER_CONFIG": path]))
        #expect(
            error == SettingsError(
                key: "config", source: .environment("ROSTER_CONFIG"), message: "config file not found: \(path)"))
    }

    @Test func `config flag wins over ROSTER_CONFIG`() throws {
        let directory = try TemporaryDirectory()
        let flagged = try directory.write("flagged.yaml", "log_format: json\n")
        let environmentFile = try directory.write("env.yaml", "log_format: nonsense\n")
        let (settings, sources) = try ServerSettings.load(
            flags: [:], environment: ["ROSTER_CONFIG": environmentFile], configFile: flagged)
        #expect(settings.logFormat == .json)
        #expect(sources["log_format"] == .file(flagged))
    }

    @Test func `malformed YAML is a config error naming the file`() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("roster.yaml", "listen: \"127.0.0.1:8700\n  http: [unclosed\n")
        let error = try #require(loadError(configFile: path))
        #expect(error.key == "config")
        #expect(error.source == .file(path))
        #expect(error.message.hasPrefix("malformed YAML: "))
        #expect(!error.description.contains("\n"))
    }

    @Test func `YAML whose top level is not a mapping is a config error`() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("roster.yaml", "- listen\n- sweep_interval\n")
        let error = try #require(loadError(configFile: path))
        #expect(
            error == SettingsError(
                key: "config", source: .file(path), message: "malformed YAML: Top level YAML value is not a mapping."))
    }

    @Test func `malformed JSON is a config error naming the file`() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("roster.json", "{\"listen\": ")
        let error = try #require(loadError(configFile: path))
        #expect(error.key == "config")
        #expect(error.source == .file(path))
        #expect(error.message.hasPrefix("malformed JSON: "))
    }

    @Test(arguments: ["roster.toml", "roster", "roster.yaml.bak"])
    func `config file of another type is an error`(fileName: String) throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write(fileName, "listen: \"127.0.0.1:1\"\n")
        let error = try #require(loadError(configFile: path))
        #expect(
            error == SettingsError(
                key: "config", source: .flag("--config"),
                message: "unsupported config file type (use .yaml, .yml or .json): \(path)"))
    }

    @Test func `config file that is a directory is an error`() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/dir.yaml"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        let error = try #require(loadError(configFile: path))
        #expect(
            error == SettingsError(
                key: "config", source: .flag("--config"), message: "cannot read config file \(path): Is a directory"))
    }

    @Test func `config file over 1 MiB is an error`() throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("big.yaml", "# " + String(repeating: "x", count: 1 << 20) + "\n")
        let error = try #require(loadError(environment: ["ROSTER_CONFIG": path]))
        #expect(
            error == SettingsError(
                key: "config", source: .environment("ROSTER_CONFIG"),
                message: "cannot read config file \(path): larger than 1MiB"))
    }

    @Test func `empty config file path is an error`() throws {
        let error = try #require(loadError(environment: ["ROSTER_CONFIG": ""]))
        #expect(
            error == SettingsError(
                key: "config", source: .environment("ROSTER_CONFIG"), message: "config file path is empty"))
    }

    @Test(arguments: ["", "\n  \n", "# all commented out\n# listen: \"[::]:1\"\n---\n"])
    func `YAML file without settings leaves defaults`(contents: String) throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("roster.yaml", contents)
        let (settings, sources) = try ServerSettings.load(flags: [:], environment: [:], configFile: path)
        #expect(settings == ServerSettings())
        #expect(sources["listen"] == .defaultValue)
    }

    @Test(arguments: [
        (SettingSource.flag("--listen"), "flag --listen"),
        (.environment("ROSTER_LISTEN"), "environment variable ROSTER_LISTEN"),
        (.file("/etc/roster.yaml"), "config file /etc/roster.yaml"),
        (.defaultValue, "default"),
    ])
    func `sources describe themselves for the startup log`(source: SettingSource, text: String) {
        #expect(source.description == text)
    }
}

@Suite(.timeLimit(.minutes(2))) struct SettingValueSyntaxTests {
    @Test(arguments: [
        ("500ms", Duration.milliseconds(500)),
        ("10s", .seconds(10)),
        ("2m", .seconds(120)),
        ("1h", .seconds(3_600)),
        ("5", .seconds(5)),
        ("1.5", .milliseconds(1_500)),
        ("0", .zero),
        ("0.25s", .milliseconds(250)),
        ("1.5h", .seconds(5_400)),
        ("0.000000001", .nanoseconds(1)),
        ("2.5ms", .microseconds(2_500)),
        (" 10s ", .seconds(10)),
        ("10 s", .seconds(10)),
    ])
    func `valid durations parse`(text: String, expected: Duration) throws {
        #expect(try SettingValueSyntax.parseDuration(text) == expected)
    }

    @Test(arguments: [
        ("-1", "must not be negative, got \"-1\""),
        ("-5s", "must not be negative, got \"-5s\""),
        ("", "expected a duration such as 500ms, 10s, 2m, 1h or plain seconds, got \"\""),
        ("  ", "expected a duration such as 500ms, 10s, 2m, 1h or plain seconds, got \"  \""),
        ("NaN", "expected a duration such as 500ms, 10s, 2m, 1h or plain seconds, got \"NaN\""),
        ("inf", "expected a duration such as 500ms, 10s, 2m, 1h or plain seconds, got \"inf\""),
        ("+5", "expected a duration such as 500ms, 10s, 2m, 1h or plain seconds, got \"+5\""),
        ("10d", "unknown duration unit \"d\" (use ms, s, m or h), got \"10d\""),
        ("10sec", "unknown duration unit \"sec\" (use ms, s, m or h), got \"10sec\""),
        ("1e3", "unknown duration unit \"e3\" (use ms, s, m or h), got \"1e3\""),
        ("1.", "expected a duration such as 500ms, 10s, 2m, 1h or plain seconds, got \"1.\""),
        (".5", "expected a duration such as 500ms, 10s, 2m, 1h or plain seconds, got \".5\""),
        ("1.2.3", "expected a duration such as 500ms, 10s, 2m, 1h or plain seconds, got \"1.2.3\""),
        ("99999999999h", "duration is too large, got \"99999999999h\""),
        ("99999999999999999999", "duration is too large, got \"99999999999999999999\""),
    ])
    func `invalid durations are rejected with a reason`(text: String, message: String) {
        #expect(throws: SettingValueError(message)) { try SettingValueSyntax.parseDuration(text) }
    }

    @Test(arguments: [
        ("1500", 1_500),
        ("0", 0),
        ("512B", 512),
        ("8KiB", 8_192),
        ("1MiB", 1_048_576),
        ("1GiB", 1_073_741_824),
        ("8KB", 8_000),
        ("2MB", 2_000_000),
        ("1GB", 1_000_000_000),
        ("8 KiB", 8_192),
    ])
    func `valid byte sizes parse`(text: String, expected: Int) throws {
        #expect(try SettingValueSyntax.parseByteSize(text) == expected)
    }

    @Test(arguments: [
        ("", "expected a byte size such as 1500, 8KiB, 1MiB or 2MB, got \"\""),
        ("-1", "must not be negative, got \"-1\""),
        ("MiB", "expected a byte size such as 1500, 8KiB, 1MiB or 2MB, got \"MiB\""),
        ("1.5MiB", "byte size must be a whole number, got \"1.5MiB\""),
        ("8kib", "unknown byte size unit \"kib\" (use B, KiB, MiB, GiB, KB, MB or GB), got \"8kib\""),
        ("8K", "unknown byte size unit \"K\" (use B, KiB, MiB, GiB, KB, MB or GB), got \"8K\""),
        ("99999999999999999999", "byte size is too large, got \"99999999999999999999\""),
        ("9999999999999GiB", "byte size is too large, got \"9999999999999GiB\""),
    ])
    func `invalid byte sizes are rejected with a reason`(text: String, message: String) {
        #expect(throws: SettingValueError(message)) { try SettingValueSyntax.parseByteSize(text) }
    }

    @Test(arguments: [("100", 100), ("1", 1), (" 7 ", 7), ("0", 0)])
    func `valid counts parse`(text: String, expected: Int) throws {
        #expect(try SettingValueSyntax.parseCount(text) == expected)
    }

    @Test(arguments: [
        ("-1", "must not be negative, got \"-1\""),
        ("1.5", "expected a whole number, got \"1.5\""),
        ("10k", "expected a whole number, got \"10k\""),
        ("", "expected a whole number, got \"\""),
        ("99999999999999999999", "number is too large, got \"99999999999999999999\""),
    ])
    func `invalid counts are rejected with a reason`(text: String, message: String) {
        #expect(throws: SettingValueError(message)) { try SettingValueSyntax.parseCount(text) }
    }

    @Test(arguments: [
        (Duration.seconds(86_400), "24h"),
        (.seconds(120), "2m"),
        (.seconds(75), "75s"),
        (.zero, "0s"),
        (.milliseconds(1_500), "1500ms"),
        (.microseconds(1), "0.000001s"),
        (.nanoseconds(1_000_000_001), "1.000000001s"),
    ])
    func `durations format in their largest exact unit and parse back`(duration: Duration, text: String) throws {
        #expect(SettingValueSyntax.formatDuration(duration) == text)
        #expect(try SettingValueSyntax.parseDuration(text) == duration)
    }

    @Test(arguments: [(1_048_576, "1MiB"), (8_192, "8KiB"), (1_073_741_824, "1GiB"), (1_500, "1500"), (0, "0")])
    func `byte sizes format in their largest exact unit and parse back`(bytes: Int, text: String) throws {
        #expect(SettingValueSyntax.formatByteSize(bytes) == text)
        #expect(try SettingValueSyntax.parseByteSize(text) == bytes)
    }
}

@Suite(.timeLimit(.minutes(2))) struct ListenAddressParsingTests {
    @Test(arguments: [
        ("127.0.0.1:8700", "127.0.0.1", 8700, "127.0.0.1:8700"),
        ("0.0.0.0:8700", "0.0.0.0", 8700, "0.0.0.0:8700"),
        ("[::]:8700", "::", 8700, "[::]:8700"),
        ("[::1]:0", "::1", 0, "[::1]:0"),
        ("[fe80::1:2]:65535", "fe80::1:2", 65535, "[fe80::1:2]:65535"),
        ("localhost:8700", "localhost", 8700, "localhost:8700"),
        ("LocalHost:80", "localhost", 80, "localhost:80"),
    ])
    func `valid addresses parse and print back`(text: String, host: String, port: UInt16, printed: String) throws {
        let address = try ListenAddress(parsing: text)
        #expect(address == ListenAddress(host: host, port: port))
        #expect(address.description == printed)
    }

    @Test(arguments: [
        ("nonsense", "expected HOST:PORT, got \"nonsense\""),
        ("", "expected HOST:PORT, got \"\""),
        ("127.0.0.1", "missing port: expected HOST:PORT, got \"127.0.0.1\""),
        ("localhost", "missing port: expected HOST:PORT, got \"localhost\""),
        ("127.0.0.1:", "missing port: expected HOST:PORT, got \"127.0.0.1:\""),
        ("[::1]", "missing port: expected [IPV6]:PORT, got \"[::1]\""),
        ("[::1]8700", "expected [IPV6]:PORT, got \"[::1]8700\""),
        ("[::1:8700", "missing \"]\" after IPv6 address, got \"[::1:8700\""),
        ("127.0.0.1:65536", "port must be a number from 0 to 65535, got \"127.0.0.1:65536\""),
        ("127.0.0.1:http", "port must be a number from 0 to 65535, got \"127.0.0.1:http\""),
        ("127.0.0.1:-1", "port must be a number from 0 to 65535, got \"127.0.0.1:-1\""),
        ("::1:8700", "an IPv6 address needs brackets, as in [::1]:8700, got \"::1:8700\""),
        ("::", "an IPv6 address needs brackets, as in [::1]:8700, got \"::\""),
        (
            "example.com:8700",
            "host names other than localhost are not supported, use an IP address, got \"example.com:8700\""
        ),
        ("256.0.0.1:80", "not an IPv4 address: \"256.0.0.1\", got \"256.0.0.1:80\""),
        ("127.0.0.01:80", "not an IPv4 address: \"127.0.0.01\", got \"127.0.0.01:80\""),
        ("[nonsense]:80", "not an IPv6 address: \"nonsense\", got \"[nonsense]:80\""),
        ("[127.0.0.1]:80", "not an IPv6 address: \"127.0.0.1\", got \"[127.0.0.1]:80\""),
        (":8700", "missing host: expected HOST:PORT, got \":8700\""),
    ])
    func `invalid addresses are rejected with a reason`(text: String, message: String) {
        #expect(throws: SettingValueError(message)) { try ListenAddress(parsing: text) }
    }
}

@Suite(.timeLimit(.minutes(2))) struct SettingsCrossChecksTests {
    @Test func `a default health timeout not below the default interval stops loading`() {
        #expect(throws: SettingsError(
            key: "health.timeout", source: .flag("--health-timeout"),
            message: "must be less than health.interval (10s from default), got 10s")) {
            try ServerSettings.load(flags: ["health.timeout": "10s"], environment: [:], configFile: nil)
        }
        #expect(throws: SettingsError.self) {
            try ServerSettings.load(flags: [:], environment: ["ROSTER_HEALTH_INTERVAL": "2s"], configFile: nil)
        }
    }

    @Test(arguments: [
        ("", [String]()), ("/healthz", ["/healthz"]), (" /a , /b,/a ", ["/a", "/b"]),
    ])
    func `open paths are a comma-separated list`(text: String, paths: [String]) throws {
        let (settings, _) = try ServerSettings.load(flags: ["acl_open_paths": text], environment: [:], configFile: nil)
        #expect(settings.aclOpenPaths == paths)
    }

    @Test(arguments: ["healthz", "/a,,/b", "/a?b", "/a b"])
    func `open paths must be absolute paths`(text: String) {
        let error = loadError(environment: ["ROSTER_ACL_OPEN_PATHS": text])
        #expect(error?.key == "acl_open_paths")
        #expect(error?.source == .environment("ROSTER_ACL_OPEN_PATHS"))
    }

    @Test func `JSON booleans are not numbers`() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("roster-json-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent("c.json")
        try #"{"http": {"max_body": true}}"#.write(to: file, atomically: true, encoding: .utf8)
        #expect(throws: SettingsError.self) { try ServerSettings.load(flags: [:], environment: [:], configFile: file.path) }
        try #"{"allow_foreign_health_urls": true, "health": {"unhealthy_threshold": 4}}"#.write(to: file, atomically: true, encoding: .utf8)
        let (settings, _) = try ServerSettings.load(flags: [:], environment: [:], configFile: file.path)
        #expect(settings.allowForeignHealthURLs)
        #expect(settings.health.unhealthyThreshold == 4)
        try #"{"http": {"max_body": 2, "max_body": 3}}"#.write(to: file, atomically: true, encoding: .utf8)
        #expect(throws: SettingsError.self) { try ServerSettings.load(flags: [:], environment: [:], configFile: file.path) }
    }
}
