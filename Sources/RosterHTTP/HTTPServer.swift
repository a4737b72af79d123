#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import FlyingSocks
import Logging
import Synchronization

/// A strict HTTP/1.1 server on FlyingSocks: one child task per connection in a discarding task
/// group, keep-alive and pipelining in order, hard limits, timeouts, and graceful stop.
///
/// Use: `bind(host:port:)` (synchronous, so a taken port fails at startup), then `run()`;
/// `beginShutdown(timeout:)` stops it gracefully, cancelling `run()` stops it at once.
public final class HTTPServer: Sendable {
    public let configuration: HTTPServerConfiguration
    let handler: any HTTPHandler
    let logger: Logger
    let dates = HTTPDateCache()

    private struct State {
        var listener: Socket?
        var boundPort: UInt16?
        var connections: [Int: ConnectionContext] = [:]
        var nextConnectionID = 0
        var rejectedConnections = 0
        var running = false
        var draining = false
        var drainDeadline: ContinuousClock.Instant?
        var stopped = false
    }
    private let state = Mutex(State())
    /// Opens when a graceful shutdown begins; a pending accept waits on it too.
    private let draining = Latch()

    /// Header fields added to the responses the server makes itself (400, 408, 413, 503, …).
    let ownResponseHeaders: [(name: String, value: String)]
    /// Called with the problem `code` of every request the server refuses itself, before any
    /// handler sees it (`bad_request`, `request_timeout`, `too_many_connections`, …).
    let onReject: @Sendable (_ code: String) -> Void

    public init(
        configuration: HTTPServerConfiguration, handler: any HTTPHandler, logger: Logger,
        ownResponseHeaders: [(name: String, value: String)] = [],
        onReject: @escaping @Sendable (_ code: String) -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.handler = handler
        self.logger = logger
        self.ownResponseHeaders = ownResponseHeaders
        self.onReject = onReject
    }

    /// Errors of binding the listener.
    public struct BindError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Binds and listens on `host:port` (an IPv4 or IPv6 literal, or `localhost`); port 0 picks a
    /// free port. Sets `SO_REUSEADDR` and `TCP_NODELAY` (inherited by accepted sockets on Linux).
    /// - Returns: the bound port.
    /// - Throws: `BindError` naming the address when the socket cannot be bound.
    @discardableResult
    public func bind(host: String, port: UInt16) throws -> UInt16 {
        Self.ignoreSIGPIPE()
        Self.raiseOpenFileLimit()
        let literal = host == "localhost" ? "127.0.0.1" : host
        let isIPv6 = literal.contains(":")
        do {
            let socket = try Socket(domain: isIPv6 ? AF_INET6 : AF_INET, type: .stream)
            do {
                try socket.setValue(true, for: .localAddressReuse)
                try socket.setValue(true, for: BoolSocketOption(level: Int32(IPPROTO_TCP), name: TCP_NODELAY))
                if isIPv6 {
                    // `[::]` serves IPv4 too (dual stack), as users expect.
                    try socket.setValue(false, for: BoolSocketOption(level: Int32(IPPROTO_IPV6), name: IPV6_V6ONLY))
                    try socket.bind(to: sockaddr_in6.inet6(ip6: literal, port: port))
                } else {
                    try socket.bind(to: sockaddr_in.inet(ip4: literal, port: port))
                }
                try socket.listen(maxPendingConnection: 4096)
            } catch {
                try? socket.close()
                throw error
            }
            let bound: UInt16 = switch try socket.sockname() {
            case .ip4(_, let p), .ip6(_, let p): p
            case .unix: port
            }
            state.withLock {
                $0.listener = socket
                $0.boundPort = bound
            }
            return bound
        } catch let error as BindError {
            throw error
        } catch {
            let shown = isIPv6 ? "[\(literal)]:\(port)" : "\(literal):\(port)"
            let reason = switch error as? SocketError {
            case .failed(_, _, let message)?: message
            case .unsupportedAddress?: "not an IP address"
            default: "\(error)"
            }
            throw BindError(description: "cannot listen on \(shown): \(reason)")
        }
    }

