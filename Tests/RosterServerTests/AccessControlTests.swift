import Foundation
import RosterAPI
import RosterHTTP
import RosterServer
import RosterTesting
import Testing

/// Tokens of the test ACL: plaintext for requests; the file holds only their SHA-256.
enum TestTokens {
    static let reader = "reader-token-0123456789abcdefghijklmnopqrstuv"
    static let web = "web-token-0123456789abcdefghijklmnopqrstuvwxy"
    static let deployer = "deployer-token-0123456789abcdefghijklmnopqrst"
    static let admin = "admin-token-0123456789abcdefghijklmnopqrstuvw"
    static let writer = "writer-token-0123456789abcdefghijklmnopqrstuv"

    static var yaml: String {
        """
        # Test ACL
        tokens:
          - name: reader
            sha256: \(AccessToken.sha256Hex(reader))
            read: ["*"]
          - name: web
            sha256: \(AccessToken.sha256Hex(web))
            read: ["web*"]
            write: ["web*"]
          - name: deployer
            sha256: \(AccessToken.sha256Hex(deployer).uppercased())
            read: ["*"]
            write: ["web*", "api"]
          - name: writer
            sha256: \(AccessToken.sha256Hex(writer))
            write: [db]
          - name: ops
            sha256: \(AccessToken.sha256Hex(admin))
            admin: true
        """
    }

    static func bearer(_ token: String) -> [(String, String)] { [("Authorization", "Bearer \(token)")] }
}

/// Writes `contents` to a new temporary file and returns its path.
func temporaryFile(_ contents: String, name: String = "acl.yaml") throws -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("roster-acl-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let url = directory.appendingPathComponent(name)
    try Data(contents.utf8).write(to: url)
    return url.path
}

/// Settings for tests with access control on.
func aclSettings(_ yaml: String = TestTokens.yaml) throws -> ServerSettings {
    var settings = ServerSettings.testing
    settings.aclFile = try temporaryFile(yaml)
    return settings
}

private func registration(_ name: String, port: Int) -> String {
    #"{"name":"\#(name)","host":"10.0.0.5","port":\#(port)}"#
}

