import Logging
import RosterAPI
import Curl
import RosterHTTP
import ServiceLifecycle
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
    /// The bound port.
    public let port: UInt16
    let logger: Logger

    /// - Throws: `HTTPServer.BindError` if the listen address cannot be bound.
    public init(
        settings: ServerSettings, clock: any RosterClock = SystemClock(), logger: Logger,
        healthScheduling: HealthChecker.Scheduling = .init()
    ) throws {
        self.settings = settings
        self.logger = logger
        let store = RegistryStore(clock: clock, logger: logger, history: settings.watch.history)
        self.store = store
        self.sweeper = LeaseSweeper(store: store, interval: settings.sweepInterval)
        self.healthChecker = HealthChecker(
            store: store, client: CurlHTTPClient(), maxConcurrentProbes: settings.health.maxConcurrentProbes,
            scheduling: healthScheduling, logger: logger)
        var router = Router { response in response.headers.add(RosterHeader.epoch, store.epoch) }
        router = router.wrapping { request, next in
            // Changes made while answering fan out to watchers once the answer is written.
            var response = await RegistryStore.$deferWakeups.withValue(true) { await next(request) }
            let previous = response.afterWrite
            response.afterWrite = {
                previous?()
                store.flushWatchWakeups()
            }
            return response
        }
        RegistryRoutes(
            store: store, defaultTTL: settings.defaultTTL, health: settings.health,
            allowForeignHealthURLs: settings.allowForeignHealthURLs
        ).install(in: &router)
        WatchRoutes(store: store, settings: settings.watch).install(in: &router)
        self.httpServer = HTTPServer(
            configuration: settings.http, handler: router, logger: logger,
            ownResponseHeaders: [(RosterHeader.epoch, store.epoch)])
        self.port = try httpServer.bind(host: settings.listen.host, port: settings.listen.port)
    }

    /// The services in start order; a `ServiceGroup` stops them in reverse (HTTP first).
    public var services: [any Service] { services(onStart: {}) }

    func services(onStart: @escaping @Sendable () -> Void) -> [any Service] {
        let store = self.store
        return [
            sweeper, healthChecker, WatchKeepalive(store: store, keepalive: settings.watch.keepalive),
            HTTPServerService(
                server: httpServer, shutdownTimeout: settings.shutdownTimeout, onStart: onStart,
                onShutdown: { store.closeAllWatches() }),
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
