import Logging
import RosterServer
import ServiceLifecycle

extension ServerSettings {
    /// Settings for tests: loopback, an ephemeral port, everything else default.
    public static var testing: ServerSettings {
        var settings = ServerSettings()
        settings.listen = ListenAddress(host: "127.0.0.1", port: 0)
        settings.shutdownTimeout = .seconds(2)
        return settings
    }
}

extension Logger {
    /// A logger that drops everything.
    public static var silent: Logger { Logger(label: "roster.test") { _ in SwiftLogNoOpLogHandler() } }
}

/// Starts a registry through the composition root on an ephemeral port, runs `body`, then shuts
/// the registry down gracefully and waits for it to stop.
public func withRosterServer<T: Sendable>(
    settings: ServerSettings = .testing,
    clock: any RosterClock = SystemClock(),
    logger: Logger = .silent,
    _ body: @Sendable (RosterApplication) async throws -> T
) async throws -> T {
    try await withRosterServer(try RosterApplication(settings: settings, clock: clock, logger: logger), body)
}

/// Runs an already built application for the duration of `body`, then shuts it down gracefully.
public func withRosterServer<T: Sendable>(
    _ application: RosterApplication,
    _ body: @Sendable (RosterApplication) async throws -> T
) async throws -> T {
    let logger = Logger.silent
    let group = ServiceGroup(services: application.services, logger: logger)
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        let result: Result<T, any Error>
        do {
            result = .success(try await body(application))
        } catch {
            result = .failure(error)
        }
        await group.triggerGracefulShutdown()
        let stopped = await eventually(within: .seconds(20)) { !application.httpServer.isAccepting && application.httpServer.openConnections == 0 }
        if !stopped {
            throw TimeoutError(description: "the server did not stop: \(application.httpServer.openConnections) connections open, \(application.store.watcherCount) watchers")
        }
        try await tasks.waitForAll()
        return try result.get()
    }
}