    /// The port the listener is bound to, once `bind` succeeded.
    public var port: UInt16? { state.withLock { $0.boundPort } }

    /// Connections currently open (served, not counting ones being refused with 503).
    public var openConnections: Int { state.withLock { $0.connections.count } }

    /// Bytes held in the read buffers of open connections (received, not yet consumed).
    public var bufferedBytes: Int { state.withLock { $0.connections.values.reduce(0) { $0 + $1.bufferedBytes } } }

    /// Connections refused with 503 because `http.max_connections` were open.
    public var rejectedConnections: Int { state.withLock { $0.rejectedConnections } }

    /// Whether the listener is accepting (bound, `run()` started its accept loop, not draining).
    public var isAccepting: Bool { state.withLock { $0.listener != nil && $0.running && !$0.draining && !$0.stopped } }

    /// Whether a graceful shutdown has begun.
    public var isDraining: Bool { state.withLock { $0.draining } }

    /// Accepts and serves connections until a graceful shutdown has finished or the task is cancelled.
    public func run() async throws {
        guard let listener = state.withLock({ $0.listener }) else {
            throw BindError(description: "run() called before bind()")
        }
        let pool = EpollSocketPool(maxEvents: 256)
        try await pool.prepare()
        let acceptor = try AsyncSocket(socket: listener, pool: pool)
        state.withLock { $0.running = true }
        logger.debug("http server accepting", metadata: ["http.port": "\(port ?? 0)"])

        await withDiscardingTaskGroup { outer in
            outer.addTask {
                do { try await pool.run() } catch {}
            }
            outer.addTask { await self.runTimer() }
            await withDiscardingTaskGroup { connections in
                await self.acceptLoop(acceptor, pool: pool, group: &connections)
                // Draining: wait for connections to end; once the drain deadline has passed (and
                // the timer has cut their sockets), cancel whatever still runs, e.g. a stream
                // waiting for its next event.
                while !Task.isCancelled {
                    let (open, deadline) = self.state.withLock { ($0.connections.count, $0.drainDeadline) }
                    if open == 0 { break }
                    if let deadline, ContinuousClock.now > deadline + .milliseconds(500) {
                        connections.cancelAll()
                        break
                    }
                    try? await Task.sleep(for: .milliseconds(20))
                }
            }
            outer.cancelAll()
        }
        state.withLock { s in
            s.stopped = true
            if let listener = s.listener {
                try? listener.close()
                s.listener = nil
            }
        }
    }

    /// Stops accepting, lets in-flight requests finish (answered with `Connection: close`),
    /// closes idle connections, and force-closes whatever is left after `timeout`.
    public func beginShutdown(timeout: Duration) {
        let (listener, open) = state.withLock { s -> (Socket?, [ConnectionContext]) in
            guard !s.draining else { return (nil, []) }
            s.draining = true
            s.drainDeadline = .now + timeout
            return (s.listener, Array(s.connections.values))
        }
        if let listener {
            // Wakes the accept call, which then sees the draining flag.
            _ = shutdown(listener.file.rawValue, Int32(SHUT_RDWR))
            logger.info("http server draining", metadata: ["http.open_connections": "\(open.count)", "shutdown.timeout": "\(timeout)"])
        }
        for context in open { context.drain() }
        draining.open()
    }

