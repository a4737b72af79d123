/// A response for the server to write.
///
/// The server adds `Date`, `Content-Length` or `Transfer-Encoding`, and `Connection` itself.
public struct HTTPResponse: Sendable {
    /// The body of a response.
    public enum Body: Sendable {
        case empty
        case bytes([UInt8])
        /// A body of unknown length, written as it is produced: chunked on HTTP/1.1
        /// (RFC 9112 §7.1), close-delimited on HTTP/1.0. The closure returns when the body ends.
        case stream(@Sendable (HTTPBodyWriter) async throws -> Void)
    }

    public var status: HTTPStatus
    public var headers: HTTPHeaders
    public var body: Body
    /// Close the connection after this response.
    public var closesConnection: Bool
    /// Called once the response has been written (or its write failed), e.g. to start work that
    /// should not delay the response.
    public var afterWrite: (@Sendable () -> Void)?

    public init(status: HTTPStatus, headers: HTTPHeaders = [:], body: Body = .empty, closesConnection: Bool = false) {
        self.status = status
        self.headers = headers
        self.body = body
        self.closesConnection = closesConnection
    }
}

/// Writes parts of a streamed response body; each `write` goes to the socket as one chunk.
public struct HTTPBodyWriter: Sendable {
    let writeChunk: @Sendable ([UInt8]) async throws -> Void
    let writeChunkNow: @Sendable ([UInt8]) -> ImmediateWrite
    let flushPending: @Sendable () async throws -> Void
    let drainingCheck: @Sendable () -> Bool
    let abortConnection: @Sendable () -> Void

    /// What `writeNow(_:)` managed.
    public enum ImmediateWrite: Sendable, Equatable {
        /// The whole chunk is in the socket's send buffer.
        case complete
        /// Part of it is; the rest waits in the writer and goes out first with the next `write` or `flush()`.
        case partial
        /// Nothing was written: the send buffer is full (or the connection is gone); use `write(_:)`.
        case wouldBlock
    }

    /// - Parameters:
    ///   - write: Sends a chunk, waiting for the socket as needed.
    ///   - writeNow: Tries to send a chunk without waiting (see `writeNow(_:)`); by default never does.
    ///   - flush: Sends what a `.partial` immediate write left behind.
    public init(
        write: @escaping @Sendable ([UInt8]) async throws -> Void,
        writeNow: @escaping @Sendable ([UInt8]) -> ImmediateWrite = { _ in .wouldBlock },
        flush: @escaping @Sendable () async throws -> Void = {},
        isDraining: @escaping @Sendable () -> Bool,
        abort: @escaping @Sendable () -> Void = {}
    ) {
        self.writeChunk = write
        self.writeChunkNow = writeNow
        self.flushPending = flush
        self.drainingCheck = isDraining
        self.abortConnection = abort
    }

    /// Cuts the connection at once (no terminating chunk), e.g. for a client that does not keep up.
    /// A write in progress fails.
    public func abort() { abortConnection() }

    /// Sends bytes to the client now. Empty writes are ignored.
    /// - Throws: when the client went away or the server is stopping.
    public func write(_ bytes: [UInt8]) async throws {
        guard !bytes.isEmpty else { return }
        try await writeChunk(bytes)
    }

    /// Sends a chunk with one non-blocking write on the calling thread, without suspending: the fan-out
    /// of one change to many watchers then costs a system call each rather than a task switch each.
    ///
    /// The caller must make sure no `write` or `flush` of this writer runs at the same time (a watch calls
    /// it only while its stream task is parked).
    public func writeNow(_ bytes: [UInt8]) -> ImmediateWrite {
        guard !bytes.isEmpty else { return .complete }
        return writeChunkNow(bytes)
    }

    /// Sends what a `.partial` `writeNow` left behind (nothing if it left nothing).
    public func flush() async throws {
        try await flushPending()
    }

    /// Whether the server is shutting down; a long stream should end soon when this is true.
    public var isDraining: Bool { drainingCheck() }
}

/// Answers requests. The server calls it for every well-formed request, one at a time per
/// connection, in the order the requests arrived.
public protocol HTTPHandler: Sendable {
    func respond(to request: HTTPRequest) async -> HTTPResponse
}