@Suite(.timeLimit(.minutes(2))) struct AccessControlFileTests {
    @Test func `the documented format parses into tokens with hashes and patterns`() throws {
        let acl = try AccessControlList.load(path: try temporaryFile(TestTokens.yaml))
        #expect(acl.tokens.map(\.name) == ["reader", "web", "deployer", "writer", "ops"])
        let deployer = acl.tokens[2]
        #expect(deployer.sha256 == AccessToken.sha256(TestTokens.deployer))
        #expect(deployer.read == ServicePatterns([.prefix("")]))
        #expect(deployer.write == ServicePatterns([.prefix("web"), .exact("api")]))
        #expect(!deployer.admin)
        #expect(acl.tokens[4].admin)
        #expect(acl.token(withDigest: AccessToken.sha256(TestTokens.web))?.name == "web")
        #expect(acl.token(withDigest: AccessToken.sha256("nope")) == nil)
    }

    static let hash = String(repeating: "ab", count: 32)

    @Test(arguments: [
        ("tokens: []\n", "`tokens` is empty"),
        ("tokens:\n  - name: a\n", "line 2: tokens[0] (\"a\"): missing `sha256`"),
        ("tokens:\n  - name: a\n    sha256: abc\n    read: [\"*\"]\n", "line 3: tokens[0] (\"a\"): sha256 must be 64 hex digits"),
        ("tokens:\n  - name: a\n    sha256: \(hash)\n    read: [\"w*b\"]\n", "read has \"w*b\""),
        ("tokens:\n  - name: a\n    sha256: \(hash)\n    write: web\n", "write must be a list"),
        ("tokens:\n  - name: a\n    sha256: \(hash)\n", "grants nothing"),
        ("tokens:\n  - name: a\n    sha256: \(hash)\n    admin: yes\n", "admin must be true or false"),
        ("tokens:\n  - name: a\n    sha256: \(hash)\n    admin: true\n    read: [x]\n", "leave out read and write"),
        ("tokens:\n  - name: a\n    sha256: \(hash)\n    reed: [x]\n", "unknown key `reed`"),
        ("tokens:\n  - name: a\n    sha256: \(hash)\n    admin: true\n  - name: a\n    sha256: \(String(repeating: "cd", count: 32))\n    admin: true\n", "the name \"a\" is used twice"),
        ("tokens:\n  - name: a\n    sha256: \(hash)\n    admin: true\n  - name: b\n    sha256: \(hash.uppercased())\n    admin: true\n", "the same sha256 as another token"),
        ("tokens:\n  - name: a\n    name: b\n", "malformed YAML"),
        ("users: []\n", "unknown key `users`"),
        ("- a\n", "the top level must be a mapping"),
        ("tokens: [\n", "malformed YAML"),
    ])
    func `a bad ACL file names the problem`(contents: String, fragment: String) throws {
        let path = try temporaryFile(contents)
        #expect {
            _ = try AccessControlList.load(path: path)
        } throws: { error in
            let description = "\(error)"
            return description.hasPrefix(path + ": ") && description.contains(fragment)
        }
    }

    @Test func `a missing ACL file is an error naming it`() {
        #expect(throws: AccessControlFileError(path: "/nonexistent/acl.yaml", message: "no such file")) {
            _ = try AccessControlList.load(path: "/nonexistent/acl.yaml")
        }
    }

    @Test(arguments: [
        ("api", "api", true), ("api", "api2", false), ("web*", "web", true), ("web*", "web-api", true),
        ("web*", "we", false), ("*", "anything", true), ("web*", "db", false),
    ])
    func `patterns match exact names and prefixes`(pattern: String, service: String, matches: Bool) throws {
        #expect(try #require(ServicePattern(parsing: pattern)).matches(service) == matches)
    }

    @Test(arguments: ["", "*web", "w*b", "-web*", "a b", "web**", "wéb"])
    func `malformed patterns are refused`(text: String) {
        #expect(ServicePattern(parsing: text) == nil)
    }

    @Test func `a generated token is 32 random bytes in base64url and hashes to its hex line`() {
        let token = AccessToken.generate()
        #expect(token.utf8.count == 43)
        let alphabet = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        #expect(token.utf8.allSatisfy(alphabet.contains))
        #expect(AccessToken.generate() != token)
        // FIPS 180-2 test vector.
        #expect(AccessToken.sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(AccessToken.digest(fromHex: AccessToken.sha256Hex(token)) == AccessToken.sha256(token))
    }

    @Test func `constant-time comparison compares whole strings`() {
        #expect(AccessToken.constantTimeEquals([1, 2, 3], [1, 2, 3]))
        #expect(!AccessToken.constantTimeEquals([1, 2, 3], [1, 2, 4]))
        #expect(!AccessToken.constantTimeEquals([1, 2, 3], [1, 2]))
    }
}

