#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// What a connection is doing, for timeouts and draining.
enum ConnectionPhase: Sendable, Equatable {
    /// Waiting for the first byte of the next request (`http.idle_timeout`).
    case idle
    /// Reading a request head or body (`http.head_timeout`).
    case reading
    /// The handler is working on a request (no deadline).
    case processing
    /// Writing a response (a stalled reader gets `http.idle_timeout`).
    case writing
    /// Discarding what the client still sends before closing (RFC 9112 §9.6).
    case lingering
}

/// The shared state of one connection: its phase and deadline, read by the server's timer.
///
/// Timeouts and draining never cancel tasks: they shut down the socket's read side, so the
/// connection's pending read returns end-of-file and the connection decides what to answer.
/// The file descriptor is only touched under the lock and never after `close()`.
final class ConnectionContext: Sendable {
    struct State {
        var phase: ConnectionPhase = .idle
        var deadline: ContinuousClock.Instant?
        var expiredPhase: ConnectionPhase?
        var draining = false
        var closed = false
    }

    let id: Int
    private let fd: Int32
    private let state: Mutex<State>
    /// Bytes read from the socket and not yet consumed (the connection's read buffer).
    private let buffered = Atomic<Int>(0)

    /// Bytes the connection holds in its read buffer now.
    var bufferedBytes: Int { buffered.load(ordering: .relaxed) }

    /// Records the size of the connection's read buffer.
    func noteBuffered(_ count: Int) {
        buffered.store(count, ordering: .relaxed)
    }

    init(id: Int, fd: Int32) {
        self.id = id
        self.fd = fd
        self.state = Mutex(State())
    }

    /// Enters a phase with an optional deadline.
    /// - Returns: false when entering `.idle` while the server drains: the connection should close.
    func enter(_ phase: ConnectionPhase, deadline: ContinuousClock.Instant?) -> Bool {
        state.withLock { s in
            if phase == .idle && s.draining { return false }
            s.phase = phase
            s.deadline = deadline
            return true
        }
    }

    /// The phase that was cut short by its deadline, if any.
    var expiredPhase: ConnectionPhase? { state.withLock { $0.expiredPhase } }

    var isDraining: Bool { state.withLock { $0.draining } }

    /// Shuts down the read side (and for a stalled writer also the write side) once the deadline passed.
    func expireIfDue(now: ContinuousClock.Instant) {
        state.withLock { s in
            guard !s.closed, s.expiredPhase == nil, let deadline = s.deadline, deadline <= now else { return }
            s.expiredPhase = s.phase
            s.deadline = nil
            _ = shutdown(fd, s.phase == .writing ? Int32(SHUT_RDWR) : Int32(SHUT_RD))
        }
    }

    /// Marks the connection as draining; an idle connection is woken so that it closes now.
    func drain() {
        state.withLock { s in
            s.draining = true
            if !s.closed && s.phase == .idle {
                s.expiredPhase = .idle
                _ = shutdown(fd, Int32(SHUT_RD))
            }
        }
    }

    /// Ends all I/O on the connection at once.
    func forceClose() {
        state.withLock { s in
            s.draining = true
            if !s.closed { _ = shutdown(fd, Int32(SHUT_RDWR)) }
        }
    }

    /// Half-closes the write side (the first step of a lingering close).
    func shutdownWrite() {
        state.withLock { s in
            if !s.closed { _ = shutdown(fd, Int32(SHUT_WR)) }
        }
    }

    /// Closes the descriptor; after this the context never touches it again.
    func close() {
        state.withLock { s in
            guard !s.closed else { return }
            s.closed = true
            s.deadline = nil
            #if canImport(Glibc)
            _ = Glibc.close(fd)
            #elseif canImport(Musl)
            _ = Musl.close(fd)
            #else
            _ = Darwin.close(fd)
            #endif
        }
    }
}
