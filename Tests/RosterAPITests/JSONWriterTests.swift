import Testing
import RosterAPI

@Suite(.timeLimit(.minutes(2))) struct JSONWriterTests {
    @Test(arguments: [
        ("plain", #""plain""#),
        ("", #""""#),
        ("a\"b", #""a\"b""#),
        ("a\\b", #""a\\b""#),
        ("/", #""/""#),
        ("\u{8}\u{C}\n\r\t", #""\b\f\n\r\t""#),
        ("\u{0}", #""\u0000""#),
        ("\u{1}\u{1B}\u{1F}", #""\u0001\u001b\u001f""#),
        ("\u{7F}", "\"\u{7F}\""),
        ("\u{2028}", #""\u2028""#),
        ("a\u{2028}b\u{2029}c", #""a\u2028b\u2029c""#),
        ("\u{2027}\u{2026}€", "\"\u{2027}\u{2026}€\""),
        ("é😀\u{10FFFF}", "\"é😀\u{10FFFF}\""),
    ])
    func `strings are escaped per RFC 8259 section 7`(string: String, expected: String) {
        #expect(JSONWriter.string(.string(string)) == expected)
    }

    @Test func `object keys are escaped like strings`() {
        let value: JSONValue = ["a\"b\n": 1, "\u{2029}": 2]
        #expect(JSONWriter.string(value) == #"{"a\"b\n":1,"\u2029":2}"#)
    }

    @Test func `output is compact with members in order`() {
        let value: JSONValue = [
            "name": "web", "port": 8080, "tags": ["a", "b"], "meta": [:], "list": [], "x": nil, "ok": true, "off": false, "ratio": 0.25,
        ]
        #expect(JSONWriter.string(value) == #"{"name":"web","port":8080,"tags":["a","b"],"meta":{},"list":[],"x":null,"ok":true,"off":false,"ratio":0.25}"#)
    }

    @Test func `bytes, string and description agree`() {
        let value: JSONValue = ["é": [1, "two", nil]]
        let text = #"{"é":[1,"two",null]}"#
        #expect(JSONWriter.bytes(value) == Array(text.utf8))
        #expect(JSONWriter.string(value) == text)
        #expect(value.description == text)
    }

    @Test func `write appends to the existing buffer`() {
        var buffer = Array("data: ".utf8)
        JSONWriter.write([1, 2], into: &buffer)
        JSONWriter.write(true, into: &buffer)
        #expect(String(decoding: buffer, as: UTF8.self) == "data: [1,2]true")
    }

    @Test func `numbers are written as their literal`() throws {
        let text = #"{"a":80.0,"b":1E3,"c":-0,"d":"\u00e9\/","e":99999999999999999999}"#
        let value = try JSONReader.read(text)
        #expect(JSONWriter.string(value) == #"{"a":80.0,"b":1E3,"c":-0,"d":"é/","e":99999999999999999999}"#)
    }

    @Test(arguments: [
        JSONValue.null,
        true,
        0,
        -42,
        0.1,
        "",
        "quote \" backslash \\ slash / newline \n tab \t",
        .string(String(String.UnicodeScalarView((0 ..< 0x20).map { Unicode.Scalar($0)! }))),
        "\u{7F}\u{80}\u{2028}\u{2029}\u{FEFF}\u{10FFFF}😀é",
        [],
        [:],
        [1, [2, [3, [4]]], ["k": [nil]]],
        ["name": "web", "host": "10.0.0.5", "port": 8080, "metadata": ["version": "1.4.2"], "ttl": 30],
        ["z": 1, "a": 2, "": 3, "a.b": ["[0]": "x"]],
        .number(JSONNumber(literal: "-1.5E-300")!),
    ])
    func `reading written output gives back the value`(value: JSONValue) throws {
        let bytes = JSONWriter.bytes(value)
        let reread = try JSONReader.read(bytes)
        #expect(reread == value)
        #expect(JSONWriter.bytes(reread) == bytes)
    }

    @Test func `round trip keeps member order`() throws {
        let value: JSONValue = ["z": 1, "a": 2, "m": 3]
        let reread = try JSONReader.read(JSONWriter.bytes(value))
        #expect(reread.objectValue?.keys == ["z", "a", "m"])
    }
}

@Suite(.timeLimit(.minutes(2))) struct JSONNumberRenderingTests {
    @Test(arguments: [
        (30.0, "30"),
        (0.5, "0.5"),
        (-2.5, "-2.5"),
        (0.1, "0.1"),
        (-0.0, "-0"),
        (123456789.0, "123456789"),
        (3e15, "3000000000000000"),
        (1e16, "1e+16"),
        (1e21, "1e+21"),
        (1.5e-7, "1.5e-07"),
        (Double.greatestFiniteMagnitude, "1.7976931348623157e+308"),
        (Double.leastNonzeroMagnitude, "5e-324"),
    ])
    func `double renders as the shortest round-trip literal`(value: Double, literal: String) throws {
        let number = try #require(JSONNumber(value))
        #expect(number.literal == literal)
        #expect(JSONNumber(literal: literal) != nil)
        let parsed = try #require(number.doubleValue)
        #expect(parsed == value)
        #expect(parsed.sign == value.sign)
    }

    @Test func `whole double is an integer literal`() throws {
        let number = try #require(JSONNumber(30.0))
        #expect(number.isIntegerLiteral)
        #expect(number.intValue == 30)
        #expect(JSONNumber(0.5)?.isIntegerLiteral == false)
    }

    @Test(arguments: [Double.nan, .infinity, -.infinity, .signalingNaN])
    func `non-finite double has no literal`(value: Double) {
        #expect(JSONNumber(value) == nil)
    }

    @Test(arguments: [(0, "0"), (-7, "-7"), (Int.max, "9223372036854775807"), (Int.min, "-9223372036854775808")])
    func `int renders as its decimal literal`(value: Int, literal: String) {
        let number = JSONNumber(value)
        #expect(number.literal == literal)
        #expect(number.intValue == value)
        #expect(number.description == literal)
    }
}
