import Logging
import RosterHTTP
import Synchronization

/// A real HTTP server on 127.0.0.1 for probes and clients to hit: answers every request with
/// the current `status` (settable), counts hits, and can be stopped and started on the same port.
public final class TestHTTPTarget: HTTPHandler {
    private struct State {
        var status = 200
        var headers: [(String, String)] = []
        var body: [UInt8] = Array("ok".utf8)
        var hits = 0
        var requests: [HTTPRequest] = []
    }
    private let state = Mutex(State())
    private let running = Mutex<(server: HTTPServer, task: Task<Void, Never>)?>(nil)
    private let boundPort = Mutex<UInt16>(0)

    /// The port, fixed by the first `start()`.
    public var port: UInt16 { boundPort.withLock { $0 } }

    public init() {}

    /// Starts serving; with `port` 0 the first time a free port is picked and kept for restarts.
    public func start() throws {
        let server = HTTPServer(configuration: .init(), handler: self, logger: Logger(label: "target") { _ in SwiftLogNoOpLogHandler() })
        let bound = try server.bind(host: "127.0.0.1", port: port)
        boundPort.withLock { $0 = bound }
        let task = Task { _ = try? await server.run() }
        running.withLock { $0 = (server, task) }
    }

    /// Stops serving; connections are then refused.
    public func stop() async {
        guard let (server, task) = running.withLock({ value in defer { value = nil }; return value }) else { return }
        server.beginShutdown(timeout: .milliseconds(200))
        await task.value
    }

    public func set(status: Int, headers: [(String, String)] = [], body: String = "") {
        state.withLock {
            $0.status = status
            $0.headers = headers
            $0.body = Array(body.utf8)
        }
    }

    public var hits: Int { state.withLock { $0.hits } }
    public var requests: [HTTPRequest] { state.withLock { $0.requests } }
    public var url: String { "http://127.0.0.1:\(port)/health" }

    public func respond(to request: HTTPRequest) async -> HTTPResponse {
        let (status, headers, body) = state.withLock { s in
            s.hits += 1
            if s.requests.count < 1000 { s.requests.append(request) }
            return (s.status, s.headers, s.body)
        }
        var response = HTTPResponse(status: HTTPStatus(status, "Status \(status)"), body: .bytes(body))
        for (name, value) in headers { response.headers.add(name, value) }
        return response
    }
}
