import RosterAPI

/// A real SSE client for tests: a socket, an HTTP/1.1 GET, a chunked body fed to `SSEParser`.
public actor SSEWatcher {
    let connection: RawHTTPConnection
    var parser = SSEParser()
    var pending: [SSEEvent] = []
    public private(set) var head: RawHTTPResponse?
    public private(set) var ended = false

    /// Connects and sends `GET path` with an optional `Last-Event-ID` and extra header fields
    /// (e.g. `Authorization`); `readHead()` reads the response head.
    public init(port: UInt16, path: String, lastEventID: String? = nil, headers: [(String, String)] = []) async throws {
        connection = try await RawHTTPConnection(port: port)
        var request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
        if let lastEventID { request += "Last-Event-ID: \(lastEventID)\r\n" }
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        try await connection.send(request + "\r\n")
    }

    /// Reads the response head.
    @discardableResult
    public func readHead(timeout: Duration = .seconds(5)) async throws -> RawHTTPResponse {
        let response = try await connection.readResponseHead(timeout: timeout)
        head = response
        return response
    }

    /// The next event, reading from the socket as needed.
    public func next(timeout: Duration = .seconds(5)) async throws -> SSEEvent {
        if head == nil { try await readHead(timeout: timeout) }
        let deadline = ContinuousClock.now + timeout
        while pending.isEmpty {
            guard let chunk = try await connection.readChunk(timeout: max(.milliseconds(1), deadline - .now)) else {
                ended = true
                throw RawHTTPError.endOfStream(received: "the stream ended")
            }
            pending += parser.feed(chunk)
        }
        return pending.removeFirst()
    }

    /// The next `count` events.
    public func next(_ count: Int, timeout: Duration = .seconds(10)) async throws -> [SSEEvent] {
        let deadline = ContinuousClock.now + timeout
        var events: [SSEEvent] = []
        while events.count < count { events.append(try await next(timeout: max(.milliseconds(1), deadline - .now))) }
        return events
    }

    /// Waits for the terminating chunk; true if the stream ended cleanly within `timeout`.
    public func waitForEnd(timeout: Duration = .seconds(5)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        do {
            while true {
                guard let chunk = try await connection.readChunk(timeout: max(.milliseconds(1), deadline - .now)) else {
                    ended = true
                    return true
                }
                pending += parser.feed(chunk)
            }
        } catch {
            return false
        }
    }

    /// Reads whatever arrives within `timeout` (events are kept for `next`).
    public func drain(for timeout: Duration) async {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard let chunk = try? await connection.readChunk(timeout: max(.milliseconds(1), deadline - .now)) else { return }
            pending += parser.feed(chunk)
        }
    }

    public var retry: Int? { parser.retry }
    public var keepalives: Int { parser.commentCount }
    public var lastEventID: String { parser.lastEventID }
    public var bufferedEvents: Int { pending.count }

    public func close() async { await connection.close() }
}
