#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import FlyingSocks
import Logging
import Synchronization

/// Serves the requests of one connection in order: read a head, read its body, call the handler,
/// write the response, repeat while the connection is kept alive (RFC 9112 §9).
struct HTTPConnection {
    let socket: AsyncSocket
    let context: ConnectionContext
    let handler: any HTTPHandler
    let configuration: HTTPServerConfiguration
    let dates: HTTPDateCache
    let logger: Logger
    let ownResponseHeaders: [(name: String, value: String)]
    let onReject: @Sendable (_ code: String) -> Void
    /// Bytes read and not yet consumed; its size is published on the context for the server's counts.
    private var buffer: [UInt8] = [] {
        didSet { context.noteBuffered(buffer.count) }
    }

    /// Bounds of the discard phase of a lingering close.
    static let lingerTime: Duration = .seconds(2)
    static let lingerBytes = 4 * 1024 * 1024

    init(
        socket: AsyncSocket, context: ConnectionContext, handler: any HTTPHandler,
        configuration: HTTPServerConfiguration, dates: HTTPDateCache, logger: Logger,
        ownResponseHeaders: [(name: String, value: String)] = [],
        onReject: @escaping @Sendable (_ code: String) -> Void = { _ in }
    ) {
        self.ownResponseHeaders = ownResponseHeaders
        self.onReject = onReject
        self.socket = socket
        self.context = context
        self.handler = handler
        self.configuration = configuration
        self.dates = dates
        self.logger = logger
    }

    private enum ReadResult {
        case data
        case endOfStream
    }

    /// Reads more bytes into the buffer.
    private mutating func fill() async -> ReadResult {
        do {
            let bytes = try await socket.read(atMost: 16 * 1024)
            buffer.append(contentsOf: bytes)
            return .data
        } catch {
            return .endOfStream
        }
    }

    mutating func run() async {
        defer { context.close() }
        while true {
            guard context.enter(.idle, deadline: .now + configuration.idleTimeout) else { return }
            switch await serveOneRequest() {
            case .keepAlive: continue
            case .close: return
            case .lingeringClose:
                await lingeringClose()
                return
            }
        }
    }

    private enum Next {
        case keepAlive
        case close
        case lingeringClose
    }

    private mutating func serveOneRequest() async -> Next {
        // 1. The head.
        var parser = HTTPHeadParser(configuration: configuration)
        var head: HTTPRequestHead
        var headEnd: Int
        var reading = false
        do {
            while true {
                if !buffer.isEmpty {
                    if !reading {
                        reading = true
                        _ = context.enter(.reading, deadline: .now + configuration.headTimeout)
                    }
                    if case .complete(let h, let end) = try parser.parse(buffer) {
                        head = h
                        headEnd = end
                        break
                    }
                }
                if await fill() == .endOfStream {
                    return await endOfStream(partial: !buffer.isEmpty)
                }
            }
        } catch {
            return await reject(error)
        }

        // 2. The body.
        var body: [UInt8] = []
        buffer.removeFirst(headEnd)
        if head.framing != .none {
            if head.expectsContinue && buffer.isEmpty {
                guard await write(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)) else { return .close }
            }
            _ = context.enter(.reading, deadline: .now + configuration.headTimeout)
        }
        do {
            switch head.framing {
            case .none:
                break
            case .contentLength(let length):
                while buffer.count < length {
                    if await fill() == .endOfStream { return await endOfStream(partial: true) }
                }
                body = Array(buffer[0..<length])
                buffer.removeFirst(length)
            case .chunked:
                var decoder = ChunkedBodyDecoder(
                    start: 0, maxBody: configuration.maxBody, maxTrailerBytes: configuration.maxHeaderBytes)
                while true {
                    if case .complete(let end) = try decoder.decode(buffer) {
                        buffer.removeFirst(end)
                        break
                    }
                    buffer.removeFirst(decoder.rebase())
                    if await fill() == .endOfStream { return await endOfStream(partial: true) }
                }
                body = decoder.body
            }
        } catch {
            return await reject(error)
        }

