import RosterAPI
import Testing

@Suite(.timeLimit(.minutes(2))) struct SSEParserTests {
    func parse(_ text: String, splitEvery: Int? = nil) -> (events: [SSEEvent], parser: SSEParser) {
        var parser = SSEParser()
        var events: [SSEEvent] = []
        let bytes = Array(text.utf8)
        if let splitEvery {
            var i = 0
            while i < bytes.count {
                events += parser.feed(bytes[i..<min(i + splitEvery, bytes.count)])
                i += splitEvery
            }
        } else {
            events = parser.feed(bytes)
        }
        return (events, parser)
    }

    @Test(arguments: ["\n", "\r\n", "\r"])
    func `every line ending dispatches the same events`(end: String) {
        let text = ["id: e-1", "event: register", "data: {\"a\":1}", "", "data: two", "data: lines", "", ""].joined(separator: end)
        for split in [nil, 1, 2, 3] {
            let (events, _) = parse(text, splitEvery: split)
            #expect(events == [
                SSEEvent(type: "register", data: #"{"a":1}"#, lastEventID: "e-1"),
                SSEEvent(type: "message", data: "two\nlines", lastEventID: "e-1"),
            ])
        }
    }

    @Test func `comments, retry, unknown fields and field-only lines`() {
        let (events, parser) = parse(": keepalive\nretry: 3000\nretry: x\nfoo: bar\ndata\n\n:c\n\n")
        #expect(events == [SSEEvent(type: "message", data: "", lastEventID: "")])
        #expect(parser.retry == 3000)
        #expect(parser.commentCount == 2)
    }

    @Test func `blocks without data dispatch nothing but ids persist`() {
        let (events, parser) = parse("id: 7\n\ndata: x\n\nid\ndata: y\n\n")
        #expect(events.map(\.lastEventID) == ["7", ""])
        #expect(parser.lastEventID == "")
    }

    @Test func `an id with NUL is ignored, a leading BOM is skipped, an unfinished block is not dispatched`() {
        let (events, _) = parse("\u{FEFF}id: a\u{0}b\ndata: 1\n\ndata: 2")
        #expect(events == [SSEEvent(type: "message", data: "1", lastEventID: "")])
    }

    @Test func `only one space after the colon is stripped`() {
        #expect(parse("data:  two spaces\n\n").events.first?.data == " two spaces")
        #expect(parse("data:none\n\n").events.first?.data == "none")
    }

    @Test func `buffered bytes count the open line and the data so far, and drop at dispatch`() {
        var parser = SSEParser()
        _ = parser.feed(Array("data: abc\ndata: de".utf8))
        #expect(parser.bufferedByteCount == 3 + "data: de".utf8.count)
        _ = parser.feed(Array("\n".utf8))
        #expect(parser.bufferedByteCount == 5)
        #expect(parser.feed(Array("\n".utf8)).map(\.data) == ["abc\nde"])
        #expect(parser.bufferedByteCount == 0)
    }
}
