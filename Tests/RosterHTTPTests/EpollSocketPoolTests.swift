import FlyingSocks
import Foundation
import Glibc
import RosterHTTP
import Testing

/// `EpollSocketPool` over a real socket pair: readiness, concurrent read and write waiters on one
/// descriptor, cancellation of one waiter, stopping the pool, and descriptor reuse.
@Suite("epoll socket pool", .timeLimit(.minutes(1)))
struct EpollSocketPoolTests {
    /// A connected pair of non-blocking Unix stream sockets, each wrapped for `pool`.
    func pair(_ pool: EpollSocketPool) throws -> (AsyncSocket, AsyncSocket) {
        var fds: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0 else { throw SocketError.makeFailed("socketpair") }
        let a = Socket(file: .init(rawValue: fds[0])), b = Socket(file: .init(rawValue: fds[1]))
        try a.setFlags(.nonBlocking)
        try b.setFlags(.nonBlocking)
        return (try AsyncSocket(socket: a, pool: pool), try AsyncSocket(socket: b, pool: pool))
    }

    func running(_ body: (EpollSocketPool) async throws -> Void) async throws {
        let pool = EpollSocketPool()
        try await pool.prepare()
        let runner = Task { try await pool.run() }
        defer { runner.cancel() }
        try await body(pool)
    }

    @Test("a read waits for bytes and gets them, many times over on one descriptor")
    func readiness() async throws {
        try await running { pool in
            let (a, b) = try pair(pool)
            for round in 0..<200 {
                let reader = Task { try await a.read(atMost: 64) }
                try await Task.sleep(for: .milliseconds(round.isMultiple(of: 50) ? 20 : 0))
                try await b.write(Data("r\(round)".utf8))
                #expect(try await reader.value == Array("r\(round)".utf8))
            }
            try a.close()
            try b.close()
        }
    }

    @Test("cancelling one waiter leaves the other waiter on the same descriptor armed")
    func cancelOne() async throws {
        try await running { pool in
            let (a, b) = try pair(pool)
            // Fill a's send buffer so that a write must wait.
            var filled = 0
            while true {
                do { filled += try a.socket.write(Data(repeating: 1, count: 65_536), from: 0) } catch SocketError.blocked { break }
            }
            let writer = Task { try await a.write(Data(repeating: 2, count: 65_536)) }
            let reader = Task { try await a.read(atMost: 16) }
            try await Task.sleep(for: .milliseconds(50))
            writer.cancel()
            await #expect(throws: CancellationError.self) { try await writer.value }
            try await b.write(Data("hello".utf8))
            #expect(try await reader.value == Array("hello".utf8))
            #expect(filled > 0)
            try a.close()
            try b.close()
        }
    }

    @Test("stopping the pool resumes every waiter with CancellationError")
    func stopping() async throws {
        let pool = EpollSocketPool()
        try await pool.prepare()
        let runner = Task { try await pool.run() }
        let (a, b) = try pair(pool)
        let readers = (0..<3).map { _ in Task { try await a.read(atMost: 1) } }
        try await Task.sleep(for: .milliseconds(50))
        runner.cancel()
        for reader in readers { await #expect(throws: CancellationError.self) { try await reader.value } }
        await #expect(throws: CancellationError.self) { try await runner.value }
        await #expect(throws: CancellationError.self) { try await a.read(atMost: 1) }
        try a.close()
        try b.close()
    }

    @Test("a descriptor number reused after close is watched afresh")
    func reuse() async throws {
        try await running { pool in
            for round in 0..<50 {
                let (a, b) = try pair(pool)
                let reader = Task { try await a.read(atMost: 8) }
                try await Task.sleep(for: .milliseconds(1))
                try await b.write(Data("x\(round)".utf8))
                #expect(try await reader.value == Array("x\(round)".utf8))
                try a.close()
                try b.close()
            }
        }
    }
}