        // 3. The handler.
        _ = context.enter(.processing, deadline: nil)
        let request = HTTPRequest(
            method: head.method, target: head.target, version: head.version, headers: head.headers, body: body)
        let response = await handler.respond(to: request)

        // 4. The response.
        let keepAlive = head.keepAlive && !response.closesConnection && !context.isDraining
        let isHead = head.method == "HEAD"
        switch response.body {
        case .empty, .bytes:
            let sent = await send(response, version: head.version, keepAlive: keepAlive, omitBody: isHead)
            response.afterWrite?()
            guard sent else { return .close }
        case .stream(let produce):
            response.afterWrite?()
            guard await stream(response, produce: produce, version: head.version, omitBody: isHead) else { return .close }
            return .close
        }
        return keepAlive ? .keepAlive : .lingeringClose
    }

    /// The client closed its side or a deadline passed while reading.
    private mutating func endOfStream(partial: Bool) async -> Next {
        if context.expiredPhase == .reading {
            let problem = HTTPProblem(.requestTimeout, code: "request_timeout", "request not received within the head timeout")
            logger.debug("request timed out", metadata: ["connection.id": "\(context.id)"])
            onReject(problem.code)
            _ = context.enter(.writing, deadline: .now + configuration.idleTimeout)
            if await write(encode(own(problem.response), version: .http1_1, keepAlive: false, omitBody: false)) {
                return .lingeringClose
            }
        }
        return .close
    }

    /// Answers a request that cannot be served with its problem response.
    private mutating func reject(_ error: any Error) async -> Next {
        let problem = (error as? HTTPProblem) ?? .badRequest("malformed request")
        logger.debug("request rejected", metadata: ["http.status": "\(problem.status.code)", "error.code": "\(problem.code)"])
        onReject(problem.code)
        _ = context.enter(.writing, deadline: .now + configuration.idleTimeout)
        guard await write(encode(own(problem.response), version: .http1_1, keepAlive: !problem.closesConnection, omitBody: false)) else {
            return .close
        }
        return problem.closesConnection ? .lingeringClose : .keepAlive
    }

    /// A response the server makes itself, with the configured extra headers.
    private func own(_ response: HTTPResponse) -> HTTPResponse {
        var response = response
        for (name, value) in ownResponseHeaders { response.headers.add(name, value) }
        return response
    }

    /// Half-closes, discards what the client still sends for a bounded time and size, then returns
    /// (the caller closes), so the client reads the response instead of a reset (RFC 9112 §9.6).
    private mutating func lingeringClose() async {
        context.shutdownWrite()
        _ = context.enter(.lingering, deadline: .now + Self.lingerTime)
        var discarded = 0
        while discarded < Self.lingerBytes {
            buffer.removeAll(keepingCapacity: true)
            guard await fill() == .data else { return }
            discarded += buffer.count
        }
    }

    /// Bodies up to this size go out in the same write as the head.
    static let singleWriteLimit = 64 * 1024

    /// Writes a response with a known body: in one write when small; otherwise the head, then the
    /// body in slices, each with a fresh write deadline (a slow but steady reader is not cut off,
    /// and at most one slice is copied at a time).
    private func send(_ response: HTTPResponse, version: HTTPVersion, keepAlive: Bool, omitBody: Bool) async -> Bool {
        guard case .bytes(let body) = response.body, body.count > Self.singleWriteLimit, !omitBody else {
            _ = context.enter(.writing, deadline: .now + configuration.idleTimeout)
            return await write(encode(response, version: version, keepAlive: keepAlive, omitBody: omitBody))
        }
        let head = encodeHead(response, version: version, keepAlive: keepAlive, contentLength: body.count)
        _ = context.enter(.writing, deadline: .now + configuration.idleTimeout)
        guard await write(head) else { return false }
        var offset = 0
        while offset < body.count {
            let end = min(offset + Self.singleWriteLimit, body.count)
            _ = context.enter(.writing, deadline: .now + configuration.idleTimeout)
            guard await write(Array(body[offset..<end])) else { return false }
            offset = end
        }
        return true
    }

    /// Writes in pieces of 256 KiB, renewing the write deadline after each, so that the deadline bounds a
    /// stall (no progress for `idle_timeout`), not the time a slow but steady reader needs for a large body.
    private func write(_ bytes: [UInt8]) async -> Bool {
        let piece = 256 * 1024
        var offset = 0
        do {
            while offset < bytes.count {
                let end = min(bytes.count, offset + piece)
                if offset > 0 { _ = context.enter(.writing, deadline: .now + configuration.idleTimeout) }
                try await socket.write(Data(bytes[offset..<end]))
                offset = end
            }
            return true
        } catch {
            return false
        }
    }

    /// Serializes a response with a known body in one buffer (one write per response).
    func encode(_ response: HTTPResponse, version: HTTPVersion, keepAlive: Bool, omitBody: Bool) -> [UInt8] {
        var body: [UInt8] = []
        if case .bytes(let b) = response.body { body = b }
        var out = encodeHead(response, version: version, keepAlive: keepAlive, contentLength: body.count, reserve: omitBody ? 0 : body.count)
        if !omitBody { out.append(contentsOf: body) }
        return out
    }

    /// The status line and header section of a response whose body has `contentLength` bytes.
    func encodeHead(_ response: HTTPResponse, version: HTTPVersion, keepAlive: Bool, contentLength: Int, reserve: Int = 0) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(160 + reserve)
        appendHead(response, to: &out, keepAlive: keepAlive, version: version)
        let code = response.status.code
        if code != 204 && code != 304 && !(100..<200).contains(code) {
            out.append(contentsOf: "Content-Length: \(contentLength)\r\n".utf8)
        }
        out.append(contentsOf: [0x0D, 0x0A])
        return out
    }

    private func appendHead(_ response: HTTPResponse, to out: inout [UInt8], keepAlive: Bool, version: HTTPVersion) {
        out.append(contentsOf: "HTTP/1.1 \(response.status.code) \(response.status.reasonPhrase)\r\n".utf8)
        out.append(contentsOf: "Date: \(dates.current())\r\n".utf8)
        for field in response.headers {
            out.append(contentsOf: field.name.utf8)
            out.append(contentsOf: [UInt8(ascii: ":"), 0x20])
            out.append(contentsOf: field.value.utf8)
            out.append(contentsOf: [0x0D, 0x0A])
        }
        if !keepAlive {
            out.append(contentsOf: "Connection: close\r\n".utf8)
        } else if version == .http1_0 {
            out.append(contentsOf: "Connection: keep-alive\r\n".utf8)
        }
    }

    /// Writes a body of unknown length: chunked on HTTP/1.1, close-delimited on HTTP/1.0.
    /// The connection always closes afterwards.
    private func stream(
        _ response: HTTPResponse, produce: @Sendable (HTTPBodyWriter) async throws -> Void,
        version: HTTPVersion, omitBody: Bool
    ) async -> Bool {
        let chunked = version == .http1_1
        var head: [UInt8] = []
        appendHead(response, to: &head, keepAlive: false, version: version)
        if chunked { head.append(contentsOf: "Transfer-Encoding: chunked\r\n".utf8) }
        head.append(contentsOf: [0x0D, 0x0A])
        _ = context.enter(.writing, deadline: .now + configuration.idleTimeout)
        guard await write(head) else { return false }
        if omitBody { return true }
        let socket = self.socket
        let context = self.context
        let idleTimeout = configuration.idleTimeout
        // Bytes an immediate write could not send; they go out before anything else.
        let pending = PendingBytes()
        @Sendable func frame(_ bytes: [UInt8]) -> Data {
            // One copy into the buffer the socket writes from, framing included.
            var frame = Data(capacity: bytes.count + 12)
            if chunked {
                frame.append(contentsOf: String(bytes.count, radix: 16).utf8)
                frame.append(contentsOf: [0x0D, 0x0A])
                frame.append(contentsOf: bytes)
                frame.append(contentsOf: [0x0D, 0x0A])
            } else {
                frame.append(contentsOf: bytes)
            }
            return frame
        }
        @Sendable func flush() async throws {
            guard let rest = pending.take() else { return }
            _ = context.enter(.writing, deadline: .now + idleTimeout)
            try await socket.write(rest)
            _ = context.enter(.processing, deadline: nil)
        }
        let writer = HTTPBodyWriter(
            write: { bytes in
                try await flush()
                let frame = frame(bytes)
                _ = context.enter(.writing, deadline: .now + idleTimeout)
                try await socket.write(frame)
                _ = context.enter(.processing, deadline: nil)
            },
            writeNow: { bytes in
                guard !pending.hasBytes else { return .wouldBlock }
                // One sendmsg(2) of header, bytes and CRLF: no copy of the body and no allocation for a
                // chunk that goes out whole, which is what a parked watcher's changes nearly always do.
                let (sent, total) = Self.writeVectored(socket.socket.file.rawValue, bytes, chunked: chunked)
                if sent == total { return .complete }
                guard sent > 0 else { return .wouldBlock }
                let frame = frame(bytes)
                pending.store(frame[(frame.startIndex + sent)...])
                return .partial
            },
            flush: { try await flush() },
            isDraining: { context.isDraining },
            abort: { context.forceClose() }
        )
        _ = context.enter(.processing, deadline: nil)
        do {
            try await produce(writer)
            try await flush()
        } catch {
            return false
        }
        if chunked {
            _ = context.enter(.writing, deadline: .now + configuration.idleTimeout)
            return await write(Array("0\r\n\r\n".utf8))
        }
        return true
    }
}