    private func acceptLoop(_ acceptor: AsyncSocket, pool: some AsyncSocketPool, group: inout DiscardingTaskGroup) async {
        var backoff: Duration = .milliseconds(10)
        while !Task.isCancelled {
            let socket: AsyncSocket
            do {
                socket = try await acceptOrDrain(acceptor)
                backoff = .milliseconds(10)
            } catch {
                if state.withLock({ $0.draining }) || Task.isCancelled { return }
                if case .failed(_, let code, _) = error as? SocketError,
                   code == EMFILE || code == ENFILE || code == ENOBUFS || code == ENOMEM {
                    // Out of descriptors or memory: transient, back off and try again.
                    logger.warning("accept failed, backing off", metadata: ["error.errno": "\(code)", "backoff": "\(backoff)"])
                    try? await Task.sleep(for: backoff)
                    backoff = min(backoff * 2, .seconds(1))
                } else {
                    logger.debug("accept failed", metadata: ["error": "\(error)"])
                    try? await Task.sleep(for: .milliseconds(1))
                }
                continue
            }
            let fd = socket.socket.file.rawValue
            let context: ConnectionContext? = state.withLock { s in
                guard s.connections.count < configuration.maxConnections, !s.draining else {
                    s.rejectedConnections += 1
                    return nil
                }
                s.nextConnectionID += 1
                let context = ConnectionContext(id: s.nextConnectionID, fd: fd)
                s.connections[context.id] = context
                return context
            }
            guard let context else {
                group.addTask { await self.refuse(socket) }
                continue
            }
            group.addTask {
                var connection = HTTPConnection(
                    socket: socket, context: context, handler: self.handler,
                    configuration: self.configuration, dates: self.dates, logger: self.logger,
                    ownResponseHeaders: self.ownResponseHeaders, onReject: self.onReject)
                await connection.run()
                _ = self.state.withLock { $0.connections.removeValue(forKey: context.id) }
            }
        }
    }

    struct Draining: Error {}

    /// The next connection, or `Draining` as soon as a graceful shutdown begins. Shutting the
    /// listener down does not always wake a pending accept, so the accept also races the latch.
    private func acceptOrDrain(_ acceptor: AsyncSocket) async throws -> AsyncSocket {
        if draining.isOpen { throw Draining() }
        let latch = draining
        return try await withThrowingTaskGroup(of: AsyncSocket?.self) { group in
            group.addTask { try await acceptor.accept() }
            group.addTask {
                await latch.wait()
                return nil
            }
            defer { group.cancelAll() }
            guard let socket = try await group.next()! else { throw Draining() }
            return socket
        }
    }

    /// Answers a connection over `http.max_connections` with 503 and closes it.
    private func refuse(_ socket: AsyncSocket) async {
        onReject("too_many_connections")
        let context = ConnectionContext(id: -1, fd: socket.socket.file.rawValue)
        let problem = HTTPProblem(
            .serviceUnavailable, code: "too_many_connections",
            "the server has \(configuration.maxConnections) connections open; retry later")
        var response = problem.response
        response.headers.add("Retry-After", "1")
        for (name, value) in ownResponseHeaders { response.headers.add(name, value) }
        let connection = HTTPConnection(
            socket: socket, context: context, handler: handler, configuration: configuration, dates: dates, logger: logger)
        let bytes = connection.encode(response, version: .http1_1, keepAlive: false, omitBody: false)
        _ = try? await socket.write(Data(bytes))
        context.shutdownWrite()
        context.close()
    }

    /// Applies deadlines to every connection, and force-closes the rest when a drain runs out.
    private func runTimer() async {
        let shortest = min(configuration.headTimeout, configuration.idleTimeout, HTTPConnection.lingerTime)
        let tick = max(.milliseconds(10), min(.milliseconds(250), shortest / 4))
        var forcedLogged = false
        while !Task.isCancelled {
            try? await Task.sleep(for: tick)
            let now = ContinuousClock.now
            let (open, force) = state.withLock { s -> ([ConnectionContext], Bool) in
                let force = s.drainDeadline.map { $0 <= now } ?? false
                return (Array(s.connections.values), force)
            }
            if force && !open.isEmpty && !forcedLogged {
                forcedLogged = true
                logger.warning("shutdown timeout passed, closing connections", metadata: ["http.open_connections": "\(open.count)"])
            }
            for context in open {
                if force { context.forceClose() } else { context.expireIfDue(now: now) }
            }
        }
    }

    static func ignoreSIGPIPE() {
        _ = signal(SIGPIPE, SIG_IGN)
    }

    /// Raises the soft open-files limit to the hard limit, so many connections can be open.
    public static func raiseOpenFileLimit() {
        var limit = rlimit()
        #if canImport(Glibc)
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        #else
        let resource = RLIMIT_NOFILE
        #endif
        guard getrlimit(resource, &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(resource, &limit)
    }
}
