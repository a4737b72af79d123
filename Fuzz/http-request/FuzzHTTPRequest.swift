// libFuzzer target: the HTTP/1.1 request head parser and the chunked body decoder.
//
// Built by scripts/fuzz with swiftc into one module together with the parser's sources from
// Sources/RosterHTTP, so `internal` members are visible. Oracles, besides "never crashes":
// - parsing the head in two pieces (as bytes arrive) gives the same outcome as parsing it whole;
// - a complete head ends inside the input, and every refusal has one of the documented statuses;
// - a chunked body decoded in pieces, with the connection's rebase step, equals the body decoded
//   whole, and never exceeds the body limit.

/// Small limits, so that the fuzzer reaches them with short inputs.
private let configuration: HTTPServerConfiguration = {
    var configuration = HTTPServerConfiguration()
    configuration.maxRequestLine = 256
    configuration.maxHeaderBytes = 1024
    configuration.maxHeaderFields = 16
    configuration.maxBody = 2048
    return configuration
}()

private let refusalStatuses: Set<Int> = [400, 413, 414, 417, 431, 501, 505]

private enum HeadOutcome: Equatable {
    case needMore
    case complete(end: Int, method: String, target: String, headers: [String], framing: HTTPBodyFraming, keepAlive: Bool)
    case refused(Int, String)
}

private func outcome(_ parser: inout HTTPHeadParser, _ bytes: [UInt8]) -> HeadOutcome {
    do {
        switch try parser.parse(bytes) {
        case .needMore: return .needMore
        case .complete(let head, let end):
            return .complete(
                end: end, method: head.method, target: head.target,
                headers: head.headers.map { "\($0.name): \($0.value)" }, framing: head.framing, keepAlive: head.keepAlive)
        }
    } catch {
        return .refused(error.status.code, error.code)
    }
}

private enum BodyOutcome: Equatable {
    case needMore
    case complete(body: [UInt8], end: Int)
    case refused(Int)
}

/// Decodes `bytes` arriving in pieces of `step` bytes, dropping consumed bytes as the connection does.
private func decodeChunked(_ bytes: ArraySlice<UInt8>, step: Int) -> BodyOutcome {
    var decoder = ChunkedBodyDecoder(start: 0, maxBody: configuration.maxBody, maxTrailerBytes: configuration.maxHeaderBytes)
    var buffer: [UInt8] = []
    var fed = bytes.startIndex
    var dropped = 0
    while true {
        let next = min(bytes.endIndex, fed + step)
        buffer.append(contentsOf: bytes[fed..<next])
        fed = next
        do {
            if case .complete(let end) = try decoder.decode(buffer) {
                precondition(end <= buffer.count, "chunked end past the buffer")
                precondition(decoder.body.count <= configuration.maxBody, "chunked body over the limit")
                return .complete(body: decoder.body, end: dropped + end)
            }
        } catch {
            return .refused(error.status.code)
        }
        precondition(decoder.body.count <= configuration.maxBody, "chunked body over the limit")
        let consumed = decoder.rebase()
        precondition(consumed <= buffer.count, "rebase past the buffer")
        buffer.removeFirst(consumed)
        dropped += consumed
        if fed == bytes.endIndex { return .needMore }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTPRequest(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))

    var wholeParser = HTTPHeadParser(configuration: configuration)
    let whole = outcome(&wholeParser, bytes)

    // The same bytes in two pieces, cut where the input's length says.
    let cut = size == 0 ? 0 : (size * 7 + 3) % (size + 1)
    var pieceParser = HTTPHeadParser(configuration: configuration)
    var pieces = outcome(&pieceParser, Array(bytes[..<cut]))
    if pieces == .needMore { pieces = outcome(&pieceParser, bytes) }
    switch (whole, pieces) {
    case (.complete(let end, _, _, _, _, _), _) where end <= cut:
        // The head was already complete in the first piece; the whole parse must agree.
        precondition(pieces == whole, "split parse differs from whole parse: \(pieces) vs \(whole)")
    case (.refused, .refused):
        // A limit may be crossed in the first piece before an earlier-line error is seen whole; both refuse.
        break
    default:
        precondition(pieces == whole, "split parse differs from whole parse: \(pieces) vs \(whole)")
    }

    switch whole {
    case .needMore:
        break
    case .refused(let status, let code):
        precondition(refusalStatuses.contains(status), "unexpected status \(status) \(code)")
    case .complete(let end, let method, let target, _, let framing, _):
        precondition(end > 0 && end <= size, "head end \(end) outside the input of \(size)")
        // What the router does with the target: split path and query, decode parameters once.
        let request = HTTPRequest(method: method, target: target)
        for segment in request.path.split(separator: "/") { _ = PercentDecoding.decode(segment) }
        _ = request.queryItems
        switch framing {
        case .none:
            break
        case .contentLength(let length):
            precondition(length > 0 && length <= configuration.maxBody, "Content-Length \(length) outside the limit")
        case .chunked:
            let rest = bytes[end...]
            let oneGo = decodeChunked(rest, step: max(rest.count, 1))
            let step = 1 + (size % 7)
            let trickled = decodeChunked(rest, step: step)
            precondition(oneGo == trickled, "chunked decode differs with step \(step): \(trickled) vs \(oneGo)")
        }
    }
    return 0
}