extension HTTPConnection {
    /// Sends `bytes` with one non-blocking `sendmsg(2)` of three buffers, framed as an HTTP/1.1 chunk (RFC 9112 §7.1:
    /// hex size, CRLF, data, CRLF) when `chunked`. Returns the bytes sent (0 when the send buffer is full
    /// or the connection is gone) and the framed length.
    static func writeVectored(_ fd: Int32, _ bytes: [UInt8], chunked: Bool) -> (sent: Int, total: Int) {
        // "<hex size>\r\n" for at most 16 hex digits, formatted on the stack.
        var header: (UInt64, UInt64, UInt64) = (0, 0, 0)
        var crlf: UInt16 = 0x0A0D
        return withUnsafeMutableBytes(of: &header) { head in
            var length = 0
            if chunked {
                var size = bytes.count
                var digits = 0
                repeat {
                    digits += 1
                    size >>= 4
                } while size > 0
                size = bytes.count
                for position in stride(from: digits - 1, through: 0, by: -1) {
                    let digit = UInt8(size & 0xF)
                    head[position] = digit < 10 ? 0x30 + digit : 0x57 + digit
                    size >>= 4
                }
                head[digits] = 0x0D
                head[digits + 1] = 0x0A
                length = digits + 2
            }
            return bytes.withUnsafeBytes { body in
                withUnsafeMutableBytes(of: &crlf) { tail in
                    let total = length + body.count + (chunked ? 2 : 0)
                    let sent = withUnsafeTemporaryAllocation(of: iovec.self, capacity: 3) { vectors in
                        vectors[0] = iovec(iov_base: head.baseAddress, iov_len: length)
                        vectors[1] = iovec(iov_base: UnsafeMutableRawPointer(mutating: body.baseAddress), iov_len: body.count)
                        vectors[2] = iovec(iov_base: tail.baseAddress, iov_len: chunked ? 2 : 0)
                        var message = msghdr()
                        message.msg_iov = vectors.baseAddress
                        message.msg_iovlen = 3
                        // MSG_NOSIGNAL: a peer that went away is an error here, not a SIGPIPE.
                        return sendmsg(fd, &message, Int32(MSG_DONTWAIT) | Int32(MSG_NOSIGNAL))
                    }
                    return (max(sent, 0), total)
                }
            }
        }
    }
}

/// The tail of a chunk that a non-blocking write could not send.
final class PendingBytes: Sendable {
    private let bytes = Mutex<Data?>(nil)

    var hasBytes: Bool { bytes.withLock { $0 != nil } }

    func store(_ rest: Data) {
        bytes.withLock { $0 = Data(rest) }
    }

    func take() -> Data? {
        bytes.withLock { value in
            defer { value = nil }
            return value
        }
    }
}
