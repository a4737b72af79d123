#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import FlyingSocks
#if canImport(Glibc)
import Glibc
#endif
import RosterAPI

/// A response as read off the wire by `RawHTTPConnection`.
public struct RawHTTPResponse: Sendable {
    public var status: Int
    public var reason: String
    /// Header fields in order, names as sent.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    /// The first value of a header, compared case-insensitively.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    public var text: String { String(decoding: body, as: UTF8.self) }

    /// The body parsed as JSON, or nil.
    public var json: JSONValue? { try? JSONReader.read(body, maxDepth: 64) }

    /// Whether the server announced it will close the connection.
    public var closes: Bool { header("connection")?.lowercased() == "close" }
}

/// A client that writes exact bytes to a server over a real socket and reads responses
/// strictly, for testing the HTTP front (smuggling shapes, pipelining, limits).
public actor RawHTTPConnection {
    let socket: AsyncSocket
    var buffer: [UInt8] = []
    var sawEndOfStream = false

    /// Connects over TCP to `host:port` (IPv4 or IPv6 literal).
    public init(port: UInt16, host: String = "127.0.0.1") async throws {
        let pool = try await TestClientPool.shared.pool()
        if host.contains(":") {
            socket = try await AsyncSocket.connected(to: sockaddr_in6.inet6(ip6: host, port: port), pool: pool)
        } else {
            socket = try await AsyncSocket.connected(to: sockaddr_in.inet(ip4: host, port: port), pool: pool)
        }
    }

    public func send(_ text: String) async throws {
        try await send(Array(text.utf8))
    }

    /// Writes bytes; fails with `TimeoutError` if the peer does not take them within 10 s.
    public func send(_ bytes: [UInt8]) async throws {
        let socket = self.socket
        try await withTimeout(.seconds(10), "send") { try await socket.write(Data(bytes)) }
    }

    /// Reads more bytes; returns false at end of stream (or reset).
    private func fill(timeout: Duration) async throws -> Bool {
        if sawEndOfStream { return false }
        let socket = self.socket
        do {
            let bytes = try await withTimeout(timeout, "read") { try await socket.read(atMost: 65_536) }
            buffer.append(contentsOf: bytes)
            return true
        } catch let error as TimeoutError {
            throw error
        } catch {
            sawEndOfStream = true
            return false
        }
    }

    /// Reads one response (a 1xx interim response counts as one).
    /// - Throws: `TimeoutError` if it does not arrive in time, or an error if the stream ends first.
    /// Pass `toHEAD: true` for the response to a HEAD request, which has no body.
    public func readResponse(timeout: Duration = .seconds(5), toHEAD: Bool = false) async throws -> RawHTTPResponse {
        let deadline = ContinuousClock.now + timeout
        func remaining() -> Duration { max(.milliseconds(1), deadline - .now) }
        var headEnd: Int?
        while true {
            if let range = find([0x0D, 0x0A, 0x0D, 0x0A]) { headEnd = range; break }
            guard try await fill(timeout: remaining()) else {
                throw RawHTTPError.endOfStream(received: String(decoding: buffer, as: UTF8.self))
            }
        }
        let head = String(decoding: buffer[0..<headEnd!], as: UTF8.self)
        buffer.removeFirst(headEnd! + 4)
        var lines = head.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst()
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, let status = Int(parts[1]) else { throw RawHTTPError.malformed(statusLine) }
        var response = RawHTTPResponse(
            status: status, reason: parts.count > 2 ? String(parts[2]) : "", headers: [], body: [])
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { throw RawHTTPError.malformed(line) }
            response.headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        if toHEAD || (100..<200).contains(status) || status == 204 || status == 304 { return response }
        if let length = response.header("content-length").flatMap(Int.init) {
            while buffer.count < length {
                guard try await fill(timeout: remaining()) else { throw RawHTTPError.endOfStream(received: "body") }
            }
            response.body = Array(buffer[0..<length])
            buffer.removeFirst(length)
        } else if response.header("transfer-encoding")?.lowercased() == "chunked" {
            while true {
                guard let lineEnd = find([0x0D, 0x0A]) else {
                    guard try await fill(timeout: remaining()) else { throw RawHTTPError.endOfStream(received: "chunk") }
                    continue
                }
                let sizeText = String(decoding: buffer[0..<lineEnd], as: UTF8.self)
                guard let size = Int(sizeText, radix: 16) else { throw RawHTTPError.malformed(sizeText) }
                while buffer.count < lineEnd + 2 + size + 2 {
                    guard try await fill(timeout: remaining()) else { throw RawHTTPError.endOfStream(received: "chunk") }
                }
                response.body.append(contentsOf: buffer[(lineEnd + 2)..<(lineEnd + 2 + size)])
                buffer.removeFirst(lineEnd + 2 + size + 2)
                if size == 0 { break }
            }
        } else {
            while try await fill(timeout: remaining()) {}
            response.body = buffer
            buffer.removeAll()
        }
        return response
    }

    /// Reads only a response head (for a streamed body read with `readChunk`).
    public func readResponseHead(timeout: Duration = .seconds(5)) async throws -> RawHTTPResponse {
        try await readResponse(timeout: timeout, toHEAD: true)
    }

    /// Reads the next chunk of a chunked body; nil for the terminating zero-length chunk.
    /// - Throws: `TimeoutError`, or `RawHTTPError.endOfStream` if the connection ends mid-body.
    public func readChunk(timeout: Duration = .seconds(5)) async throws -> [UInt8]? {
        let deadline = ContinuousClock.now + timeout
        func remaining() -> Duration { max(.milliseconds(1), deadline - .now) }
        while true {
            if let lineEnd = find([0x0D, 0x0A]) {
                let sizeText = String(decoding: buffer[0..<lineEnd], as: UTF8.self)
                guard let size = Int(sizeText, radix: 16) else { throw RawHTTPError.malformed(sizeText) }
                if buffer.count >= lineEnd + 2 + size + 2 {
                    let data = Array(buffer[(lineEnd + 2)..<(lineEnd + 2 + size)])
                    buffer.removeFirst(lineEnd + 2 + size + 2)
                    return size == 0 ? nil : data
                }
            }
            guard try await fill(timeout: remaining()) else { throw RawHTTPError.endOfStream(received: "chunk") }
        }
    }

    /// Reads the next bytes of a streamed body as they arrive (for chunked streams: raw framing).
    public func readAvailable(timeout: Duration = .seconds(5)) async throws -> [UInt8] {
        if buffer.isEmpty { _ = try await fill(timeout: timeout) }
        if buffer.isEmpty && sawEndOfStream { return [] }
        defer { buffer.removeAll() }
        return buffer
    }

    /// Waits until the server closes the connection; true if it did within `timeout`.
    /// Bytes that arrive meanwhile are kept for `readResponse`.
    public func waitForClose(timeout: Duration = .seconds(5)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            do {
                guard try await fill(timeout: max(.milliseconds(1), deadline - .now)) else { return true }
            } catch {
                return false
            }
        }
        return false
    }

    /// Bytes received but not yet consumed by `readResponse`.
    public var unread: [UInt8] { buffer }

    public func close() {
        try? socket.close()
    }

    private func find(_ needle: [UInt8]) -> Int? {
        guard buffer.count >= needle.count else { return nil }
        for i in 0...(buffer.count - needle.count) where buffer[i] == needle[0] {
            if buffer[i..<(i + needle.count)].elementsEqual(needle) { return i }
        }
        return nil
    }
}

public enum RawHTTPError: Error {
    case endOfStream(received: String)
    case malformed(String)
}

extension RawHTTPConnection {
    /// Sends one well-formed HTTP/1.1 request and reads its response.
    public func request(
        _ method: String, _ path: String, body: String? = nil, headers: [(String, String)] = [],
        timeout: Duration = .seconds(5)
    ) async throws -> RawHTTPResponse {
        var text = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        if let body {
            text += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        } else {
            text += "\r\n"
        }
        try await send(text)
        return try await readResponse(timeout: timeout, toHEAD: method == "HEAD")
    }
}