@Suite(.timeLimit(.minutes(2))) struct AccessControlAPITests {
    @Test func `no token is 401 with a Bearer challenge and an unknown or malformed one is invalid_token`() async throws {
        let capture = LogCapture()
        try await withRosterServer(settings: try aclSettings(), logger: capture.logger()) { app in
            let client = try await RawHTTPConnection(port: app.port)
            let missing = try await client.request("GET", "/services")
            #expect(missing.status == 401)
            #expect(missing.header("www-authenticate") == #"Bearer realm="roster""#)
            #expect(missing.header("content-type") == "application/problem+json")
            #expect(missing.json?["code"] == "missing_token")
            #expect(missing.header("roster-epoch") == app.store.epoch)

            for value in ["Bearer not-a-known-token", "Basic dXNlcjpwYXNz", "Bearer", "Bearer a b", "bearer =abc", "Bearer ab=c"] {
                let refused = try await client.request("GET", "/services", headers: [("Authorization", value)])
                #expect(refused.status == 401, "\(value)")
                #expect(refused.header("www-authenticate") == #"Bearer realm="roster", error="invalid_token""#)
                #expect(refused.json?["code"] == "invalid_token")
            }
            let twice = try await client.request(
                "GET", "/services", headers: TestTokens.bearer(TestTokens.reader) + TestTokens.bearer(TestTokens.reader))
            #expect(twice.status == 401)
            // Unknown routes need a token too; the scheme is case-insensitive.
            #expect(try await client.request("GET", "/nothing").status == 401)
            #expect(try await client.request("GET", "/services", headers: [("Authorization", "bEaReR \(TestTokens.reader)")]).status == 200)

            #expect(app.accessDenials.counts[.missingToken] == 2)
            #expect(app.accessDenials.counts[.unknownToken] == 1)
            #expect(app.accessDenials.counts[.malformedToken] == 6)
            let denied = capture.entries(withMessage: "access denied")
            #expect(denied.count == 9)
            #expect(denied.allSatisfy { $0.metadata["acl.reason"] != nil })
            #expect(!capture.all.contains { entry in entry.metadata.values.contains { $0.contains("not-a-known-token") } })
        }
    }

    @Test func `a read-only token lists and looks up but gets 403 on register, heartbeat and deregister`() async throws {
        try await withRosterServer(settings: try aclSettings()) { app in
            let client = try await RawHTTPConnection(port: app.port)
            let admin = TestTokens.bearer(TestTokens.admin), reader = TestTokens.bearer(TestTokens.reader)
            let created = try await client.request("POST", "/services", body: registration("db", port: 1), headers: admin)
            #expect(created.status == 201)
            let id = try #require(created.json?["id"]?.stringValue)

            let listed = try await client.request("GET", "/services", headers: reader)
            #expect(listed.status == 200)
            #expect(listed.json == ["db": ["instances": 1, "healthy": 1]])
            #expect(try await client.request("GET", "/services/db", headers: reader).status == 200)
            #expect(try await client.request("GET", "/services/db/\(id)", headers: reader).status == 200)
            #expect(try await client.request("GET", "/services/db/\(id)/health", headers: reader).status == 200)

            let refused = try await client.request("POST", "/services", body: registration("db", port: 2), headers: reader)
            #expect(refused.status == 403)
            #expect(refused.header("www-authenticate") == nil)
            #expect(refused.json?["code"] == "forbidden")
            #expect(refused.json?["detail"] == "token \"reader\" may not register services")
            #expect(try await client.request("PUT", "/services/db/\(id)/heartbeat", headers: reader).status == 403)
            #expect(try await client.request("DELETE", "/services/db/\(id)", headers: reader).status == 403)
            #expect(app.store.index == 1)
            #expect(app.accessDenials.counts[.forbidden] == 3)
        }
    }

    @Test func `a token for web* registers web-api but not db, and sees only web services`() async throws {
        try await withRosterServer(settings: try aclSettings()) { app in
            let client = try await RawHTTPConnection(port: app.port)
            let admin = TestTokens.bearer(TestTokens.admin), web = TestTokens.bearer(TestTokens.web)
            let db = try await client.request("POST", "/services", body: registration("db", port: 1), headers: admin)
            let dbID = try #require(db.json?["id"]?.stringValue)

            let created = try await client.request("POST", "/services", body: registration("web-api", port: 1), headers: web)
            #expect(created.status == 201)
            let webID = try #require(created.json?["id"]?.stringValue)
            let refused = try await client.request("POST", "/services", body: registration("db", port: 2), headers: web)
            #expect(refused.status == 403)
            #expect(refused.json?["detail"] == "token \"web\" may not write service \"db\"")
            #expect(try await client.request("GET", "/services", headers: web).json == ["web-api": ["instances": 1, "healthy": 1]])
            #expect(try await client.request("GET", "/services/db", headers: web).status == 403)
            #expect(try await client.request("GET", "/services/db/\(dbID)", headers: web).status == 403)
            #expect(try await client.request("DELETE", "/services/db/\(dbID)", headers: web).status == 403)
            #expect(try await client.request("PUT", "/services/web-api/\(webID)/heartbeat", headers: web).status == 200)
            #expect(try await client.request("DELETE", "/services/web-api/\(webID)", headers: web).status == 204)
            #expect(app.store.instances(of: "db").0.count == 1)
        }
    }

    @Test func `a write-only token registers its service and may not read it`() async throws {
        try await withRosterServer(settings: try aclSettings()) { app in
            let client = try await RawHTTPConnection(port: app.port)
            let writer = TestTokens.bearer(TestTokens.writer)
            #expect(try await client.request("POST", "/services", body: registration("db", port: 1), headers: writer).status == 201)
            #expect(try await client.request("GET", "/services/db", headers: writer).status == 403)
            #expect(try await client.request("GET", "/services", headers: writer).json == [:])
            let watcher = try await SSEWatcher(port: app.port, path: "/watch", headers: writer)
            #expect(try await watcher.readHead().status == 200)
            #expect(try JSONReader.read(try await watcher.next().data)["instances"] == [])
            await watcher.close()
        }
    }

    @Test func `a watch with a web* token never shows db, in its snapshot, its stream or a reset`() async throws {
        try await withRosterServer(settings: try aclSettings()) { app in
            let client = try await RawHTTPConnection(port: app.port)
            let admin = TestTokens.bearer(TestTokens.admin), web = TestTokens.bearer(TestTokens.web)
            _ = try await client.request("POST", "/services", body: registration("db", port: 1), headers: admin)
            _ = try await client.request("POST", "/services", body: registration("web", port: 1), headers: admin)

            let watcher = try await SSEWatcher(port: app.port, path: "/watch", headers: web)
            #expect(try await watcher.readHead().status == 200)
            let snapshot = try await watcher.next()
            #expect(snapshot.type == "snapshot")
            #expect(try JSONReader.read(snapshot.data)["instances"]?.arrayValue?.map { $0["name"] } == ["web"])
            _ = try await client.request("POST", "/services", body: registration("db", port: 2), headers: admin)
            _ = try await client.request("POST", "/services", body: registration("db-web", port: 2), headers: admin)
            _ = try await client.request("POST", "/services", body: registration("web-2", port: 2), headers: admin)
            let next = try await watcher.next()
            #expect(try JSONReader.read(next.data)["service"] == "web-2")
            #expect(next.lastEventID == "\(app.store.epoch)-5")

            // A resume from before the db changes replays only web ones; a reset snapshot hides db.
            let resumed = try await SSEWatcher(port: app.port, path: "/watch", lastEventID: "\(app.store.epoch)-0", headers: web)
            let replayed = try await resumed.next(2)
            #expect(try replayed.map { try JSONReader.read($0.data)["service"] } == ["web", "web-2"])
            let reset = try await SSEWatcher(port: app.port, path: "/watch", lastEventID: "other-1", headers: web)
            let resetEvent = try await reset.next()
            #expect(resetEvent.type == "reset")
            #expect(try JSONReader.read(resetEvent.data)["instances"]?.arrayValue?.map { $0["name"] } == ["web", "web-2"])

            let named = try await client.request("GET", "/watch?service=db", headers: web)
            #expect(named.status == 403)
            #expect(try await client.request("GET", "/watch?service=web&service=db", headers: web).status == 403)
            #expect(try await client.request("GET", "/services/db/watch", headers: web).status == 403)
            let unauthenticated = try await SSEWatcher(port: app.port, path: "/watch")
            #expect(try await unauthenticated.readHead().status == 401)
            await watcher.close()
            await resumed.close()
            await reset.close()
        }
    }

    @Test func `open paths need no token and everything else does`() async throws {
        var settings = try aclSettings()
        settings.aclOpenPaths = ["/healthz", "/services"]
        try await withRosterServer(settings: settings) { app in
            let client = try await RawHTTPConnection(port: app.port)
            #expect(try await client.request("GET", "/healthz").status == 200)
            // An open path runs with no grant: a listing shows nothing, a registration is refused.
            #expect(try await client.request("GET", "/services").json == [:])
            #expect(try await client.request("POST", "/services", body: registration("web", port: 1)).status == 403)
            #expect(try await client.request("GET", "/readyz").status == 401)
            // Not open, /readyz takes any valid token.
            #expect(await eventually {
                (try? await client.request("GET", "/readyz", headers: TestTokens.bearer(TestTokens.writer)).status) == 200
            })
        }
    }

    @Test func `health endpoints are open by default, metrics need an admin token and count refusals`() async throws {
        try await withRosterServer(settings: try aclSettings()) { app in
            let client = try await RawHTTPConnection(port: app.port)
            #expect(try await client.request("GET", "/healthz").status == 200)
            #expect(await eventually { (try? await client.request("GET", "/readyz").status) == 200 })
            let anonymous = try await client.request("GET", "/metrics")
            #expect(anonymous.status == 401)
            let reader = try await client.request("GET", "/metrics", headers: TestTokens.bearer(TestTokens.reader))
            #expect(reader.status == 403)
            #expect(reader.json?["detail"] == "token \"reader\" needs an admin token for GET /metrics")
            let metrics = try await client.request("GET", "/metrics", headers: TestTokens.bearer(TestTokens.admin))
            #expect(metrics.status == 200)
            let exposition = try PrometheusExposition(metrics.text)
            #expect(exposition.value("roster_access_denied_total", ["reason": "missing_token"]) == 1)
            #expect(exposition.value("roster_access_denied_total", ["reason": "forbidden"]) == 1)
            #expect(exposition.value("roster_http_requests_total", ["method": "GET", "route": "_unmatched", "status": "401"]) == 1)
        }
    }

    @Test func `without an ACL file everything is open`() async throws {
        try await withRosterServer { app in
            let client = try await RawHTTPConnection(port: app.port)
            #expect(app.accessControl == nil)
            #expect(try await client.request("POST", "/services", body: registration("db", port: 1)).status == 201)
            #expect(try await client.request("GET", "/services").status == 200)
        }
    }

    @Test func `a bad ACL file stops the application from starting`() throws {
        var settings = ServerSettings.testing
        settings.aclFile = try temporaryFile("tokens: []\n")
        #expect(throws: AccessControlFileError.self) { _ = try RosterApplication(settings: settings, logger: .silent) }
    }
}

