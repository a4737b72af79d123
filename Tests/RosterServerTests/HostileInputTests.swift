import Foundation
import RosterAPI
import RosterHTTP
import RosterServer
import RosterTesting
import Testing

/// What an attack must leave as it found it: the registry's index and contents, its watchers, and
/// the HTTP server's open connections and read buffers.
struct Footprint: Equatable, CustomStringConvertible {
    var index: UInt64
    var stored: Int
    var watchers: Int
    var openConnections: Int
    var bufferedBytes: Int

    init(_ app: RosterApplication) {
        index = app.store.index
        stored = app.store.storedCount
        watchers = app.store.watcherCount
        openConnections = app.httpServer.openConnections
        bufferedBytes = app.httpServer.bufferedBytes
    }

    var description: String {
        "index \(index), stored \(stored), watchers \(watchers), connections \(openConnections), buffered \(bufferedBytes)"
    }
}

/// A registry with one instance and an idle keep-alive client, the attack, then the checks that
/// it still serves, nothing changed, and connections and buffers are back to their counts.
func withAttackedRegistry(
    settings: ServerSettings = .hostile,
    headers: [(String, String)] = [],
    _ attack: @Sendable (RosterApplication) async throws -> Void
) async throws {
    try await withRosterServer(settings: settings) { app in
        let probe = try await RawHTTPConnection(port: app.port)
        let created = try await probe.request(
            "POST", "/services", body: #"{"name":"web","host":"10.0.0.5","port":8080}"#, headers: headers)
        try #require(created.status == 201)
        let listing = try await probe.request("GET", "/services", headers: headers)
        #expect(await eventually { app.httpServer.openConnections == 1 && app.httpServer.bufferedBytes == 0 })
        let before = Footprint(app)

        try await attack(app)

        let settled = await eventually(within: .seconds(10)) { Footprint(app) == before }
        #expect(settled, "after the attack: \(Footprint(app)); before: \(before)")
        let after = try await probe.request("GET", "/services", headers: headers)
        #expect(after.status == 200)
        #expect(after.json == listing.json)
        #expect(after.header("roster-index") == "1")
        #expect(app.store.instances(of: "smuggled").0.isEmpty)
    }
}

extension ServerSettings {
    /// Test settings with a short head deadline and a small connection cap, so attacks end quickly.
    static var hostile: ServerSettings {
        var settings = ServerSettings.testing
        settings.http.headTimeout = .milliseconds(1500)
        settings.http.maxConnections = 12
        return settings
    }
}

/// A request that registers `smuggled` if it is ever run.
private let smuggled: String = {
    let body = #"{"name":"smuggled","host":"10.0.0.9","port":9}"#
    return "POST /services HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
}()

private func post(_ headers: String, _ body: String = "") -> [UInt8] {
    Array("POST /services HTTP/1.1\r\nHost: a\r\n\(headers)\r\n\(body)".utf8)
}

private func registration(json: String) -> [UInt8] {
    registration(body: Array(json.utf8))
}

private func registration(body: [UInt8]) -> [UInt8] {
    post("Content-Type: application/json\r\nContent-Length: \(body.count)\r\n") + body
}

private func bytes(_ parts: [UInt8]...) -> [UInt8] { parts.flatMap { $0 } }

/// One hostile request: what is sent, and the status and problem code it must get.
struct HostileCase: Sendable, CustomTestStringConvertible {
    var label: String
    var request: [UInt8]
    var status: Int
    var code: String?

    init(_ label: String, _ request: [UInt8], _ status: Int, _ code: String? = nil) {
        self.label = label
        self.request = request
        self.status = status
        self.code = code
    }

    init(_ label: String, _ request: String, _ status: Int, _ code: String? = nil) {
        self.init(label, Array(request.utf8), status, code)
    }

    var testDescription: String { label }
}

@Suite(.timeLimit(.minutes(3))) struct HostileInputTests {
    static let smuggling: [HostileCase] = [
        HostileCase("CL.TE", post("Content-Length: 6\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n" + smuggled), 400, "bad_request"),
        HostileCase("TE.CL", post("Transfer-Encoding: chunked\r\nContent-Length: 6\r\n", "0\r\n\r\n" + smuggled), 400, "bad_request"),
        HostileCase("TE chunked, identity", post("Transfer-Encoding: chunked, identity\r\n", "0\r\n\r\n" + smuggled), 501, "unsupported_transfer_coding"),
        HostileCase("TE identity, chunked", post("Transfer-Encoding: identity, chunked\r\n", "0\r\n\r\n" + smuggled), 501, "unsupported_transfer_coding"),
        HostileCase("TE space before colon", post("Transfer-Encoding : chunked\r\n", "0\r\n\r\n" + smuggled), 400, "bad_request"),
        HostileCase("TE xchunked", post("Transfer-Encoding: xchunked\r\n", "0\r\n\r\n" + smuggled), 501, "unsupported_transfer_coding"),
        HostileCase("TE chunked twice", post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n" + smuggled), 501, "unsupported_transfer_coding"),
        HostileCase("TE empty", post("Transfer-Encoding:\r\n", "0\r\n\r\n" + smuggled), 400, "bad_request"),
        HostileCase("TE on HTTP/1.0", "POST /services HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled, 400, "bad_request"),
        HostileCase("TE obs-folded", post("Transfer-Encoding: identity\r\n chunked\r\n", "0\r\n\r\n" + smuggled), 400, "bad_request"),
        HostileCase("CL differing", post("Content-Length: 6\r\nContent-Length: 7\r\n", "0\r\n\r\n" + smuggled), 400, "bad_request"),
        HostileCase("CL list differing", post("Content-Length: 6, 7\r\n", "0\r\n\r\n" + smuggled), 400, "bad_request"),
        HostileCase("CL plus sign", post("Content-Length: +6\r\n", "0\r\n\r\n" + smuggled), 400, "bad_request"),
        HostileCase("CL negative", post("Content-Length: -1\r\n", smuggled), 400, "bad_request"),
        HostileCase("CL overflow", post("Content-Length: 18446744073709551617\r\n", smuggled), 400, "bad_request"),
        HostileCase("CL hex", post("Content-Length: 0x10\r\n", smuggled), 400, "bad_request"),
        HostileCase("chunk size 17 digits", post("Transfer-Encoding: chunked\r\n", "10000000000000000\r\n" + smuggled), 400, "bad_request"),
        HostileCase("chunk size over Int.max", post("Transfer-Encoding: chunked\r\n", "ffffffffffffffff\r\n" + smuggled), 400, "bad_request"),
        HostileCase("chunk size huge but in range", post("Transfer-Encoding: chunked\r\n", "7fffffffffffffff\r\n" + smuggled), 413, "body_too_large"),
        HostileCase("chunk size negative", post("Transfer-Encoding: chunked\r\n", "-1\r\n" + smuggled), 400, "bad_request"),
        HostileCase("chunk size with 0x", post("Transfer-Encoding: chunked\r\n", "0x5\r\nhello\r\n0\r\n\r\n"), 400, "bad_request"),
        HostileCase("chunk size with space", post("Transfer-Encoding: chunked\r\n", "5 \r\nhello\r\n0\r\n\r\n"), 400, "bad_request"),
        HostileCase("chunk extension with a control byte", post("Transfer-Encoding: chunked\r\n", "5;a=\u{1}\r\nhello\r\n0\r\n\r\n"), 400, "bad_request"),
        HostileCase("chunk extension too long", post("Transfer-Encoding: chunked\r\n", "5;" + String(repeating: "x", count: 5000) + "\r\nhello\r\n0\r\n\r\n"), 400, "bad_request"),
        HostileCase("chunk extensions are read and ignored", post("Transfer-Encoding: chunked\r\n", "2;a=b;c=\"d e\"\r\n{}\r\n0\r\n\r\n"), 400, "missing_field"),
        HostileCase("chunk data longer than its size", post("Transfer-Encoding: chunked\r\n", "1\r\nab\r\n0\r\n\r\n"), 400, "bad_request"),
        HostileCase("chunk with bare LF", post("Transfer-Encoding: chunked\r\n", "2\n{}\r\n0\r\n\r\n"), 400, "bad_request"),
        HostileCase("bad trailer", post("Transfer-Encoding: chunked\r\n", "0\r\nno colon\r\n\r\n"), 400, "bad_request"),
        HostileCase("bare LF in head", "POST /services HTTP/1.1\nHost: a\nContent-Length: 2\n\n{}", 400, "bad_request"),
        HostileCase("bare CR in head", "POST /services HTTP/1.1\rHost: a\r\n\r\n", 400, "bad_request"),
        HostileCase("two Host headers", "GET /services HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "bad_request"),
        HostileCase("no Host header", "GET /services HTTP/1.1\r\n\r\n", 400, "bad_request"),
    ]

    static let oversized: [HostileCase] = [
        HostileCase("request line of 9000 bytes", "GET /services/\(String(repeating: "a", count: 9000)) HTTP/1.1\r\nHost: a\r\n\r\n", 414, "uri_too_long"),
        HostileCase("header of 40 KiB", "GET /services HTTP/1.1\r\nHost: a\r\nX: \(String(repeating: "b", count: 40 * 1024))\r\n\r\n", 431, "header_too_large"),
        HostileCase("101 header fields", "GET /services HTTP/1.1\r\nHost: a\r\n" + (0..<101).map { "X-\($0): 1\r\n" }.joined() + "\r\n", 431, "header_too_large"),
        HostileCase("Content-Length of 2 MiB", post("Content-Length: 2097152\r\n"), 413, "body_too_large"),
        HostileCase("a chunk of 2 MiB", post("Transfer-Encoding: chunked\r\n", "200000\r\n"), 413, "body_too_large"),
        HostileCase("metadata of 65 keys", registration(json: #"{"name":"x","host":"h","port":1,"metadata":{"# + (0..<65).map { #""k\#($0)":"v""# }.joined(separator: ",") + "}}"), 400, "invalid_field"),
        HostileCase("a number of 100,000 digits", registration(json: #"{"name":"x","host":"h","port":"# + String(repeating: "9", count: 100_000) + "}"), 400, "number_too_long"),
        HostileCase("a string of 512 KiB", registration(json: #"{"name":"x","host":""# + String(repeating: "h", count: 512 * 1024) + #"","port":1}"#), 400, "invalid_field"),
    ]

    static let malformedText: [HostileCase] = [
        HostileCase("invalid UTF-8 in the path", bytes(Array("GET /services/".utf8), [0xFF, 0xFE], Array(" HTTP/1.1\r\nHost: a\r\n\r\n".utf8)), 400, "bad_request"),
        HostileCase("NUL in the path", bytes(Array("GET /services/a".utf8), [0], Array("b HTTP/1.1\r\nHost: a\r\n\r\n".utf8)), 400, "bad_request"),
        HostileCase("percent-encoded invalid UTF-8 in the path", "GET /services/%FF%FE HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid_path"),
        HostileCase("an invalid service name in the path", "GET /services/-bad- HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid_path"),
        HostileCase("a percent-encoded NUL in a service name", "GET /services/w%00b/watch HTTP/1.1\r\nHost: a\r\n\r\n", 400, "invalid_path"),
        HostileCase("percent-encoded NUL in the path", "DELETE /services/web/%00 HTTP/1.1\r\nHost: a\r\n\r\n", 404, "instance_not_found"),
        HostileCase("NUL in a header", bytes(Array("GET /services HTTP/1.1\r\nHost: a\r\nX: a".utf8), [0], Array("b\r\n\r\n".utf8)), 400, "bad_request"),
        HostileCase("control byte in a header name", bytes(Array("GET /services HTTP/1.1\r\nHost: a\r\nX".utf8), [1], Array(": b\r\n\r\n".utf8)), 400, "bad_request"),
        HostileCase("invalid UTF-8 in the JSON", registration(body: bytes(Array(#"{"name":""#.utf8), [0xC3, 0x28], Array(#"","host":"h","port":1}"#.utf8))), 400, "invalid_utf8"),
        HostileCase("raw NUL in a JSON string", registration(json: "{\"name\":\"a\u{0}b\",\"host\":\"h\",\"port\":1}"), 400, "invalid_json"),
        HostileCase("escaped NUL in the name", registration(json: #"{"name":"a\u0000b","host":"h","port":1}"#), 400, "invalid_field"),
        HostileCase("100,000 nested arrays", registration(json: String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)), 400, "too_deep"),
        HostileCase("100,000 nested objects", registration(json: String(repeating: #"{"a":"#, count: 100_000) + "1" + String(repeating: "}", count: 100_000)), 400, "too_deep"),
        HostileCase("a huge exponent", registration(json: #"{"name":"x","host":"h","port":1e400}"#), 400, "invalid_field"),
        HostileCase("a huge ttl", registration(json: #"{"name":"x","host":"h","port":1,"ttl":1e308}"#), 400, "invalid_field"),
        HostileCase("a port past Int", registration(json: #"{"name":"x","host":"h","port":18446744073709551617}"#), 400, "invalid_field"),
        HostileCase("duplicate keys", registration(json: #"{"name":"x","name":"smuggled","host":"h","port":1}"#), 400, "duplicate_key"),
        HostileCase("duplicate keys after unescaping", registration(json: #"{"name":"x","n\u0061me":"smuggled","host":"h","port":1}"#), 400, "duplicate_key"),
        HostileCase("a lone surrogate", registration(json: #"{"name":"\ud800","host":"h","port":1}"#), 400, "invalid_json"),
    ]

    @Test(arguments: smuggling + oversized + malformedText)
    func `a hostile request is refused and leaves the registry as it was`(hostile: HostileCase) async throws {
        try await withAttackedRegistry { app in
            let attacker = try await RawHTTPConnection(port: app.port)
            try await attacker.send(hostile.request)
            let response = try await attacker.readResponse()
            #expect(response.status == hostile.status)
            #expect(response.header("content-type") == "application/problem+json")
            if let code = hostile.code { #expect(response.json?["code"]?.stringValue == code) }
            if response.closes {
                #expect(await attacker.waitForClose())
                // Nothing after the refused request was answered.
                #expect(await attacker.unread.isEmpty)
            }
            await attacker.close()
        }
    }

    @Test func `slowloris sending one header byte per second gets 408 within the head deadline`() async throws {
        try await withAttackedRegistry { app in
            let attacker = try await RawHTTPConnection(port: app.port)
            try await attacker.send("POST /services HTTP/1.1\r\nHost: a\r\nX-Slow: ")
            let trickle = Task {
                // One byte per second, never finishing the head; stops when the server hangs up.
                for _ in 0..<30 {
                    try await Task.sleep(for: .seconds(1))
                    try await attacker.send("a")
                }
            }
            // The head deadline is 1.5 s; the answer comes on the timer's next tick after it.
            let response = try await attacker.readResponse(timeout: .seconds(6))
            trickle.cancel()
            #expect(response.status == 408)
            #expect(response.json?["code"] == "request_timeout")
            #expect(await attacker.waitForClose())
            await attacker.close()
        }
    }

    @Test func `a body sent one byte per second gets 408 within the deadline`() async throws {
        try await withAttackedRegistry { app in
            let attacker = try await RawHTTPConnection(port: app.port)
            try await attacker.send("POST /services HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n{")
            let trickle = Task {
                for _ in 0..<30 {
                    try await Task.sleep(for: .seconds(1))
                    try await attacker.send(" ")
                }
            }
            let response = try await attacker.readResponse(timeout: .seconds(6))
            trickle.cancel()
            #expect(response.status == 408)
            await attacker.close()
        }
    }

    @Test func `a flood past the connection cap is refused with 503 and service resumes when it leaves`() async throws {
        try await withAttackedRegistry { app in
            let cap = app.settings.http.maxConnections
            // Up to the cap: idle connections that never send a byte (the probe holds one slot).
            var held: [RawHTTPConnection] = []
            for _ in 0..<(cap - 1) { held.append(try await RawHTTPConnection(port: app.port)) }
            #expect(await eventually { app.httpServer.openConnections == cap })
            // Past it: each is answered 503 and closed, even one that sends a registration.
            let rejectedBefore = app.httpServer.rejectedConnections
            for i in 0..<30 {
                let extra = try await RawHTTPConnection(port: app.port)
                if i == 0 { try? await extra.send(smuggled) }
                let refused = try await extra.readResponse()
                #expect(refused.status == 503)
                #expect(refused.json?["code"] == "too_many_connections")
                #expect(refused.header("retry-after") == "1")
                #expect(await extra.waitForClose())
                await extra.close()
            }
            #expect(app.httpServer.rejectedConnections == rejectedBefore + 30)
            #expect(app.httpServer.openConnections == cap)
            for connection in held { await connection.close() }
            #expect(await eventually { app.httpServer.openConnections == 1 })
            let later = try await RawHTTPConnection(port: app.port)
            #expect(try await later.request("GET", "/services/web").status == 200)
            await later.close()
        }
    }

    @Test func `many half-sent requests and abrupt closes leave no connection or buffer behind`() async throws {
        try await withAttackedRegistry { app in
            for i in 0..<8 {
                let attacker = try await RawHTTPConnection(port: app.port)
                switch i % 4 {
                case 0: try await attacker.send("POST /services HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n{\"name\":")
                case 1: try await attacker.send("GET /services HTTP/1.1\r\nHost: a\r\nX-Partial: ")
                case 2: try await attacker.send("POST /services HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n100\r\nabc")
                default: try await attacker.send(String(repeating: "GET /services HTTP/1.1\r\nHost: a\r\n\r\n", count: 50))
                }
                if i == 0 {
                    // The counts see a half-sent request while it waits.
                    #expect(await eventually { app.httpServer.bufferedBytes == "{\"name\":".utf8.count })
                    #expect(app.httpServer.openConnections == 2)
                }
                await attacker.close()
            }
        }
    }

    @Test func `hostile Authorization headers are refused with 401 and change nothing`() async throws {
        let settings = try { () throws -> ServerSettings in
            var settings = try aclSettings()
            settings.http = ServerSettings.hostile.http
            return settings
        }()
        let admin = TestTokens.bearer(TestTokens.admin)
        try await withAttackedRegistry(settings: settings, headers: admin) { app in
            let attacker = try await RawHTTPConnection(port: app.port)
            let shapes: [[UInt8]] = [
                Array("Bearer ".utf8) + [0xFF, 0xFE, 0x80],
                Array("Bearer \(TestTokens.admin)".utf8) + [0x80],
                Array("Bearer \(String(repeating: "A", count: 16 * 1024))".utf8),
                Array("Bearer \(TestTokens.admin.uppercased())".utf8),
                Array("Bearer \(TestTokens.admin) ".utf8) + Array("x".utf8),
                Array("Basic \(TestTokens.admin)".utf8),
            ]
            for shape in shapes {
                let body = Array(#"{"name":"smuggled","host":"10.0.0.9","port":9}"#.utf8)
                let request = Array("POST /services HTTP/1.1\r\nHost: a\r\nContent-Length: \(body.count)\r\nAuthorization: ".utf8)
                    + shape + Array("\r\n\r\n".utf8) + body
                try await attacker.send(request)
                let response = try await attacker.readResponse()
                #expect(response.status == 401)
                #expect(response.json?["code"] == "invalid_token")
            }
            await attacker.close()
            #expect(app.accessDenials.counts[.forbidden] == nil)
        }
    }
}
