/// Incremental, strict decoder of a chunked request body (RFC 9112 §7.1).
///
/// Chunk sizes are 1–16 hex digits; chunk extensions are allowed and ignored; trailer fields
/// are read within the header limits and discarded. Every line must end in CRLF.
public struct ChunkedBodyDecoder: Sendable {
    public enum Outcome: Sendable, Equatable {
        case needMore
        /// The body is complete; the message ended just before `end`.
        case complete(end: Int)
    }

    private enum State: Sendable {
        case sizeLine
        case data(remaining: Int)
        case dataEnd
        case trailers
    }

    let maxBody: Int
    let maxLine: Int
    let maxTrailerBytes: Int
    private var state: State = .sizeLine
    private var position: Int
    private var trailerBytes = 0
    /// The decoded body so far.
    public private(set) var body: [UInt8] = []

    public init(start: Int, maxBody: Int, maxTrailerBytes: Int, maxLine: Int = 4096) {
        self.position = start
        self.maxBody = maxBody
        self.maxTrailerBytes = maxTrailerBytes
        self.maxLine = maxLine
    }

    /// Consumes what it can of `buffer` from where the last call stopped.
    /// - Throws: `HTTPProblem` 400 for malformed framing, 413 when the body exceeds `maxBody`.
    public mutating func decode(_ buffer: [UInt8]) throws(HTTPProblem) -> Outcome {
        while true {
            switch state {
            case .sizeLine:
                guard let (line, next) = try nextLine(buffer) else { return .needMore }
                let size = try Self.parseSize(line)
                position = next
                if size == 0 {
                    state = .trailers
                } else {
                    guard size <= maxBody - body.count else {
                        throw HTTPProblem(.contentTooLarge, code: "body_too_large", "body larger than \(maxBody) bytes")
                    }
                    state = .data(remaining: size)
                }
            case .data(let remaining):
                let available = buffer.count - position
                guard available > 0 else { return .needMore }
                let take = min(available, remaining)
                body.append(contentsOf: buffer[position..<(position + take)])
                position += take
                state = remaining == take ? .dataEnd : .data(remaining: remaining - take)
            case .dataEnd:
                guard buffer.count - position >= 2 else { return .needMore }
                guard buffer[position] == 0x0D, buffer[position + 1] == 0x0A else {
                    throw .badRequest("chunk data not followed by CRLF")
                }
                position += 2
                state = .sizeLine
            case .trailers:
                guard let (line, next) = try nextLine(buffer) else { return .needMore }
                trailerBytes += next - position
                guard trailerBytes <= maxTrailerBytes else {
                    throw HTTPProblem(.requestHeaderFieldsTooLarge, code: "header_too_large", "trailer section too large")
                }
                position = next
                if line.isEmpty { return .complete(end: position) }
                _ = try HTTPHeadParser.parseField(line)
            }
        }
    }

    /// The next CRLF-terminated line at `position`, or nil if it has not fully arrived.
    private func nextLine(_ buffer: [UInt8]) throws(HTTPProblem) -> (ArraySlice<UInt8>, Int)? {
        var i = position
        let limit = min(buffer.count, position + maxLine + 2)
        while i < limit {
            let byte = buffer[i]
            if byte == 0x0A {
                guard i > position, buffer[i - 1] == 0x0D else { throw .badRequest("bare LF in chunked framing") }
                return (buffer[position..<(i - 1)], i + 1)
            }
            if i > position, buffer[i - 1] == 0x0D {
                throw .badRequest("bare CR in chunked framing")
            }
            i += 1
        }
        if limit - position >= maxLine + 2 { throw .badRequest("chunk line too long") }
        return nil
    }

    static func parseSize(_ line: ArraySlice<UInt8>) throws(HTTPProblem) -> Int {
        var digits = line
        if let semicolon = line.firstIndex(of: UInt8(ascii: ";")) {
            digits = line[line.startIndex..<semicolon]
            let ext = line[(semicolon + 1)...]
            for b in ext where !(b == 0x09 || (b >= 0x20 && b != 0x7F)) {
                throw .badRequest("control character in chunk extension")
            }
        }
        // BWS before ';' is tolerated by RFC 9112 §7.1.1 only as "bad whitespace": reject it.
        guard !digits.isEmpty else { throw .badRequest("missing chunk size") }
        guard digits.count <= 16 else { throw .badRequest("chunk size overflow") }
        var size: UInt64 = 0
        for b in digits {
            guard let v = PercentDecoding.hexValue(b) else { throw .badRequest("invalid chunk size") }
            size = size << 4 | UInt64(v)
        }
        guard size <= UInt64(Int.max) else { throw .badRequest("chunk size overflow") }
        return Int(size)
    }
}

extension ChunkedBodyDecoder {
    /// Forgets the bytes consumed so far: returns how many leading bytes the caller may drop
    /// from its buffer, and continues from index 0 of the shortened buffer.
    public mutating func rebase() -> Int {
        let consumed = position
        position = 0
        return consumed
    }
}