@Suite(.timeLimit(.minutes(2))) struct AccessControlExecutableTests {
    @Test func `acl token prints a token and its SHA-256`() async throws {
        let outcome = try await RosterExecutable.run(["acl", "token"])
        #expect(outcome.status == 0)
        let lines = outcome.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        #expect(lines.first?.utf8.count == 43)
        #expect(lines.last == AccessToken.sha256Hex(lines.first ?? ""))
    }

    @Test func `serve with a bad ACL file exits 2 naming the setting, source and problem`() async throws {
        let path = try temporaryFile("tokens:\n  - name: a\n    sha256: xyz\n    admin: true\n")
        let outcome = try await RosterExecutable.run(["serve", "--listen", "127.0.0.1:0"], environment: ["ROSTER_ACL_FILE": path])
        #expect(outcome.status == 2)
        #expect(outcome.stderr.contains("invalid value for `acl_file` from environment variable ROSTER_ACL_FILE: \(path): line 3: tokens[0] (\"a\"): sha256 must be 64 hex digits"))
    }

    @Test func `serve with an ACL file says so at startup and enforces it`() async throws {
        let path = try temporaryFile(TestTokens.yaml)
        let process = try RosterProcess(
            ["serve", "--listen", "127.0.0.1:0", "--acl-file", path], environment: ["ROSTER_LOG_FORMAT": "json"])
        let log = try await process.waitForLog("access control on")
        let notice = try #require(log.split(separator: "\n").first { $0.contains("access control on") })
        #expect(try JSONReader.read(String(notice))["acl.tokens"] == "5")
        #expect(!log.contains("without access control"))
        let line = try #require(log.split(separator: "\n").first { $0.contains("roster listening") })
        let listen = try #require(try JSONReader.read(String(line))["listen"]?.stringValue)
        let port = try #require(UInt16(listen.split(separator: ":").last!))
        let client = try await RawHTTPConnection(port: port)
        #expect(try await client.request("GET", "/services").status == 401)
        #expect(try await client.request("GET", "/services", headers: TestTokens.bearer(TestTokens.reader)).status == 200)
        process.signal(SIGTERM)
        #expect(try await process.wait() == 0)
    }

    @Test(arguments: [("127.0.0.1", true), ("127.1.2.3", true), ("::1", true), ("localhost", true), ("0.0.0.0", false), ("::", false), ("10.0.0.5", false)])
    func `loopback addresses are told apart from others`(host: String, loopback: Bool) {
        #expect(ListenAddress(host: host, port: 1).isLoopback == loopback)
    }
}
