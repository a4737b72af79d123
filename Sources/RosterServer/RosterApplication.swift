import Logging
import Prometheus
import RosterAPI
import Curl
import RosterHTTP
import ServiceLifecycle
import Synchronization
import UnixSignals

/// The composition root: builds the store, the sweeper and the HTTP server from settings.
/// The executable and the tests both start the registry through it.
///
/// `init` binds the listener, so a taken port or a bad address fails at startup and `port`
/// is known (useful with port 0) before anything runs.
public final class RosterApplication: Sendable {
    public let settings: ServerSettings
    public let store: RegistryStore
    public let sweeper: LeaseSweeper
    public let healthChecker: HealthChecker
    public let httpServer: HTTPServer
    /// What `/readyz` reports.
    public let readiness: Readiness
    /// The metrics `/metrics` renders.
    public let metricsRegistry: PrometheusCollectorRegistry
    /// The tokens read from `acl_file`, or nil when access control is off.
    public let accessControl: AccessControlList?
    /// Requests refused by access control, counted by reason (a hook for metrics).
    public let accessDenials: AccessDenials
    /// The bound port.
    public let port: UInt16
    let logger: Logger

    /// - Throws: `AccessControlFileError` if `acl_file` names a file that cannot be used;
    ///   `HTTPServer.BindError` if the listen address cannot be bound.
    public init(
        settings: ServerSettings, clock: any RosterClock = SystemClock(), logger: Logger,
        healthScheduling: HealthChecker.Scheduling = .init()
    ) throws {
        self.settings = settings
        self.logger = logger
        let acl = settings.aclFile.isEmpty ? nil : try AccessControlList.load(path: settings.aclFile)
        self.accessControl = acl
        let factory = RosterMetricsFactory()
        self.metricsRegistry = factory.registry
        let store = RegistryStore(
            clock: clock, logger: logger, history: settings.watch.history,
            metrics: RegistryMetrics(factory: factory, maxServices: settings.metrics.maxServices))
        self.store = store
        self.sweeper = LeaseSweeper(store: store, interval: settings.sweepInterval)
        self.healthChecker = HealthChecker(
            store: store, client: CurlHTTPClient(), maxConcurrentProbes: settings.health.maxConcurrentProbes,
            scheduling: healthScheduling, logger: logger, metrics: HealthMetrics(factory: factory))
        let readiness = Readiness()
        self.readiness = readiness
        let httpMetrics = HTTPMetrics(factory: factory)
        let accessLog = settings.accessLog
        var router = Router { response in response.headers.add(RosterHeader.epoch, store.epoch) }
        router = router.wrapping { request, next in
            // Changes made while answering fan out to watchers once the answer is written, from the fan-out thread.
            var response = await RegistryStore.$deferWakeups.withValue(true) { await next(request) }
            let previous = response.afterWrite
            response.afterWrite = {
                previous?()
                store.flushWatchWakeupsLater()
            }
            return response
        }
        router = router.observing { request, response, duration in
            httpMetrics.record(request, response, duration)
            if accessLog { Self.logAccess(request, response, duration, logger: logger) }
        }
        let denials = AccessDenials(epoch: store.epoch, logger: logger)
        self.accessDenials = denials
        denials.onDenial { reason in httpMetrics.accessDenied(reason.rawValue).increment() }
        let openPaths = Set(settings.aclOpenPaths)
        let access = RegistryRoutes.access.merging(WatchRoutes.access) { a, _ in a }.merging(OperationsRoutes.access) { a, _ in a }
        router = router.wrapping(AccessGate.middleware(access, openPaths: openPaths, denials: denials))
        RegistryRoutes(
            store: store, defaultTTL: settings.defaultTTL, health: settings.health,
            allowForeignHealthURLs: settings.allowForeignHealthURLs, denials: denials
        ).install(in: &router)
        WatchRoutes(store: store, settings: settings.watch, metrics: WatchMetrics(factory: factory), denials: denials)
            .install(in: &router)
        // The routes that report on the server are installed before the server exists.
        let serverHandle = ServerHandle()
        OperationsRoutes(
            store: store, readiness: readiness, registry: factory.registry,
            refreshGauges: {
                store.refreshMetrics()
                httpMetrics.openConnections.replaceAll(with: [[]: serverHandle.server?.openConnections ?? 0])
            }
        ).install(in: &router)
        // Refusals of the gate never reach the router: count and log them like routed answers.
        let gate = AccessGate(
            acl: acl, openPaths: openPaths, denials: denials, inner: router,
            onRefusal: { request, response in
                httpMetrics.record(request, response, .zero)
                if accessLog { Self.logAccess(request, response, .zero, logger: logger) }
            })
        let server = HTTPServer(
            configuration: settings.http, handler: gate, logger: logger,
            ownResponseHeaders: [(RosterHeader.epoch, store.epoch)],
            onReject: { code in httpMetrics.reject(reason: code) })
        serverHandle.set(server)
        readiness.watchListener { serverHandle.server?.isAccepting ?? false }
        self.httpServer = server
        self.port = try httpServer.bind(host: settings.listen.host, port: settings.listen.port)
    }

