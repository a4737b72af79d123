import RosterHTTP
import Testing

@Suite(.timeLimit(.minutes(2))) struct HTTPHeadParserTests {
    let configuration = HTTPServerConfiguration()

    func parse(_ text: String, configuration: HTTPServerConfiguration? = nil) throws(HTTPProblem) -> HTTPRequestHead? {
        var parser = HTTPHeadParser(configuration: configuration ?? self.configuration)
        if case .complete(let head, _) = try parser.parse(Array(text.utf8)) { return head }
        return nil
    }

    func problem(_ text: String, configuration: HTTPServerConfiguration? = nil) -> HTTPProblem? {
        do {
            _ = try parse(text, configuration: configuration)
            return nil
        } catch {
            return error
        }
    }

    @Test func `a simple GET parses with its headers`() throws {
        let head = try #require(try parse("GET /services/web?x=1 HTTP/1.1\r\nHost: a\r\nX-Thing:  v  \r\n\r\n"))
        #expect(head.method == "GET")
        #expect(head.target == "/services/web?x=1")
        #expect(head.version == .http1_1)
        #expect(head.headers["x-thing"] == "v")
        #expect(head.headers["HOST"] == "a")
        #expect(head.framing == .none)
        #expect(head.keepAlive)
    }

    @Test func `a head split at every byte parses the same and ends where it should`() throws {
        let text = "POST /services HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}"
        let bytes = Array(text.utf8)
        var parser = HTTPHeadParser(configuration: configuration)
        var buffer: [UInt8] = []
        var result: (HTTPRequestHead, Int)?
        for byte in bytes {
            buffer.append(byte)
            if case .complete(let head, let end) = try parser.parse(buffer) {
                result = (head, end)
                break
            }
        }
        let (head, end) = try #require(result)
        #expect(head.framing == .contentLength(2))
        #expect(end == bytes.count - 2)
    }

    @Test func `incomplete heads need more bytes`() throws {
        #expect(try parse("GET / HTTP/1.1\r\nHost: a\r\n") == nil)
        #expect(try parse("GET / HTTP/1.1\r\nHost: a\r\n\r") == nil)
    }

    @Test(arguments: [
        ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        ("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 501),
        ("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", 501),
        ("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 501),
        ("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n", 400),
        ("GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n folded\r\n\r\n", 400),
        ("GET / HTTP/1.1\nHost: a\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\nX: 1\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\rX: 1\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nX: a\u{0}b\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        ("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400),
        ("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
        ("GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505),
        ("GET / HTTX/1.1\r\nHost: a\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nExpect: something\r\n\r\n", 417),
        ("GET / HTTP/1.1\r\nHost: a\r\n: empty\r\n\r\n", 400),
    ])
    func `malformed and smuggling-shaped heads are rejected`(text: String, status: Int) {
        let problem = problem(text)
        #expect(problem?.status.code == status)
        #expect(problem?.closesConnection == true)
    }

    @Test func `identical repeated Content-Length values are accepted`() throws {
        let head = try #require(try parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n"))
        #expect(head.framing == .contentLength(3))
    }

    @Test func `chunked is accepted case-insensitively`() throws {
        let head = try #require(try parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n"))
        #expect(head.framing == .chunked)
    }

    @Test func `a request line over the limit is 414`() {
        var small = HTTPServerConfiguration()
        small.maxRequestLine = 64
        let target = "/" + String(repeating: "a", count: 100)
        #expect(problem("GET \(target) HTTP/1.1\r\nHost: a\r\n\r\n", configuration: small)?.status.code == 414)
        // Exactly at the limit is fine.
        let exact = "GET /" + String(repeating: "a", count: 64 - 14) + " HTTP/1.1"
        #expect(exact.utf8.count == 64)
        #expect(problem(exact + "\r\nHost: a\r\n\r\n", configuration: small) == nil)
    }

    @Test func `the request line limit applies before the line ends`() throws {
        var small = HTTPServerConfiguration()
        small.maxRequestLine = 64
        var parser = HTTPHeadParser(configuration: small)
        #expect(throws: HTTPProblem.self) { try parser.parse(Array(("GET /" + String(repeating: "a", count: 100)).utf8)) }
    }

    @Test func `too many header bytes or fields is 431`() {
        let big = "GET / HTTP/1.1\r\nHost: a\r\nX-Big: \(String(repeating: "b", count: 64 * 1024))\r\n\r\n"
        #expect(problem(big)?.status.code == 431)
        let many = "GET / HTTP/1.1\r\nHost: a\r\n" + (0..<101).map { "X-\($0): 1\r\n" }.joined() + "\r\n"
        #expect(problem(many)?.status.code == 431)
        let hundred = "GET / HTTP/1.1\r\nHost: a\r\n" + (0..<99).map { "X-\($0): 1\r\n" }.joined() + "\r\n"
        #expect(problem(hundred) == nil)
    }

    @Test func `a Content-Length over the body limit is 413 before any body is read`() {
        #expect(problem("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2097152\r\n\r\n")?.status.code == 413)
    }

    @Test(arguments: [
        ("GET / HTTP/1.1\r\nHost: a\r\n\r\n", true),
        ("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", false),
        ("GET / HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive, Close\r\n\r\n", false),
        ("GET / HTTP/1.0\r\n\r\n", false),
        ("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true),
        ("GET / HTTP/1.2\r\nHost: a\r\n\r\n", true),
    ])
    func `keep-alive follows the version and Connection header`(text: String, keepAlive: Bool) throws {
        let head = try #require(try parse(text))
        #expect(head.keepAlive == keepAlive)
    }

    @Test func `Expect 100-continue is honoured on HTTP 1.1 and ignored on 1.0`() throws {
        #expect(try parse("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n")?.expectsContinue == true)
        #expect(try parse("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n")?.expectsContinue == false)
    }

    @Test func `leading empty lines before the request line are skipped`() throws {
        #expect(try parse("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")?.method == "GET")
    }
}

@Suite(.timeLimit(.minutes(2))) struct ChunkedBodyDecoderTests {
    func decode(_ text: String, maxBody: Int = 1024) throws(HTTPProblem) -> ([UInt8], Int)? {
        var decoder = ChunkedBodyDecoder(start: 0, maxBody: maxBody, maxTrailerBytes: 1024)
        if case .complete(let end) = try decoder.decode(Array(text.utf8)) { return (decoder.body, end) }
        return nil
    }

    @Test func `chunks with extensions and trailers decode`() throws {
        let (body, end) = try #require(try decode("4;name=value\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT"))
        #expect(String(decoding: body, as: UTF8.self) == "Wikipedia")
        #expect(end == "4;name=value\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Trailer: 1\r\n\r\n".utf8.count)
    }

    @Test func `a body split at every byte decodes the same`() throws {
        let bytes = Array("a\r\n0123456789\r\n1\r\nx\r\n0\r\n\r\n".utf8)
        var decoder = ChunkedBodyDecoder(start: 0, maxBody: 1024, maxTrailerBytes: 1024)
        var buffer: [UInt8] = []
        var done = false
        for byte in bytes {
            buffer.append(byte)
            if case .complete = try decoder.decode(buffer) { done = true }
            buffer.removeFirst(decoder.rebase())
        }
        #expect(done)
        #expect(String(decoding: decoder.body, as: UTF8.self) == "0123456789x")
    }

    @Test(arguments: [
        "zz\r\nab\r\n0\r\n\r\n",
        "\r\n",
        "-1\r\nab\r\n0\r\n\r\n",
        "1ffffffffffffffff\r\n",
        "2\nab\r\n0\r\n\r\n",
        "2\r\nabc\r\n0\r\n\r\n",
        "2 \r\nab\r\n0\r\n\r\n",
        "0x2\r\nab\r\n0\r\n\r\n",
        "2\r\nab\r\n0\r\nbad trailer\r\n\r\n",
    ])
    func `malformed chunked framing is 400`(text: String) {
        #expect(throws: HTTPProblem.self) { try decode(text) }
        do { _ = try decode(text) } catch { #expect(error.status.code == 400) }
    }

    @Test func `a chunked body over the limit is 413`() {
        do {
            _ = try decode("400\r\n" + String(repeating: "a", count: 1024) + "\r\n1\r\nb\r\n0\r\n\r\n", maxBody: 1024)
            Issue.record("expected 413")
        } catch {
            #expect(error.status.code == 413)
        }
    }

    @Test func `a huge declared chunk size is rejected before its data arrives`() {
        do {
            _ = try decode("fffffffffffffff\r\n", maxBody: 1024)
            Issue.record("expected 413")
        } catch {
            #expect(error.status.code == 413)
        }
    }
}

@Suite(.timeLimit(.minutes(2))) struct PercentDecodingTests {
    @Test(arguments: [
        ("web", "web"), ("a%20b", "a b"), ("%2541", "%41"), ("caf%C3%A9", "café"), ("a%2Fb", "a/b"),
    ])
    func `decodes exactly once`(input: String, output: String) {
        #expect(PercentDecoding.decode(input) == output)
    }

    @Test(arguments: ["%", "%4", "%zz", "%FF", "a%C3"])
    func `malformed escapes and non-UTF-8 are rejected`(input: String) {
        #expect(PercentDecoding.decode(input) == nil)
    }
}
