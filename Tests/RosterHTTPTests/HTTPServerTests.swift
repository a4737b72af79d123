import Foundation
import Logging
import RosterHTTP
import RosterTesting
import Synchronization
import Testing

/// A handler that echoes requests and counts them, with a few special paths.
final class EchoHandler: HTTPHandler {
    let served = Mutex<[String]>([])

    func respond(to request: HTTPRequest) async -> HTTPResponse {
        served.withLock { $0.append("\(request.method) \(request.target)") }
        switch request.path {
        case "/slow":
            try? await Task.sleep(for: .milliseconds(300))
            return HTTPResponse(status: .ok, body: .bytes(Array("slow done".utf8)))
        case "/big":
            return HTTPResponse(status: .ok, body: .bytes([UInt8](repeating: 0x62, count: 16 * 1024 * 1024)))
        case "/stream":
            return HTTPResponse(status: .ok, headers: ["Content-Type": "text/plain"], body: .stream { writer in
                for part in ["one\n", "two\n", "three\n"] {
                    try await writer.write(Array(part.utf8))
                    try await Task.sleep(for: .milliseconds(20))
                }
            })
        default:
            let text = "\(request.method) \(request.target) \(request.version) body=\(String(decoding: request.body, as: UTF8.self))"
            return HTTPResponse(status: .ok, headers: ["Content-Type": "text/plain"], body: .bytes(Array(text.utf8)))
        }
    }

    var count: Int { served.withLock { $0.count } }
}

func withHTTPServer<T: Sendable>(
    _ configuration: HTTPServerConfiguration = .init(),
    handler: EchoHandler = EchoHandler(),
    _ body: @Sendable (HTTPServer, UInt16, EchoHandler) async throws -> T
) async throws -> T {
    let server = HTTPServer(configuration: configuration, handler: handler, logger: .silent)
    let port = try server.bind(host: "127.0.0.1", port: 0)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await server.run() }
        let result: Result<T, any Error>
        do { result = .success(try await body(server, port, handler)) } catch { result = .failure(error) }
        server.beginShutdown(timeout: .seconds(1))
        try await group.waitForAll()
        return try result.get()
    }
}

