/// An event dispatched by `SSEParser`.
public struct SSEEvent: Sendable, Equatable {
    /// The `event:` field, or `message` when absent.
    public var type: String
    /// The `data:` lines joined with LF.
    public var data: String
    /// The last event ID in effect when the event was dispatched (it persists across events).
    public var lastEventID: String

    public init(type: String, data: String, lastEventID: String) {
        self.type = type
        self.data = data
        self.lastEventID = lastEventID
    }
}

/// An incremental parser for `text/event-stream` (WHATWG HTML, §9.2 "Server-sent events",
/// "Interpreting an event stream"): lines end in CRLF, LF or CR; `:` starts a comment; fields
/// `event`, `data` (multi-line), `id` (ignored if it contains NUL) and `retry` (digits only);
/// an empty line dispatches; a leading BOM is skipped; an unterminated last block is discarded.
public struct SSEParser: Sendable {
    private var lineBuffer: [UInt8] = []
    private var sawCR = false
    private var started = false
    private var eventType = ""
    private var dataLines: [String] = []
    private var hasData = false
    /// The last event ID buffer (`Last-Event-ID` to send when reconnecting).
    public private(set) var lastEventID = ""
    /// The reconnection time from the last valid `retry:` field, in milliseconds.
    public private(set) var retry: Int?
    /// Comments seen so far (without the colon), for keepalive detection.
    public private(set) var commentCount = 0
    /// Bytes held for the event being read: its unfinished line and its `data` lines so far. A reader
    /// compares it with a limit of its own, since the spec sets none (a peer could send one endless line).
    public private(set) var bufferedByteCount = 0

    public init() {}

    /// Feeds bytes; returns the events they complete, in order.
    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [SSEEvent] {
        var events: [SSEEvent] = []
        for byte in bytes {
            if !started {
                started = true
                // Skip the BOM (EF BB BF) if the stream starts with it.
                lineBuffer.append(byte)
                continue
            }
            if sawCR {
                sawCR = false
                if byte == 0x0A { continue }  // CRLF: the line already ended at CR
            }
            switch byte {
            case 0x0D:
                sawCR = true
                if let event = endLine() { events.append(event) }
            case 0x0A:
                if let event = endLine() { events.append(event) }
            default:
                lineBuffer.append(byte)
                bufferedByteCount += 1
            }
        }
        return events
    }

    private mutating func endLine() -> SSEEvent? {
        var bytes = lineBuffer[...]
        lineBuffer.removeAll(keepingCapacity: true)
        bufferedByteCount = dataLines.reduce(0) { $0 + $1.utf8.count }
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
        let line = String(decoding: bytes, as: UTF8.self)
        if line.isEmpty { return dispatch() }
        if line.hasPrefix(":") {
            commentCount += 1
            return nil
        }
        let name: Substring, value: Substring
        if let colon = line.firstIndex(of: ":") {
            name = line[..<colon]
            var rest = line[line.index(after: colon)...]
            if rest.hasPrefix(" ") { rest = rest.dropFirst() }
            value = rest
        } else {
            name = line[...]
            value = ""
        }
        switch name {
        case "event": eventType = String(value)
        case "data":
            dataLines.append(String(value))
            bufferedByteCount += value.utf8.count
            hasData = true
        case "id":
            if !value.contains("\u{0}") { lastEventID = String(value) }
        case "retry":
            if !value.isEmpty, value.allSatisfy({ $0.isASCII && $0.isNumber }), let ms = Int(value) { retry = ms }
        default:
            break
        }
        return nil
    }

    private mutating func dispatch() -> SSEEvent? {
        defer {
            eventType = ""
            dataLines = []
            hasData = false
            bufferedByteCount = 0
        }
        guard hasData else { return nil }
        return SSEEvent(type: eventType.isEmpty ? "message" : eventType, data: dataLines.joined(separator: "\n"), lastEventID: lastEventID)
    }
}
