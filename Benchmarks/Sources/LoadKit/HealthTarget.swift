import Logging
import RosterHTTP
import Synchronization

/// A health check target: answers `GET /health` with 200 and counts requests.
public final class HealthTarget: Sendable {
    public let server: HTTPServer
    public let port: UInt16
    private let counter: Counter
    private let task: Mutex<Task<Void, Never>?> = Mutex(nil)

    final class Counter: Sendable {
        let value = Atomic<Int>(0)
    }

    public init() throws {
        let counter = Counter()
        self.counter = counter
        var router = Router()
        router.add("GET", "/health") { _ in
            counter.value.add(1, ordering: .relaxed)
            return HTTPResponse(status: .ok, body: .bytes(Array("ok".utf8)))
        }
        var configuration = HTTPServerConfiguration()
        configuration.maxConnections = 20_000
        server = HTTPServer(configuration: configuration, handler: router, logger: Logger(label: "target") { _ in SwiftLogNoOpLogHandler() })
        port = try server.bind(host: "127.0.0.1", port: 0)
        let server = self.server
        task.withLock { $0 = Task { try? await server.run() } }
    }

    /// Requests answered so far.
    public var requests: Int { counter.value.load(ordering: .relaxed) }

    public func stop() async {
        server.beginShutdown(timeout: .seconds(1))
        let running = task.withLock { $0 }
        await running?.value
    }
}
