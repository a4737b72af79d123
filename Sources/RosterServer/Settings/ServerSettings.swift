import Logging
import RosterHTTP

/// Everything the server can be configured with; the defaults are the documented defaults.
///
/// Build one with `ServerSettings.load(flags:environment:configFile:)`, which reads flags,
/// `ROSTER_*` environment variables and a config file; `ServerSettings.keys` lists every key.
public struct ServerSettings: Sendable, Equatable {
    /// Address the HTTP server listens on. Key `listen`; in YAML, quote a bracketed one: `listen: "[::]:8700"`.
    public var listen: ListenAddress = .init(host: "127.0.0.1", port: 8700)
    /// How often the sweeper looks for expired leases; greater than zero. Key `sweep_interval`.
    public var sweepInterval: Duration = .seconds(1)
    /// Lease TTL for a registration that names none; from 1 s to 24 h. Key `default_ttl`.
    public var defaultTTL: Duration = .seconds(30)
    /// How long a graceful shutdown waits for in-flight requests; zero or more. Key `shutdown_timeout`.
    public var shutdownTimeout: Duration = .seconds(10)
    /// Limits and timeouts of the HTTP server, every one greater than zero. Keys `http.*`.
    public var http: HTTPServerConfiguration = .init()
    /// Least severe level that is logged. Key `log_level`.
    public var logLevel: Logger.Level = .info
    /// Shape of log lines. Key `log_format`.
    public var logFormat: LogFormat = .text
    /// Defaults and limits of active health checks. Keys `health.*`.
    public var health: HealthSettings = .init()
    /// Allow health check URLs whose host differs from the instance's `host`. Key `allow_foreign_health_urls`.
    public var allowForeignHealthURLs = false
    /// Event history and per-watcher limits of the SSE watches. Keys `watch.*`.
    public var watch: WatchSettings = .init()
    /// Log one line per answered request at info. Key `access_log`.
    public var accessLog = false
    /// Bounds of the `/metrics` output. Keys `metrics.*`.
    public var metrics: MetricsSettings = .init()
    /// Path of the ACL file (YAML) that turns access control on; empty: off. Read once at startup.
    /// Key `acl_file`.
    public var aclFile = ""
    /// Paths answered without a token when access control is on, e.g. `/healthz`. Key `acl_open_paths`.
    public var aclOpenPaths: [String] = ["/healthz", "/readyz"]

    /// Creates settings holding every default.
    public init() {}
}

/// Watch (Server-Sent Events) settings.
public struct WatchSettings: Sendable, Equatable {
    /// Changes kept for watchers that resume with `Last-Event-ID`. Key `watch.history`.
    public var history = 10_000
    /// Silence after which a `: keepalive` comment is sent. Key `watch.keepalive`.
    public var keepalive: Duration = .seconds(15)
    /// Changes queued per watcher before a watcher that does not keep up is dropped. Key `watch.queue_size`.
    public var queueSize = 1024

    public init() {}
}

/// Metrics settings.
public struct MetricsSettings: Sendable, Equatable {
    /// Services given their own `service` label; later ones are counted under `_other`. Key `metrics.max_services`.
    public var maxServices = 1000

    public init() {}
}

/// Defaults for health checks that leave a member out, and the prober's concurrency cap.
public struct HealthSettings: Sendable, Equatable {
    /// Time between probes. Key `health.interval`.
    public var interval: Duration = .seconds(10)
    /// Time a probe may take; less than `interval`. Key `health.timeout`.
    public var timeout: Duration = .seconds(5)
    /// Consecutive failures that make an instance unhealthy. Key `health.unhealthy_threshold`.
    public var unhealthyThreshold = 3
    /// Consecutive passes that make an unhealthy instance healthy. Key `health.healthy_threshold`.
    public var healthyThreshold = 2
    /// Most probes in flight at once. Key `health.max_concurrent_probes`.
    public var maxConcurrentProbes = 512

    public init() {}
}

/// Shape of log lines: `text` for people, `json` (one object per line) for log collectors.
public enum LogFormat: String, Sendable, Equatable, CaseIterable {
    case text
    case json
}

/// A host and port to listen on, written `127.0.0.1:8700`, `[::]:8700` or `localhost:8700`.
///
/// `init(parsing:)` accepts only IP literals and `localhost`; the server resolves `localhost` itself.
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    /// An IPv4 literal, an IPv6 literal without brackets (`::`), or `localhost`.
    public var host: String
    /// TCP port; `0` asks the system for an ephemeral port (tests read the bound port).
    public var port: UInt16

    /// Creates an address from a host as described for `host`, and a port.
    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// `HOST:PORT`, with brackets around an IPv6 host: `127.0.0.1:8700`, `[::]:8700`.
    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

extension ListenAddress {
    /// Whether only this machine can connect: `localhost`, 127.0.0.0/8 or `::1`.
    public var isLoopback: Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}
