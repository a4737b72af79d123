#if canImport(FoundationEssentials)
import FoundationEssentials
#endif
import Foundation
import RosterClient
import RosterServer
import RosterTesting
import Testing

/// The client library and CLI against a registry with access control on.
@Suite(.timeLimit(.minutes(2))) struct AccessControlClientTests {
    static let webToken = "client-web-token-0123456789abcdefghijklmnopq"

    /// Test settings with an ACL whose only token may read and write `web*`.
    func settings() throws -> ServerSettings {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("roster-acl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("acl.yaml").path
        let yaml = """
            tokens:
              - name: web
                sha256: \(AccessToken.sha256Hex(Self.webToken))
                read: ["web*"]
                write: ["web*"]
            """
        try Data(yaml.utf8).write(to: URL(fileURLWithPath: path))
        var settings = ServerSettings.testing
        settings.aclFile = path
        return settings
    }

    @Test func `the client sends its token: web* registers web-api, db is 403, no token is 401`() async throws {
        try await withRosterServer(settings: try settings()) { app in
            let client = try makeClient(ports: [app.port], token: Self.webToken)
            let instance = try await client.registerOnce(Registration(service: "web-api", host: "127.0.0.1", port: 9001))
            #expect(instance.service == "web-api")
            await #expect {
                _ = try await client.registerOnce(Registration(service: "db", host: "127.0.0.1", port: 9002))
            } throws: { error in
                (error as? RosterClientError)?.status == 403 && (error as? RosterClientError)?.code == "forbidden"
            }
            let anonymous = try makeClient(ports: [app.port])
            await #expect {
                _ = try await anonymous.services()
            } throws: { error in
                (error as? RosterClientError)?.status == 401 && (error as? RosterClientError)?.code == "missing_token"
            }
            #expect(app.store.instances(of: "db").0.isEmpty)
        }
    }

    @Test func `the CLI takes the token from ROSTER_TOKEN and --token`() async throws {
        try await withRosterServer(settings: try settings()) { app in
            let registry = "http://127.0.0.1:\(app.port)"
            let environment = ["HOME": "/nonexistent", "ROSTER_TOKEN": Self.webToken]
            let registered = try await RosterExecutable.run(
                ["register", "web", "--host", "127.0.0.1", "--port", "9001", "--registry", registry], environment: environment)
            #expect(registered.status == 0, "\(registered.stderr)")
            let listed = try await RosterExecutable.run(
                ["services", "--registry", registry, "--token", Self.webToken], environment: ["HOME": "/nonexistent"])
            #expect(listed.status == 0)
            #expect(listed.stdout.contains("web"))
            let refused = try await RosterExecutable.run(["services", "--registry", registry], environment: ["HOME": "/nonexistent"])
            #expect(refused.status == 1)
            #expect(refused.stderr == "roster: 401 missing_token: this registry requires an Authorization: Bearer token\n")
        }
    }
}
