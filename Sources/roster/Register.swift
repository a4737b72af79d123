import ArgumentParser
import Logging
import RosterClient
import RosterSettings
import UnixSignals

/// `roster register`: registers an instance and prints its ID; with `--keepalive` it stays in the
/// foreground as a sidecar, heartbeating, re-registering after a 404, and deregistering on SIGINT/SIGTERM.
struct Register: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Register an instance; with --keepalive, keep it registered until SIGINT/SIGTERM.")

    @OptionGroup var client: ClientOptions
    @Argument(help: "Service name.")
    var name: String
    @Option(help: "Host (IP address or name) clients connect to.")
    var host: String
    @Option(help: "TCP port clients connect to.")
    var port: Int
    @Option(name: .customLong("meta"), help: "Metadata pair KEY=VALUE; repeat for more.")
    var meta: [String] = []
    @Option(help: "Lease TTL, e.g. 30s or 1m. Default: the registry's default_ttl.")
    var ttl: String?
    @Option(name: .customLong("health-url"), help: "HTTP(S) URL the registry probes; 2xx is healthy.")
    var healthURL: String?
    @Option(name: .customLong("health-interval"), help: "Time between probes, e.g. 10s. Default: the registry's.")
    var healthInterval: String?
    @Flag(help: "Stay in the foreground heartbeating; deregister on SIGINT/SIGTERM.")
    var keepalive = false

    func registration() throws -> Registration {
        var metadata: [String: String] = [:]
        for pair in meta {
            guard let eq = pair.firstIndex(of: "="), eq != pair.startIndex else {
                throw ValidationError("--meta takes KEY=VALUE, got \"\(pair)\"")
            }
            let key = String(pair[..<eq])
            guard metadata[key] == nil else { throw ValidationError("--meta \(key) is given twice") }
            metadata[key] = String(pair[pair.index(after: eq)...])
        }
        func duration(_ text: String?, _ flag: String) throws -> Duration? {
            guard let text else { return nil }
            do {
                return try SettingValueSyntax.parseDuration(text)
            } catch {
                throw ValidationError("\(flag): \(error.message)")
            }
        }
        let check = try healthURL.map { HealthCheckSpec(url: $0, interval: try duration(healthInterval, "--health-interval")) }
        if healthURL == nil, healthInterval != nil { throw ValidationError("--health-interval needs --health-url") }
        return Registration(
            service: name, host: host, port: port, metadata: metadata, ttl: try duration(ttl, "--ttl"), healthCheck: check)
    }

    func run() async throws {
        let registration = try registration()
        let client = try self.client.makeClient(logLevel: keepalive ? .info : .warning)
        guard keepalive else {
            let instance = try await runClientCall { () async throws(RosterClientError) in try await client.registerOnce(registration) }
            printLine(instance.id)
            return
        }
        // Trap the signals before the ID is printed, so a supervisor that signals as soon as it reads the ID
        // gets a clean deregistration rather than the default exit.
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
        let handle = try await runClientCall { () async throws(RosterClientError) in try await client.register(registration) }
        printLine(handle.instanceID)
        let logger = Logger(label: "roster")
        logger.info(
            "registered; heartbeating until SIGINT or SIGTERM",
            metadata: ["service.name": "\(name)", "instance.id": "\(handle.instanceID)", "lease.ttl": "\(describe(handle.instance.ttl))"])
        for await signal in signals {
            logger.info("deregistering", metadata: ["signal": "\(signal)"])
            break
        }
        try await runClientCall { () async throws(RosterClientError) in try await handle.deregister(using: client) }
        logger.info("deregistered", metadata: ["service.name": "\(name)", "instance.id": "\(handle.instanceID)"])
    }
}
