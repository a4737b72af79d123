import Curl
import Foundation
import RosterHTTP
import RosterTesting
import Testing

/// The libcurl client against real peers on loopback that answer, fail, hang, trickle or refuse.
@Suite(.timeLimit(.minutes(2))) struct CurlHTTPClientTests {
    let client = CurlHTTPClient()

    func withTarget<T: Sendable>(_ body: @Sendable (TestHTTPTarget) async throws -> T) async throws -> T {
        let target = TestHTTPTarget()
        try target.start()
        do {
            let result = try await body(target)
            await target.stop()
            return result
        } catch {
            await target.stop()
            throw error
        }
    }

    @Test(arguments: [200, 204, 500, 429])
    func `the status of a real server is returned as it is`(status: Int) async throws {
        try await withTarget { target in
            target.set(status: status, headers: [("X-Test", "yes")], body: status == 204 ? "" : "body \(status)")
            let response = try await client.perform(CurlRequest(url: target.url, timeout: .seconds(5), userAgent: "roster-test/1"))
            #expect(response.status == status)
            #expect(response.header("x-test") == "yes")
            #expect(String(decoding: response.body, as: UTF8.self) == (status == 204 ? "" : "body \(status)"))
            #expect(target.requests.first?.headers["user-agent"] == "roster-test/1")
        }
    }

    @Test func `a redirect is returned, never followed`() async throws {
        try await withTarget { elsewhere in
            try await withTarget { redirecting in
                redirecting.set(status: 302, headers: [("Location", elsewhere.url)])
                let response = try await client.perform(CurlRequest(url: redirecting.url, timeout: .seconds(5)))
                #expect(response.status == 302)
                #expect(response.header("location") == elsewhere.url)
                #expect(elsewhere.hits == 0)
            }
        }
    }

    @Test func `methods, headers and bodies are sent`() async throws {
        try await withTarget { target in
            let response = try await client.perform(CurlRequest(
                method: "PUT", url: target.url, headers: [("X-One", "1")], body: Array(#"{"a":1}"#.utf8), timeout: .seconds(5)))
            #expect(response.status == 200)
            let request = try #require(target.requests.first)
            #expect(request.method == "PUT")
            #expect(request.headers["x-one"] == "1")
            #expect(request.headers["content-type"] == "application/json")
            #expect(String(decoding: request.body, as: UTF8.self) == #"{"a":1}"#)
            _ = try await client.perform(CurlRequest(method: "DELETE", url: target.url, timeout: .seconds(5)))
            #expect(target.requests.last?.method == "DELETE")
        }
    }

    @Test func `a refused connection is connection_refused`() async throws {
        let port = try closedPort()
        await #expect(throws: CurlError(.connectionRefused, code: 7, message: "Couldn't connect to server")) {
            try await client.perform(CurlRequest(url: "http://127.0.0.1:\(port)/health", timeout: .seconds(5)))
        }
    }

    @Test func `a server that never answers times out after the timeout and not long after`() async throws {
        try await withRawTCPServer(handler: Misbehaviour.silent) { port in
            let start = ContinuousClock.now
            do throws(CurlError) {
                _ = try await client.perform(CurlRequest(url: "http://127.0.0.1:\(port)/", timeout: .seconds(1)))
                Issue.record("expected a timeout")
            } catch {
                #expect(error.kind == .timeout)
                #expect(error.reason == "timeout")
            }
            let elapsed = ContinuousClock.now - start
            // Well under the 5 s bound on an idle machine (the print shows by how much); the bound leaves room
            // for a loaded CI machine without letting a missing timeout pass (the server never answers).
            // libcurl may fire a fraction of a millisecond early.
            #expect(elapsed >= .milliseconds(990))
            #expect(elapsed < .seconds(5))
            print("silent server: timed out \(elapsed - .seconds(1)) after the 1 s timeout")
        }
    }

    @Test func `a server that trickles its head times out`() async throws {
        try await withRawTCPServer(handler: Misbehaviour.trickle(every: .milliseconds(100))) { port in
            let start = ContinuousClock.now
            await #expect(throws: CurlError.self) {
                try await client.perform(CurlRequest(url: "http://127.0.0.1:\(port)/", timeout: .seconds(1)))
            }
            let elapsed = ContinuousClock.now - start
            // The trickle never ends: only the whole-transfer timeout can stop it.
            #expect(elapsed >= .milliseconds(990) && elapsed < .seconds(5))
            print("trickling server: timed out \(elapsed - .seconds(1)) after the 1 s timeout")
        }
    }

    @Test func `a server that never accepts (full backlog) times out`() async throws {
        try await withRawTCPServer(backlog: 0, accepting: false) { port in
            // Fill the accept queue so that later connection attempts hang in SYN.
            var fillers: [RawHTTPConnection] = []
            for _ in 0..<4 { if let c = try? await withTimeout(.milliseconds(200), "connect", { try await RawHTTPConnection(port: port) }) { fillers.append(c) } }
            let start = ContinuousClock.now
            do throws(CurlError) {
                _ = try await client.perform(CurlRequest(url: "http://127.0.0.1:\(port)/", timeout: .seconds(1)))
                Issue.record("expected a timeout")
            } catch {
                #expect(error.kind == .timeout)
            }
            #expect(ContinuousClock.now - start < .seconds(2))
            for filler in fillers { await filler.close() }
        }
    }

    @Test func `a 10 MB body is cut at the limit and the transfer ends successfully`() async throws {
        try await withRawTCPServer(handler: Misbehaviour.hugeBody(10_000_000)) { port in
            let response = try await client.perform(CurlRequest(url: "http://127.0.0.1:\(port)/", timeout: .seconds(5), maxBodyBytes: 4096))
            #expect(response.status == 200)
            #expect(response.body.count == 4096)
            #expect(response.truncated)
        }
    }

    @Test func `cancelling the caller removes the transfer promptly`() async throws {
        try await withRawTCPServer(handler: Misbehaviour.silent) { port in
            let client = self.client
            let task = Task {
                try await client.perform(CurlRequest(url: "http://127.0.0.1:\(port)/", timeout: .seconds(30)))
            }
            #expect(await eventually { client.activeTransfers == 1 })
            let start = ContinuousClock.now
            task.cancel()
            let result = await task.result
            // Far below the 30 s timeout, with room for a loaded machine.
            #expect(ContinuousClock.now - start < .seconds(5))
            #expect(throws: CurlError(.cancelled, message: "cancelled")) { try result.get() }
            #expect(client.activeTransfers == 0)
        }
    }

    @Test func `only http and https are allowed`() async {
        await #expect(throws: CurlError.self) {
            try await client.perform(CurlRequest(url: "file:///etc/passwd", timeout: .seconds(1)))
        }
        do throws(CurlError) {
            _ = try await client.perform(CurlRequest(url: "gopher://127.0.0.1/", timeout: .seconds(1)))
        } catch {
            #expect(error.kind == .invalidRequest)
        }
    }

    @Test func `a streamed response arrives as head then body chunks`() async throws {
        var routes = Router()
        routes.add("GET", "/stream") { _ in
            HTTPResponse(status: .ok, body: .stream { writer in
                for i in 0..<3 {
                    try await writer.write(Array("part\(i)\n".utf8))
                    try await Task.sleep(for: .milliseconds(10))
                }
            })
        }
        let server = HTTPServer(configuration: .init(), handler: routes, logger: .silent)
        let port = try server.bind(host: "127.0.0.1", port: 0)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            var status = 0
            var text = ""
            for try await event in client.stream(CurlRequest(url: "http://127.0.0.1:\(port)/stream", timeout: .seconds(5))) {
                switch event {
                case .head(let s, _): status = s
                case .body(let bytes): text += String(decoding: bytes, as: UTF8.self)
                }
            }
            #expect(status == 200)
            #expect(text == "part0\npart1\npart2\n")
            server.beginShutdown(timeout: .seconds(1))
            try await group.waitForAll()
        }
    }

    @Test func `200 mixed transfers run concurrently and each is classified`() async throws {
        try await withTarget { ok in
            try await withTarget { failing in
                failing.set(status: 500)
                try await withRawTCPServer(handler: Misbehaviour.silent) { silentPort in
                    let refused = try closedPort()
                    // Generous timeouts for the peers that answer, so a loaded machine cannot turn
                    // an answer into a timeout; the silent peer gets a short one.
                    let urls: [(String, String, Duration)] = (0..<200).map { i in
                        switch i % 4 {
                        case 0: (ok.url, "200", .seconds(10))
                        case 1: (failing.url, "500", .seconds(10))
                        case 2: ("http://127.0.0.1:\(silentPort)/", "timeout", .milliseconds(500))
                        default: ("http://127.0.0.1:\(refused)/", "connection_refused", .seconds(10))
                        }
                    }
                    let start = ContinuousClock.now
                    let outcomes = try await withThrowingTaskGroup(of: (String, String).self) { group in
                        for (url, expected, timeout) in urls {
                            group.addTask {
                                do throws(CurlError) {
                                    let response = try await client.perform(CurlRequest(url: url, timeout: timeout))
                                    return (expected, String(response.status))
                                } catch {
                                    return (expected, error.reason)
                                }
                            }
                        }
                        var outcomes: [(String, String)] = []
                        for try await outcome in group { outcomes.append(outcome) }
                        return outcomes
                    }
                    #expect(outcomes.count == 200)
                    #expect(outcomes.filter { $0.0 != $0.1 }.map { "\($0.0) → \($0.1)" } == [])
                    print("200 mixed transfers took \(ContinuousClock.now - start)")
                    #expect(client.activeTransfers == 0)
                }
            }
        }
    }
}
