#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import FlyingSocks
#if canImport(Glibc)
import Glibc
#endif

/// A TCP server on 127.0.0.1 whose connections are handled by raw code, for peers that
/// misbehave (never answer, trickle, …). With `accepting: false` it listens but never accepts.
public final class RawTCPServer: Sendable {
    public let port: UInt16
    let listener: Socket
    let accepting: Bool
    let handler: @Sendable (AsyncSocket) async -> Void

    public init(backlog: Int32 = 128, accepting: Bool = true, handler: @escaping @Sendable (AsyncSocket) async -> Void) throws {
        let socket = try Socket(domain: AF_INET, type: .stream)
        try socket.setValue(true, for: .localAddressReuse)
        try socket.bind(to: sockaddr_in.inet(ip4: "127.0.0.1", port: 0))
        try socket.listen(maxPendingConnection: backlog)
        guard case .ip4(_, let port) = try socket.sockname() else { throw SocketError.unsupportedAddress }
        self.listener = socket
        self.port = port
        self.accepting = accepting
        self.handler = handler
    }

    /// Serves until cancelled, then closes the listener.
    public func run() async {
        defer { try? listener.close() }
        guard accepting else {
            while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(20)) }
            return
        }
        let pool: SocketPool<ePoll> = .ePoll(maxEvents: 64)
        do { try await pool.prepare() } catch { return }
        guard let acceptor = try? AsyncSocket(socket: listener, pool: pool) else { return }
        await withDiscardingTaskGroup { group in
            group.addTask { try? await pool.run() }
            while !Task.isCancelled {
                guard let connection = try? await acceptor.accept() else { break }
                group.addTask {
                    await self.handler(connection)
                    try? connection.close()
                }
            }
            group.cancelAll()
        }
    }
}

/// Runs a `RawTCPServer` for the duration of `body`.
public func withRawTCPServer<T: Sendable>(
    backlog: Int32 = 128, accepting: Bool = true,
    handler: @escaping @Sendable (AsyncSocket) async -> Void = { _ in },
    _ body: @Sendable (UInt16) async throws -> T
) async throws -> T {
    let server = try RawTCPServer(backlog: backlog, accepting: accepting, handler: handler)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { await server.run() }
        defer { group.cancelAll() }
        return try await body(server.port)
    }
}

/// Canned misbehaviours for `RawTCPServer`.
public enum Misbehaviour {
    /// Reads the request and never answers.
    public static let silent: @Sendable (AsyncSocket) async -> Void = { socket in
        while (try? await socket.read(atMost: 4096)) != nil {}
    }

    /// Sends a status line, then one byte per `interval`, never finishing the head.
    public static func trickle(every interval: Duration = .seconds(1)) -> @Sendable (AsyncSocket) async -> Void {
        { socket in
            _ = try? await socket.read(atMost: 4096)
            do {
                try await socket.write(Data("HTTP/1.1 200 OK\r\nX-Slow: ".utf8))
                while true {
                    try await Task.sleep(for: interval)
                    try await socket.write(Data("a".utf8))
                }
            } catch {}
        }
    }

    /// Answers 200 with a `Content-Length` body of `size` bytes.
    public static func hugeBody(_ size: Int) -> @Sendable (AsyncSocket) async -> Void {
        { socket in
            _ = try? await socket.read(atMost: 4096)
            do {
                try await socket.write(Data("HTTP/1.1 200 OK\r\nContent-Length: \(size)\r\n\r\n".utf8))
                let block = Data(repeating: 0x61, count: 64 * 1024)
                var sent = 0
                while sent < size {
                    try await socket.write(block.prefix(min(block.count, size - sent)))
                    sent += block.count
                }
            } catch {}
        }
    }
}

/// A port on 127.0.0.1 where nothing listens (connections are refused).
public func closedPort() throws -> UInt16 {
    let socket = try Socket(domain: AF_INET, type: .stream)
    try socket.bind(to: sockaddr_in.inet(ip4: "127.0.0.1", port: 0))
    guard case .ip4(_, let port) = try socket.sockname() else { throw SocketError.unsupportedAddress }
    try socket.close()
    return port
}