    /// The services in start order; a `ServiceGroup` stops them in reverse (HTTP first).
    public var services: [any Service] { services(onStart: {}) }

    func services(onStart: @escaping @Sendable () -> Void) -> [any Service] {
        let store = self.store
        let readiness = self.readiness
        return [
            ReadinessTracked(service: sweeper, component: .sweeper, readiness: readiness),
            ReadinessTracked(service: healthChecker, component: .prober, readiness: readiness),
            WatchKeepalive(store: store, keepalive: settings.watch.keepalive),
            HTTPServerService(
                server: httpServer, shutdownTimeout: settings.shutdownTimeout, onStart: onStart,
                onShutdown: {
                    readiness.beginDraining()
                    store.closeAllWatches()
                }),
        ]
    }

    /// Runs every service until a graceful shutdown (one of `signals`) or cancellation.
    /// `onStart` is called once the signal handlers are in place and the server accepts.
    public func run(
        gracefulShutdownSignals signals: [UnixSignal] = [.sigterm, .sigint],
        onStart: @escaping @Sendable () -> Void = {}
    ) async throws {
        let group = ServiceGroup(configuration: .init(
            services: services(onStart: onStart).map { .init(service: $0) },
            gracefulShutdownSignals: signals,
            cancellationSignals: [],
            logger: logger))
        try await group.run()
    }
}

extension RosterApplication {
    /// One access log line at info: `http request` with method, route template, path, status and
    /// duration (to the response head) as metadata.
    static func logAccess(_ request: HTTPRequest, _ response: HTTPResponse, _ duration: Duration, logger: Logger) {
        let (seconds, attoseconds) = duration.components
        let milliseconds = Double(seconds) * 1000 + Double(attoseconds) / 1e15
        logger.info("http request", metadata: [
            "http.method": "\(request.method)",
            "http.route": "\(request.routeTemplate ?? HTTPMetrics.unmatchedRoute)",
            "http.path": "\(request.path)",
            "http.status": "\(response.status.code)",
            "http.duration_ms": "\((milliseconds * 1000).rounded() / 1000)",
        ])
    }
}

/// A weak reference to the HTTP server, for routes built before it (no retain cycle through the router).
final class ServerHandle: Sendable {
    private struct Weak {
        weak var server: HTTPServer?
    }
    private let reference = Mutex(Weak())

    func set(_ server: HTTPServer) { reference.withLock { $0.server = server } }
    var server: HTTPServer? { reference.withLock { $0.server } }
}

/// Runs an `HTTPServer` as a lifecycle service: graceful shutdown stops accepting and drains
/// within `shutdownTimeout`.
public struct HTTPServerService: Service {
    let server: HTTPServer
    let shutdownTimeout: Duration
    var onStart: @Sendable () -> Void = {}
    /// Called when graceful shutdown begins, before the server drains (ends long-lived streams).
    var onShutdown: @Sendable () -> Void = {}

    public func run() async throws {
        onStart()
        try await withGracefulShutdownHandler {
            try await server.run()
        } onGracefulShutdown: {
            server.beginShutdown(timeout: shutdownTimeout)
            onShutdown()
        }
    }
}