@Suite(.timeLimit(.minutes(2))) struct HTTPServerTests {
    @Test func `keep-alive serves several requests on one connection with a Date header`() async throws {
        try await withHTTPServer { _, port, handler in
            let client = try await RawHTTPConnection(port: port)
            for i in 0..<3 {
                let response = try await client.request("GET", "/n/\(i)")
                #expect(response.status == 200)
                #expect(response.text == "GET /n/\(i) HTTP/1.1 body=")
                #expect(response.header("date")?.hasSuffix(" GMT") == true)
                #expect(!response.closes)
            }
            #expect(handler.count == 3)
        }
    }

    @Test func `pipelined requests are answered in order`() async throws {
        try await withHTTPServer { _, port, _ in
            let client = try await RawHTTPConnection(port: port)
            let burst = (0..<5).map { "GET /p/\($0) HTTP/1.1\r\nHost: a\r\n\r\n" }.joined()
                + "POST /p/5 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
            try await client.send(burst)
            for i in 0..<5 {
                #expect(try await client.readResponse().text == "GET /p/\(i) HTTP/1.1 body=")
            }
            #expect(try await client.readResponse().text == "POST /p/5 HTTP/1.1 body=abc")
        }
    }

    @Test func `HTTP 1.0 closes by default and keeps alive when asked`() async throws {
        try await withHTTPServer { _, port, _ in
            let plain = try await RawHTTPConnection(port: port)
            try await plain.send("GET /a HTTP/1.0\r\n\r\n")
            let first = try await plain.readResponse()
            #expect(first.text == "GET /a HTTP/1.0 body=")
            #expect(first.closes)
            #expect(await plain.waitForClose())

            let kept = try await RawHTTPConnection(port: port)
            try await kept.send("GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            let second = try await kept.readResponse()
            #expect(second.header("connection") == "keep-alive")
            try await kept.send("GET /c HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            #expect(try await kept.readResponse().text == "GET /c HTTP/1.0 body=")
        }
    }

    @Test func `Connection close on HTTP 1.1 is honoured`() async throws {
        try await withHTTPServer { _, port, _ in
            let client = try await RawHTTPConnection(port: port)
            let response = try await client.request("GET", "/x", headers: [("Connection", "close")])
            #expect(response.closes)
            #expect(await client.waitForClose())
        }
    }

    @Test func `Expect 100-continue gets an interim response before the body is sent`() async throws {
        try await withHTTPServer { _, port, _ in
            let client = try await RawHTTPConnection(port: port)
            try await client.send("POST /e HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
            let interim = try await client.readResponse()
            #expect(interim.status == 100)
            try await client.send("hello")
            #expect(try await client.readResponse().text == "POST /e HTTP/1.1 body=hello")
        }
    }

    @Test func `Expect 100-continue with a body too large is refused without the body`() async throws {
        try await withHTTPServer { _, port, handler in
            let client = try await RawHTTPConnection(port: port)
            try await client.send("POST /e HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2097152\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.status == 413)
            #expect(response.json?["code"] == "body_too_large")
            #expect(handler.count == 0)
        }
    }

    @Test func `HEAD gets the headers of GET without a body`() async throws {
        try await withHTTPServer { _, port, _ in
            let client = try await RawHTTPConnection(port: port)
            try await client.send("HEAD /h HTTP/1.1\r\nHost: a\r\n\r\nGET /after HTTP/1.1\r\nHost: a\r\n\r\n")
            let head = try await client.readResponse(toHEAD: true)
            #expect(head.status == 200)
            #expect(head.header("content-length") == "\("HEAD /h HTTP/1.1 body=".utf8.count)")
            // The next response starts right after the head: no body bytes were sent.
            #expect(try await client.readResponse().text == "GET /after HTTP/1.1 body=")
        }
    }

    @Test func `a chunked request body is decoded`() async throws {
        try await withHTTPServer { _, port, _ in
            let client = try await RawHTTPConnection(port: port)
            try await client.send("POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n")
            #expect(try await client.readResponse().text == "POST /c HTTP/1.1 body=Wikipedia")
            #expect(try await client.request("GET", "/next").status == 200)
        }
    }

    @Test func `a streamed response is chunked and flushed as it is produced`() async throws {
        try await withHTTPServer { _, port, _ in
            let client = try await RawHTTPConnection(port: port)
            let response = try await client.request("GET", "/stream")
            #expect(response.header("transfer-encoding") == "chunked")
            #expect(response.header("content-length") == nil)
            #expect(response.text == "one\ntwo\nthree\n")
        }
    }

    @Test func `Content-Length with Transfer-Encoding is 400, closes, and the smuggled request never runs`() async throws {
        try await withHTTPServer { _, port, handler in
            let client = try await RawHTTPConnection(port: port)
            try await client.send(
                "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.status == 400)
            #expect(response.closes)
            #expect(response.header("content-type") == "application/problem+json")
            #expect(response.json?["code"] == "bad_request")
            #expect(await client.waitForClose())
            #expect(await client.unread.isEmpty)
            #expect(handler.count == 0)
        }
    }

    @Test(arguments: [
        ("Transfer-Encoding: chunked, identity\r\n", 501),
        ("Transfer-Encoding : chunked\r\n", 400),
        ("Transfer-Encoding: xchunked\r\n", 501),
        ("Content-Length: 3\r\nContent-Length: 4\r\n", 400),
        ("Content-Length: -3\r\n", 400),
        ("X-Folded: a\r\n b\r\n", 400),
    ])
    func `smuggling shapes over a socket are rejected and close the connection`(header: String, status: Int) async throws {
        try await withHTTPServer { _, port, handler in
            let client = try await RawHTTPConnection(port: port)
            try await client.send("POST /a HTTP/1.1\r\nHost: a\r\n\(header)\r\nabc")
            let response = try await client.readResponse()
            #expect(response.status == status)
            #expect(response.closes)
            #expect(await client.waitForClose())
            #expect(handler.count == 0)
        }
    }

    @Test func `bad chunk framing is 400`() async throws {
        try await withHTTPServer { _, port, handler in
            let client = try await RawHTTPConnection(port: port)
            try await client.send("POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n")
            #expect(try await client.readResponse().status == 400)
            #expect(handler.count == 0)
        }
    }

    @Test func `a 64 KiB header is 431`() async throws {
        try await withHTTPServer { _, port, _ in
            let client = try await RawHTTPConnection(port: port)
            try await client.send("GET / HTTP/1.1\r\nHost: a\r\nX-Big: \(String(repeating: "b", count: 64 * 1024))\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.status == 431)
            #expect(response.json?["code"] == "header_too_large")
        }
    }

    @Test func `a long request line is 414`() async throws {
        try await withHTTPServer { _, port, _ in
            let client = try await RawHTTPConnection(port: port)
            try await client.send("GET /\(String(repeating: "a", count: 9000)) HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(try await client.readResponse().status == 414)
        }
    }

    @Test func `a 2 MiB body is 413 and the client can read it while still sending`() async throws {
        try await withHTTPServer { _, port, handler in
            let client = try await RawHTTPConnection(port: port)
            try await client.send("POST /big HTTP/1.1\r\nHost: a\r\nContent-Length: \(2 * 1024 * 1024)\r\n\r\n")
            try await client.send([UInt8](repeating: 0x61, count: 2 * 1024 * 1024))
            let response = try await client.readResponse()
            #expect(response.status == 413)
            #expect(response.closes)
            #expect(handler.count == 0)
        }
    }

    @Test func `a chunked body over the limit is 413`() async throws {
        var configuration = HTTPServerConfiguration()
        configuration.maxBody = 1000
        try await withHTTPServer(configuration) { _, port, handler in
            let client = try await RawHTTPConnection(port: port)
            try await client.send("POST /big HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n\(String(repeating: "a", count: 1000))\r\n1\r\nb\r\n0\r\n\r\n")
            #expect(try await client.readResponse().status == 413)
            #expect(handler.count == 0)
        }
    }

    @Test func `a slow but steady reader gets a large body whole`() async throws {
        var configuration = HTTPServerConfiguration()
        configuration.idleTimeout = .seconds(6)
        try await withHTTPServer(configuration) { _, port, _ in
            let client = try await RawHTTPConnection(port: port)
            try await client.send("GET /big HTTP/1.1\r\nHost: a\r\n\r\n")
            // Read about 2 MiB, then pause 900 ms, and so on: longer in total than the idle
            // timeout (8 pauses), but never stalling for it, even on a loaded machine.
            var received = 0
            var sincePause = 0
            while received < 16 * 1024 * 1024 {
                let bytes = try await client.readAvailable(timeout: .seconds(10))
                guard !bytes.isEmpty else { break }
                received += bytes.count
                sincePause += bytes.count
                if sincePause >= 2 * 1024 * 1024 {
                    sincePause = 0
                    try await Task.sleep(for: .milliseconds(900))
                }
            }
            #expect(received >= 16 * 1024 * 1024)
        }
    }

    @Test func `absolute-form targets are served by path and fragments are refused`() async throws {
        try await withHTTPServer { _, port, _ in
            let client = try await RawHTTPConnection(port: port)
            try await client.send("GET http://example.com/abs?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n")
            #expect(try await client.readResponse().text == "GET http://example.com/abs?q=1 HTTP/1.1 body=")
            try await client.send("GET /x#frag HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(try await client.readResponse().status == 400)
        }
    }

    @Test func `an unsupported HTTP version is 505`() async throws {
        try await withHTTPServer { _, port, _ in
            let client = try await RawHTTPConnection(port: port)
            try await client.send("GET / HTTP/2.0\r\nHost: a\r\n\r\n")
            #expect(try await client.readResponse().status == 505)
        }
    }

    @Test func `a head that trickles in past the head timeout is 408`() async throws {
        var configuration = HTTPServerConfiguration()
        configuration.headTimeout = .milliseconds(300)
        try await withHTTPServer(configuration) { _, port, handler in
            let client = try await RawHTTPConnection(port: port)
            // Slowloris: a few bytes at a time, never completing the head.
            for part in ["GE", "T / HT", "TP/1.1\r\nHo"] {
                try await client.send(part)
                try await Task.sleep(for: .milliseconds(50))
            }
            let response = try await client.readResponse(timeout: .seconds(3))
            #expect(response.status == 408)
            #expect(response.json?["code"] == "request_timeout")
            #expect(await client.waitForClose())
            #expect(handler.count == 0)
        }
    }

    @Test func `an idle keep-alive connection is closed after the idle timeout`() async throws {
        var configuration = HTTPServerConfiguration()
        configuration.idleTimeout = .seconds(1)
        try await withHTTPServer(configuration) { server, port, _ in
            let client = try await RawHTTPConnection(port: port)
            #expect(try await client.request("GET", "/x").status == 200)
            #expect(await client.waitForClose(timeout: .seconds(5)))
            #expect(await client.unread.isEmpty)
            #expect(await eventually { server.openConnections == 0 })
        }
    }

    @Test func `connections over the cap get 503 and service resumes when they leave`() async throws {
        var configuration = HTTPServerConfiguration()
        configuration.maxConnections = 4
        try await withHTTPServer(configuration) { server, port, _ in
            var held: [RawHTTPConnection] = []
            for _ in 0..<4 {
                let client = try await RawHTTPConnection(port: port)
                #expect(try await client.request("GET", "/hold").status == 200)
                held.append(client)
            }
            #expect(server.openConnections == 4)
            let extra = try await RawHTTPConnection(port: port)
            let refused = try await extra.readResponse()
            #expect(refused.status == 503)
            #expect(refused.json?["code"] == "too_many_connections")
            #expect(await extra.waitForClose())
            #expect(server.rejectedConnections == 1)
            for client in held { await client.close() }
            #expect(await eventually { server.openConnections == 0 })
            let later = try await RawHTTPConnection(port: port)
            #expect(try await later.request("GET", "/again").status == 200)
        }
    }

    @Test func `graceful shutdown finishes in-flight requests, closes idle connections and stops accepting`() async throws {
        let server = HTTPServer(configuration: .init(), handler: EchoHandler(), logger: .silent)
        let port = try server.bind(host: "127.0.0.1", port: 0)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            let idle = try await RawHTTPConnection(port: port)
            #expect(try await idle.request("GET", "/warm").status == 200)
            let busy = try await RawHTTPConnection(port: port)
            try await busy.send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
            try await Task.sleep(for: .milliseconds(50))
            server.beginShutdown(timeout: .seconds(5))
            let response = try await busy.readResponse()
            #expect(response.text == "slow done")
            #expect(response.closes)
            #expect(await idle.waitForClose())
            try await group.waitForAll()
            #expect(server.openConnections == 0)
            await #expect(throws: (any Error).self) {
                let late = try await RawHTTPConnection(port: port)
                _ = try await late.request("GET", "/late", timeout: .seconds(1))
            }
        }
    }

    @Test func `a stopped server's port can be bound again at once`() async throws {
        let first = HTTPServer(configuration: .init(), handler: EchoHandler(), logger: .silent)
        let port = try first.bind(host: "127.0.0.1", port: 0)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await first.run() }
            let client = try await RawHTTPConnection(port: port)
            // The server closes this connection first, leaving its side in TIME_WAIT.
            #expect(try await client.request("GET", "/x", headers: [("Connection", "close")]).status == 200)
            first.beginShutdown(timeout: .seconds(1))
            try await group.waitForAll()
        }
        let second = HTTPServer(configuration: .init(), handler: EchoHandler(), logger: .silent)
        #expect(try second.bind(host: "127.0.0.1", port: port) == port)
    }

    @Test func `IPv6 loopback works`() async throws {
        let server = HTTPServer(configuration: .init(), handler: EchoHandler(), logger: .silent)
        let port = try server.bind(host: "::1", port: 0)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            let client = try await RawHTTPConnection(port: port, host: "::1")
            #expect(try await client.request("GET", "/v6").text == "GET /v6 HTTP/1.1 body=")
            server.beginShutdown(timeout: .seconds(1))
            try await group.waitForAll()
        }
    }
}

@Suite(.timeLimit(.minutes(2))) struct RouterTests {
    func router() -> Router {
        var router = Router()
        router.add("GET", "/services/{name}") { HTTPResponse(status: .ok, body: .bytes(Array("list \($0.pathParameters["name"]!)".utf8))) }
        router.add("GET", "/services/{name}/{id}") { HTTPResponse(status: .ok, body: .bytes(Array("get \($0.pathParameters["id"]!) \($0.routeTemplate!)".utf8))) }
        router.add("DELETE", "/services/{name}/{id}") { _ in HTTPResponse(status: .noContent) }
        return router
    }

    func body(_ response: HTTPResponse) -> String {
        if case .bytes(let bytes) = response.body { return String(decoding: bytes, as: UTF8.self) }
        return ""
    }

    @Test func `parameters are percent-decoded once`() async {
        let response = await router().respond(to: HTTPRequest(method: "GET", target: "/services/a%2541b"))
        #expect(body(response) == "list a%41b")
    }

    @Test func `the matched template is reported`() async {
        #expect(body(await router().respond(to: HTTPRequest(method: "GET", target: "/services/w/1?x"))) == "get 1 /services/{name}/{id}")
    }

    @Test func `unknown paths are 404 and wrong methods 405 with Allow`() async {
        let missing = await router().respond(to: HTTPRequest(method: "GET", target: "/nothing"))
        #expect(missing.status.code == 404)
        let wrong = await router().respond(to: HTTPRequest(method: "PUT", target: "/services/w/1"))
        #expect(wrong.status.code == 405)
        #expect(wrong.headers["allow"] == "GET, DELETE, HEAD")
    }

    @Test func `HEAD is routed to GET`() async {
        #expect(await router().respond(to: HTTPRequest(method: "HEAD", target: "/services/w")).status.code == 200)
    }

    @Test func `malformed percent-encoding is 400`() async {
        let response = await router().respond(to: HTTPRequest(method: "GET", target: "/services/%zz"))
        #expect(response.status.code == 400)
        #expect(body(response).contains("invalid_path"))
    }
}
