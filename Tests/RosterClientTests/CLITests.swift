#if canImport(FoundationEssentials)
import FoundationEssentials
#endif
import Foundation
import RosterClient
import RosterServer
import RosterTesting
import Testing

/// The `roster` client subcommands, run as a separate process against an in-process registry.
@Suite(.timeLimit(.minutes(2))) struct ClientCommandTests {
    /// An environment with no config file in reach (HOME points nowhere).
    let environment = ["HOME": "/nonexistent"]

    @Test func `register --keepalive keeps the instance until SIGINT, which deregisters it`() async throws {
        try await withRosterServer { app in
            let process = try RosterProcess(
                ["register", "web", "--host", "127.0.0.1", "--port", "9001", "--ttl", "3s", "--keepalive",
                 "--registry", "http://127.0.0.1:\(app.port)"],
                environment: environment)
            #expect(await eventually(within: .seconds(10)) { app.store.instances(of: "web", includeUnhealthy: true).0.count == 1 })
            let id = try #require(app.store.instances(of: "web", includeUnhealthy: true).0.first?.id.uuidString.lowercased())
            #expect(await eventually { process.stdout == id + "\n" })
            process.signal(SIGINT)
            #expect(try await process.wait() == 0)
            #expect(app.store.instances(of: "web", includeUnhealthy: true).0.isEmpty)
        }
    }

    @Test func `watch prints one line per event as it happens`() async throws {
        try await withRosterServer { app in
            let client = try makeClient(ports: [app.port])
            let process = try RosterProcess(["watch", "web"], environment: environment.merging(["ROSTER_ADDR": "127.0.0.1:\(app.port)"]) { $1 })
            #expect(await eventually(within: .seconds(10)) { process.stdout.hasPrefix("snapshot index=0 instances=0 []\n") })
            let instance = try await client.registerOnce(Registration(service: "web", host: "127.0.0.1", port: 9001))
            try await client.deregister(service: "web", id: instance.id)
            let expected = """
                snapshot index=0 instances=0 []
                register web \(instance.id) 127.0.0.1:9001 index=1
                deregister deregistered web \(instance.id) 127.0.0.1:9001 index=2

                """
            #expect(await eventually { process.stdout == expected }, "\(process.stdout)")
            process.signal(SIGINT)
            #expect(try await process.wait() == 0)
        }
    }

    @Test func `exit codes say refused, unreachable or usage`() async throws {
        try await withRosterServer { app in
            let registry = "--registry=http://127.0.0.1:\(app.port)"
            let invalid = try await RosterExecutable.run(["register", "web", "--host", "127.0.0.1", "--port", "70000", registry], environment: environment)
            #expect(invalid.status == 1)
            #expect(invalid.stderr.contains("400 invalid_field [port]"))
            let missing = try await RosterExecutable.run(["deregister", "web", "6f1c1c9e-8f3a-4a55-9f0e-3f8e2a1b7c10", registry], environment: environment)
            #expect(missing.status == 1 && missing.stderr.contains("404 instance_not_found"))
            let usage = try await RosterExecutable.run(["register", "web", registry], environment: environment)
            #expect(usage.status == 64)
        }
        let unreachable = try await RosterExecutable.run(["services", "--registry", "http://127.0.0.1:\(try closedPort())"], environment: environment)
        #expect(unreachable.status == 3 && unreachable.stderr.contains("connection_refused"))
    }

    @Test func `lookups print tables or JSON`() async throws {
        try await withRosterServer { app in
            let client = try makeClient(ports: [app.port])
            let instance = try await client.registerOnce(Registration(service: "web", host: "127.0.0.1", port: 9001, metadata: ["v": "2"], ttl: .seconds(30)))
            let env = environment.merging(["ROSTER_ADDR": "http://127.0.0.1:\(app.port)"]) { $1 }
            let services = try await RosterExecutable.run(["services"], environment: env)
            #expect(services.stdout == "SERVICE  INSTANCES  HEALTHY\nweb      1          1\n")
            let json = try await RosterExecutable.run(["services", "--output", "json"], environment: env)
            #expect(json.stdout == "{\"web\":{\"instances\":1,\"healthy\":1}}\n")
            let table = try await RosterExecutable.run(["instances", "web"], environment: env)
            #expect(table.stdout.split(separator: "\n").last?.split(separator: " ", omittingEmptySubsequences: true)
                == ["\(instance.id)", "127.0.0.1", "9001", "healthy", "30s", "v=2"].map { Substring($0) })
            let health = try await RosterExecutable.run(["health", "web", instance.id, "--output", "json"], environment: env)
            #expect(health.stdout.hasPrefix("{\"id\":\"\(instance.id)\",\"status\":\"healthy\""))
        }
    }

    @Test func `config shows the address, its source and whether it answers`() async throws {
        try await withRosterServer { app in
            let answering = try await RosterExecutable.run(["config"], environment: environment.merging(["ROSTER_ADDR": "http://127.0.0.1:\(app.port)"]) { $1 })
            #expect(answering.status == 0)
            #expect(answering.stdout.contains("registry:    http://127.0.0.1:\(app.port) (environment variable ROSTER_ADDR)"))
            #expect(answering.stdout.contains("http://127.0.0.1:\(app.port): answers (HTTP 200"))
        }
        let silent = try await RosterExecutable.run(["doctor", "--registry", "http://127.0.0.1:\(try closedPort())"], environment: environment)
        #expect(silent.status == 3 && silent.stdout.contains("(flag --registry)") && silent.stdout.contains("unreachable (connection_refused)"))
    }
}
