import ArgumentParser
import Logging
import RosterServer
import RosterSettings

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `roster serve`: runs the registry. Every option is a setting; none has a default here, so
/// environment variables and the config file apply when a flag is absent (see README).
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the registry server.",
        discussion: """
            Every setting comes from, in order: flag > environment variable (ROSTER_…) > config file > default.
            Durations accept 500ms, 10s, 2m or plain seconds; sizes accept bytes, KiB or MiB.
            """)

    @Option(name: .customLong("config"), parsing: .unconditional, help: "Config file (YAML or JSON). Env: ROSTER_CONFIG.")
    var config: String?
    @Option(parsing: .unconditional, help: "Address to listen on, HOST:PORT or [IPv6]:PORT. Default 127.0.0.1:8700.")
    var listen: String?
    @Option(name: .customLong("sweep-interval"), parsing: .unconditional, help: "How often expired leases are removed. Default 1s.")
    var sweepInterval: String?
    @Option(name: .customLong("default-ttl"), parsing: .unconditional, help: "Lease TTL when a registration gives none. Default 30s.")
    var defaultTTL: String?
    @Option(name: .customLong("shutdown-timeout"), parsing: .unconditional, help: "Time to finish in-flight requests on shutdown. Default 10s.")
    var shutdownTimeout: String?
    @Option(name: .customLong("http-max-request-line"), parsing: .unconditional, help: "Longest request line (→ 414). Default 8KiB.")
    var httpMaxRequestLine: String?
    @Option(name: .customLong("http-max-header-bytes"), parsing: .unconditional, help: "Largest header section (→ 431). Default 32KiB.")
    var httpMaxHeaderBytes: String?
    @Option(name: .customLong("http-max-header-fields"), parsing: .unconditional, help: "Most header fields (→ 431). Default 100.")
    var httpMaxHeaderFields: String?
    @Option(name: .customLong("http-max-body"), parsing: .unconditional, help: "Largest request body (→ 413). Default 1MiB.")
    var httpMaxBody: String?
    @Option(name: .customLong("http-head-timeout"), parsing: .unconditional, help: "Time for a request head to arrive (→ 408). Default 10s.")
    var httpHeadTimeout: String?
    @Option(name: .customLong("http-idle-timeout"), parsing: .unconditional, help: "Idle keep-alive connection timeout. Default 75s.")
    var httpIdleTimeout: String?
    @Option(name: .customLong("http-max-connections"), parsing: .unconditional, help: "Most open connections (then 503). Default 16384.")
    var httpMaxConnections: String?
    @Option(name: .customLong("health-interval"), parsing: .unconditional, help: "Default time between health probes. Default 10s.")
    var healthInterval: String?
    @Option(name: .customLong("health-timeout"), parsing: .unconditional, help: "Default health probe timeout, below the interval. Default 5s.")
    var healthTimeout: String?
    @Option(name: .customLong("health-unhealthy-threshold"), parsing: .unconditional, help: "Default failures before unhealthy. Default 3.")
    var healthUnhealthyThreshold: String?
    @Option(name: .customLong("health-healthy-threshold"), parsing: .unconditional, help: "Default passes before healthy again. Default 2.")
    var healthHealthyThreshold: String?
    @Option(name: .customLong("health-max-concurrent-probes"), parsing: .unconditional, help: "Most probes in flight. Default 512.")
    var healthMaxConcurrentProbes: String?
    @Option(name: .customLong("allow-foreign-health-urls"), parsing: .unconditional, help: "true to allow health URLs on other hosts. Default false.")
    var allowForeignHealthURLs: String?
    @Option(name: .customLong("watch-history"), parsing: .unconditional, help: "Changes kept for resuming watchers. Default 10000.")
    var watchHistory: String?
    @Option(name: .customLong("watch-keepalive"), parsing: .unconditional, help: "Silence before a keepalive comment on a watch. Default 15s.")
    var watchKeepalive: String?
    @Option(name: .customLong("watch-queue-size"), parsing: .unconditional, help: "Changes queued per watcher before it is dropped. Default 1024.")
    var watchQueueSize: String?
    @Option(name: .customLong("metrics-max-services"), parsing: .unconditional, help: "Services with their own label in /metrics. Default 1000.")
    var metricsMaxServices: String?
    @Option(name: .customLong("acl-file"), parsing: .unconditional, help: "ACL file (YAML) of bearer tokens; turns access control on. Default off.")
    var aclFile: String?
    @Option(name: .customLong("acl-open-paths"), parsing: .unconditional, help: "Paths served without a token under access control. Default /healthz,/readyz.")
    var aclOpenPaths: String?
    @Option(name: .customLong("log-level"), parsing: .unconditional, help: "trace, debug, info, notice, warning, error or critical. Default info.")
    var logLevel: String?
    @Option(name: .customLong("log-format"), parsing: .unconditional, help: "text or json. Default text.")
    var logFormat: String?
    @Option(name: .customLong("access-log"), parsing: .unconditional, help: "true to log one line per request at info. Default false.")
    var accessLog: String?

    /// The flag values by setting key.
    var flags: [String: String] {
        let pairs: [(String, String?)] = [
            ("listen", listen), ("sweep_interval", sweepInterval), ("default_ttl", defaultTTL),
            ("shutdown_timeout", shutdownTimeout),
            ("http.max_request_line", httpMaxRequestLine), ("http.max_header_bytes", httpMaxHeaderBytes),
            ("http.max_header_fields", httpMaxHeaderFields), ("http.max_body", httpMaxBody),
            ("http.head_timeout", httpHeadTimeout), ("http.idle_timeout", httpIdleTimeout),
            ("http.max_connections", httpMaxConnections),
            ("health.interval", healthInterval), ("health.timeout", healthTimeout),
            ("health.unhealthy_threshold", healthUnhealthyThreshold), ("health.healthy_threshold", healthHealthyThreshold),
            ("health.max_concurrent_probes", healthMaxConcurrentProbes),
            ("allow_foreign_health_urls", allowForeignHealthURLs),
            ("watch.history", watchHistory), ("watch.keepalive", watchKeepalive), ("watch.queue_size", watchQueueSize),
            ("metrics.max_services", metricsMaxServices),
            ("acl_file", aclFile), ("acl_open_paths", aclOpenPaths),
            ("log_level", logLevel), ("log_format", logFormat), ("access_log", accessLog),
        ]
        return Dictionary(uniqueKeysWithValues: pairs.compactMap { key, value in value.map { (key, $0) } })
    }

    func run() async throws {
        let environment = ProcessEnvironment.current
        let loaded: (settings: ServerSettings, sources: [String: SettingSource])
        do {
            loaded = try ServerSettings.load(flags: flags, environment: environment, configFile: config)
        } catch {
            printError("roster: \(error.description)")
            throw ExitCode(2)
        }
        let settings = loaded.settings
        LogSetup.bootstrap(level: settings.logLevel, format: settings.logFormat)
        let logger = Logger(label: "roster")

        let application: RosterApplication
        do {
            application = try RosterApplication(settings: settings, logger: logger)
        } catch let error as AccessControlFileError {
            let problem = SettingsError(key: "acl_file", source: loaded.sources["acl_file"] ?? .defaultValue, message: error.description)
            printError("roster: \(problem.description)")
            throw ExitCode(2)
        } catch {
            printError("roster: \(error)")
            throw ExitCode(1)
        }
        var metadata: Logger.Metadata = ["listen": "\(settings.listen.host.contains(":") ? "[\(settings.listen.host)]" : settings.listen.host):\(application.port)"]
        for key in ServerSettings.keys {
            metadata["setting.\(key.name)"] = "\(loaded.sources[key.name].map { "\(settings.describe(key: key.name)) (\($0))" } ?? settings.describe(key: key.name))"
        }
        let listen = settings.listen
        let startMetadata = metadata
        let escalation = SecondSignalExit(logger: logger)
        await escalation.install()
        let tokens = application.accessControl?.tokens.count
        try await application.run {
            logger.notice("roster listening", metadata: startMetadata)
            if let tokens {
                logger.notice("access control on", metadata: ["acl.tokens": "\(tokens)", "acl.open_paths": "\(settings.aclOpenPaths.joined(separator: ","))"])
            } else if !listen.isLoopback {
                logger.warning("listening on a non-loopback address without access control; set acl_file", metadata: ["listen": "\(listen)"])
            }
        }
        logger.info("roster stopped")
    }
}

func printError(_ message: String) {
    var line = message + "\n"
    line.withUTF8 { buffer in _ = write(2, buffer.baseAddress, buffer.count) }
}

enum ProcessEnvironment {
    static var current: [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let eq = text.firstIndex(of: "=") {
                result[String(text[..<eq])] = String(text[text.index(after: eq)...])
            }
            pointer += 1
        }
        return result
    }
}
