import Testing
import RosterAPI

/// Reads `text` and returns the error, or nil if it parsed.
private func failure(_ text: String, maxDepth: Int = JSONReader.defaultMaxDepth) -> JSONReadError? {
    failure(Array(text.utf8), maxDepth: maxDepth)
}

private func failure(_ bytes: [UInt8], maxDepth: Int = JSONReader.defaultMaxDepth) -> JSONReadError? {
    do {
        _ = try JSONReader.read(bytes, maxDepth: maxDepth)
        return nil
    } catch {
        return error
    }
}

/// A number value from a literal known to be valid.
private func number(_ literal: String) -> JSONValue {
    .number(JSONNumber(literal: literal)!)
}

@Suite(.timeLimit(.minutes(2))) struct JSONReaderTests {
    // MARK: Valid values

    @Test(arguments: [
        ("null", JSONValue.null),
        ("true", .bool(true)),
        ("false", .bool(false)),
        (#""hello""#, .string("hello")),
        (#""""#, .string("")),
        ("0", number("0")),
        ("-12", number("-12")),
        ("3.25", number("3.25")),
        ("[]", .array([])),
        ("{}", .object(JSONObject())),
        (#"[1,"a",null,true,[],{}]"#, .array([number("1"), .string("a"), .null, .bool(true), .array([]), .object(JSONObject())])),
        (#"{"a":{"b":[false]}}"#, .object(JSONObject([("a", .object(JSONObject([("b", .array([.bool(false)]))])))]))),
        (#""héllo €😀""#, .string("héllo €😀")),
        ("\"\u{7F}\"", .string("\u{7F}")),
    ])
    func `each value type parses to its case`(text: String, expected: JSONValue) throws {
        #expect(try JSONReader.read(Array(text.utf8)) == expected)
    }

    @Test func `registration body parses with every field and member order`() throws {
        let body = #"{"name":"web","host":"10.0.0.5","port":8080,"metadata":{"version":"1.4.2"},"ttl":30}"#
        let value = try JSONReader.read(Array(body.utf8))
        let object = try #require(value.objectValue)
        #expect(object.keys == ["name", "host", "port", "metadata", "ttl"])
        #expect(object["name"]?.stringValue == "web")
        #expect(object["host"]?.stringValue == "10.0.0.5")
        #expect(object["port"]?.numberValue?.intValue == 8080)
        #expect(object["metadata"]?["version"]?.stringValue == "1.4.2")
        #expect(object["ttl"]?.numberValue?.intValue == 30)
        #expect(object["missing"] == nil)
    }

    @Test(arguments: [
        " \t\n\r[ 1 , { \"a\" : true } ]\r\n",
        "[1,{\"a\":true}]",
        "\n[\n\t1\n,\n{\n\"a\"\n:\ntrue\n}\n]\n",
        "\r\n[1\t,\t{\"a\"\r:\rtrue}]    ",
    ])
    func `whitespace around and between tokens is ignored`(text: String) throws {
        let expected: JSONValue = .array([number("1"), .object(JSONObject([("a", .bool(true))]))])
        #expect(try JSONReader.read(text) == expected)
    }

    // MARK: Numbers

    @Test(arguments: [
        ("80", true, 80 as Int?, 80.0 as Double?),
        ("80.0", false, nil, 80.0),
        ("8e1", false, nil, 80.0),
        ("8E+1", false, nil, 80.0),
        ("800e-1", false, nil, 80.0),
        ("-0", true, 0, -0.0),
        ("0", true, 0, 0.0),
        ("-7", true, -7, -7.0),
        ("9223372036854775807", true, Int.max, 9.223372036854775807e18),
        ("-9223372036854775808", true, Int.min, -9.223372036854775808e18),
        ("9223372036854775808", true, nil, 9.223372036854775808e18),
    ])
    func `number keeps its literal and reports integer-ness and values`(
        literal: String, isInteger: Bool, intValue: Int?, doubleValue: Double?
    ) throws {
        let number = try #require(try JSONReader.read(literal).numberValue)
        #expect(number.literal == literal)
        #expect(number.isIntegerLiteral == isInteger)
        #expect(number.intValue == intValue)
        #expect(number.doubleValue == doubleValue)
    }

    @Test func `integer literal beyond Int parses with nil intValue`() throws {
        let number = try #require(try JSONReader.read("99999999999999999999").numberValue)
        #expect(number.literal == "99999999999999999999")
        #expect(number.isIntegerLiteral)
        #expect(number.intValue == nil)
        #expect(number.doubleValue == 1e20)
    }

    @Test(arguments: [("1e400", nil as Double?), ("-1e400", nil), ("1e-400", 0.0), ("1.5e308", 1.5e308)])
    func `doubleValue is nil only when the magnitude overflows`(literal: String, expected: Double?) throws {
        let number = try #require(try JSONReader.read(literal).numberValue)
        #expect(number.doubleValue == expected)
        #expect(number.literal == literal)
    }

    @Test func `number literal of 100 characters is accepted`() throws {
        let literal = String(repeating: "1", count: 100)
        let number = try #require(try JSONReader.read(literal).numberValue)
        #expect(number.literal.count == 100)
        #expect(number.intValue == nil)
    }

    @Test(arguments: [
        (String(repeating: "1", count: 101), 0),
        ("[" + String(repeating: "9", count: 101) + "]", 1),
        ("0." + String(repeating: "5", count: 99), 0),
        (#"{"port":-1e"# + String(repeating: "0", count: 200) + "}", 8),
    ])
    func `number literal longer than 100 characters is numberTooLong`(text: String, offset: Int) throws {
        let error = try #require(failure(text))
        #expect(error.code == .numberTooLong)
        #expect(error.offset == offset)
        #expect(error.path == nil)
    }

    @Test(arguments: [
        ("01", 1), ("-01", 2), ("00", 1), ("+1", 0), (".5", 0), ("1.", 2), ("1.e5", 2),
        ("1e", 2), ("1e+", 3), ("1.5e", 4), ("0e", 2), ("-", 1), ("- 1", 1), ("--1", 1),
        ("1..2", 2), ("NaN", 0), ("Infinity", 0), ("-Infinity", 1), ("0x1F", 1), ("[01]", 2),
        ("1,", 1), ("١", 0),
    ])
    func `invalid number forms are invalidJSON at the offending byte`(text: String, offset: Int) throws {
        let error = try #require(failure(text))
        #expect(error.code == .invalidJSON)
        #expect(error.offset == offset)
    }

    @Test func `leading zero error says so`() throws {
        let error = try #require(failure("[007]"))
        #expect(error.message == "unexpected character '0' at byte 2, a number must not have leading zeros")
    }

    // MARK: Duplicate keys

    @Test(arguments: [
        (#"{"a":1,"a":2}"#, "a", 7),
        (#"{"metadata":{"version":"1","version":"2"}}"#, "metadata.version", 27),
        (#"{"a":1,"\u0061":2}"#, "a", 7),
        (#"{"\u0061":1,"a":2}"#, "a", 12),
        (#"{"items":[{"n":1},{"n":1,"n":2}]}"#, "items[1].n", 25),
        (#"{"a b":{"x":1,"x":2}}"#, #"["a b"].x"#, 14),
        (#"{"":1,"":2}"#, #"[""]"#, 6),
    ])
    func `duplicate key is rejected with its path`(text: String, path: String, offset: Int) throws {
        let error = try #require(failure(text))
        #expect(error.code == .duplicateKey)
        #expect(error.path == path)
        #expect(error.offset == offset)
    }

    @Test func `duplicate key message names the key and its object`() throws {
        let root = try #require(failure(#"{"port":1,"port":2}"#))
        #expect(root.message == #"duplicate key "port""#)
        let nested = try #require(failure(#"{"metadata":{"version":"1","version":"2"}}"#))
        #expect(nested.message == #"duplicate key "version" in object at metadata"#)
    }

    @Test func `duplicate key message shortens a long key and escapes it`() throws {
        let key = "\\n" + String(repeating: "k", count: 100)
        let error = try #require(failure("{\"\(key)\":1,\"\(key)\":2}"))
        #expect(error.message == #"duplicate key "\n"# + String(repeating: "k", count: 63) + #"…""#)
        #expect(error.path == #"["\n"# + String(repeating: "k", count: 100) + #""]"#)
    }

    @Test func `same key in sibling objects is not a duplicate`() throws {
        let value = try JSONReader.read(#"[{"a":1},{"a":2}]"#)
        #expect(value.arrayValue?.count == 2)
        #expect(value.arrayValue?[1]["a"] == number("2"))
    }

    @Test func `duplicate key is found in a large object`() throws {
        let members = (0 ..< 1_000).map { #""k\#($0)":\#($0)"# }
        let unique = "{" + members.joined(separator: ",") + "}"
        let parsed = try #require(try JSONReader.read(unique).objectValue)
        #expect(parsed.count == 1_000)
        #expect(parsed["k999"] == number("999"))

        let duplicated = "{" + members.joined(separator: ",") + #","k500":0}"#
        let error = try #require(failure(duplicated))
        #expect(error.code == .duplicateKey)
        #expect(error.path == "k500")
        #expect(error.offset == unique.utf8.count)
    }

    @Test func `canonically equivalent keys are duplicates`() throws {
        // Swift compares strings by canonical equivalence, and so does JSONObject.
        let error = try #require(failure(#"{"é":1,"e\u0301":2}"#))
        #expect(error.code == .duplicateKey)
    }

    // MARK: Depth

    @Test func `nesting of 32 arrays is accepted`() throws {
        var value = try JSONReader.read(String(repeating: "[", count: 32) + String(repeating: "]", count: 32))
        var depth = 1
        while let inner = value.arrayValue?.first {
            value = inner
            depth += 1
        }
        #expect(depth == 32)
    }

    @Test func `nesting of 33 arrays is tooDeep at the 33rd`() throws {
        let error = try #require(failure(String(repeating: "[", count: 33) + String(repeating: "]", count: 33)))
        #expect(error.code == .tooDeep)
        #expect(error.offset == 32)
        #expect(error.path == String(repeating: "[0]", count: 32))
        #expect(error.message == "nesting deeper than 32 levels")
    }

    @Test func `nesting of 33 objects is tooDeep with a dotted path`() throws {
        let ok = String(repeating: #"{"a":"#, count: 32) + "1" + String(repeating: "}", count: 32)
        #expect(throws: Never.self) { try JSONReader.read(ok) }
        let error = try #require(failure(String(repeating: #"{"a":"#, count: 33) + "1" + String(repeating: "}", count: 33)))
        #expect(error.code == .tooDeep)
        #expect(error.offset == 160)
        #expect(error.path == Array(repeating: "a", count: 32).joined(separator: "."))
    }

    @Test func `tooDeep path names the element being parsed`() throws {
        let error = try #require(failure(#"{"items":[1,{"x":[[]]}]}"#, maxDepth: 4))
        #expect(error.code == .tooDeep)
        #expect(error.path == "items[1].x[0]")
        #expect(error.offset == 18)
        #expect(error.message == "nesting deeper than 4 levels")
    }

    @Test(arguments: [
        ("1", 0, true), ("[]", 0, false), ("[]", 1, true), ("[[1]]", 2, true), ("[[[1]]]", 2, false), (#"{"a":[]}"#, 1, false),
    ])
    func `maxDepth counts containers with the root at depth 1`(text: String, maxDepth: Int, accepted: Bool) throws {
        #expect(failure(text, maxDepth: maxDepth)?.code == (accepted ? nil : .tooDeep))
    }

    @Test func `100000 open brackets are tooDeep without deep recursion`() throws {
        let error = try #require(failure([UInt8](repeating: UInt8(ascii: "["), count: 100_000)))
        #expect(error.code == .tooDeep)
        #expect(error.offset == 32)
    }

    @Test func `100000 nested object openings are tooDeep without deep recursion`() throws {
        let error = try #require(failure(String(repeating: #"{"a":"#, count: 100_000)))
        #expect(error.code == .tooDeep)
        #expect(error.offset == 160)
        #expect(error.path == Array(repeating: "a", count: 32).joined(separator: "."))
    }

    @Test func `deep nesting is accepted when maxDepth allows it`() throws {
        let value = try JSONReader.read(String(repeating: "[", count: 1_000) + String(repeating: "]", count: 1_000), maxDepth: 1_000)
        #expect(value.arrayValue?.count == 1)
    }

    // MARK: UTF-8

    @Test(arguments: [
        ([0xC0, 0xAF], "overlong two-byte"),
        ([0xC1, 0xBF], "overlong two-byte C1"),
        ([0xE0, 0x80, 0xAF], "overlong three-byte"),
        ([0xF0, 0x80, 0x80, 0xAF], "overlong four-byte"),
        ([0xED, 0xA0, 0x80], "encoded high surrogate"),
        ([0xED, 0xBF, 0xBF], "encoded low surrogate"),
        ([0xF4, 0x90, 0x80, 0x80], "above U+10FFFF"),
        ([0xF5, 0x80, 0x80, 0x80], "lead byte F5"),
        ([0xE2, 0x82], "truncated three-byte"),
        ([0xF0, 0x9F, 0x98], "truncated four-byte"),
        ([0xC3, 0x41], "bad continuation"),
        ([0x80], "lone continuation"),
        ([0xFF], "byte FF"),
        ([0xFE], "byte FE"),
    ] as [([UInt8], String)])
    func `ill-formed UTF-8 in a string is invalidUTF8 at its first byte`(sequence: [UInt8], label: String) throws {
        let input = Array(#"{"name":"ab"#.utf8) + sequence + Array(#"cd"}"#.utf8)
        let error = try #require(failure(input), "\(label)")
        #expect(error.code == .invalidUTF8)
        #expect(error.offset == 11)
        #expect(error.message == "invalid UTF-8 at byte 11")
    }

    @Test func `UTF-8 truncated by the end of input is invalidUTF8`() throws {
        let error = try #require(failure([UInt8(ascii: "\""), 0xE2, 0x82]))
        #expect(error.code == .invalidUTF8)
        #expect(error.offset == 1)
    }

    @Test(arguments: [
        ([0x5B, 0xFF, 0x5D], 1),
        ([0xC0, 0xAF], 0),
        ([0x31, 0x20, 0x80], 2),
    ] as [([UInt8], Int)])
    func `ill-formed UTF-8 outside strings is invalidUTF8`(input: [UInt8], offset: Int) throws {
        let error = try #require(failure(input))
        #expect(error.code == .invalidUTF8)
        #expect(error.offset == offset)
    }

    @Test(arguments: [
        ([0xC2, 0x80], "\u{80}"),
        ([0xDF, 0xBF], "\u{7FF}"),
        ([0xE0, 0xA0, 0x80], "\u{800}"),
        ([0xED, 0x9F, 0xBF], "\u{D7FF}"),
        ([0xEE, 0x80, 0x80], "\u{E000}"),
        ([0xEF, 0xBF, 0xBF], "\u{FFFF}"),
        ([0xF0, 0x90, 0x80, 0x80], "\u{10000}"),
        ([0xF4, 0x8F, 0xBF, 0xBF], "\u{10FFFF}"),
    ] as [([UInt8], String)])
    func `well-formed UTF-8 boundaries are accepted`(sequence: [UInt8], expected: String) throws {
        let value = try JSONReader.read([UInt8(ascii: "\"")] + sequence + [UInt8(ascii: "\"")])
        #expect(value == .string(expected))
    }

    @Test func `non-ASCII character outside a string is named in the message`() throws {
        let error = try #require(failure("[é]"))
        #expect(error.code == .invalidJSON)
        #expect(error.message == "unexpected character 'é' (U+00E9) at byte 1, expected a value")
    }

    @Test func `byte order mark is rejected`() throws {
        let error = try #require(failure([0xEF, 0xBB, 0xBF] + Array("{}".utf8)))
        #expect(error.code == .invalidJSON)
        #expect(error.offset == 0)
    }

    // MARK: Strings

    @Test(arguments: [
        ([0x22, 0x61, 0x09, 0x62, 0x22], 2),
        ([0x22, 0x00, 0x22], 1),
        ([0x22, 0x61, 0x0A, 0x22], 2),
        ([0x22, 0x1F, 0x22], 1),
    ] as [([UInt8], Int)])
    func `raw control character in a string is rejected`(input: [UInt8], offset: Int) throws {
        let error = try #require(failure(input))
        #expect(error.code == .invalidJSON)
        #expect(error.offset == offset)
    }

    @Test func `raw NUL in a string names the character`() throws {
        let error = try #require(failure([0x22, 0x00, 0x22]))
        #expect(error.message == "unescaped control character U+0000 in string at byte 1")
    }

    @Test func `escaped NUL is accepted`() throws {
        let value = try JSONReader.read(#""a\u0000b""#)
        #expect(value == .string("a\u{0}b"))
        #expect(value.stringValue?.unicodeScalars.count == 3)
    }

    @Test(arguments: [
        (#""\"""#, "\""),
        (#""\\""#, "\\"),
        (#""\/""#, "/"),
        (#""\b\f\n\r\t""#, "\u{8}\u{C}\n\r\t"),
        (#""caf\u00e9""#, "café"),
        (#""\u20AC\u20ac""#, "€€"),
        (#""\ud83d\ude00""#, "😀"),
        (#""x\uD83D\uDE00y""#, "x😀y"),
        (#""\udbff\udfff""#, "\u{10FFFF}"),
        (#""plain \n then plain""#, "plain \n then plain"),
    ])
    func `escapes decode to their characters`(text: String, expected: String) throws {
        #expect(try JSONReader.read(text) == .string(expected))
    }

    @Test(arguments: [
        #""\x""#, #""\'""#, #""\u12""#, #""\u12G4""#, #""\U0041""#, #""\ud83d""#,
        #""\ud83dx""#, #""\ud83d\u0041""#, #""\ude00""#, #""\ud83d\ud83d""#, #""\ude00\ud83d""#,
    ])
    func `invalid escapes and lone surrogates are invalidJSON at the backslash`(text: String) throws {
        let error = try #require(failure(text))
        #expect(error.code == .invalidJSON)
        #expect(error.offset == 1)
    }

    @Test func `lone high surrogate message names the escape`() throws {
        let error = try #require(failure(#"["\ud83d"]"#))
        #expect(error.message == #"high surrogate \uD83D at byte 2 is not followed by a low surrogate escape"#)
    }

    // MARK: Structure

    @Test(arguments: [
        ("{} x", 3), ("1 2", 2), ("[1]]", 3), (#""a""b""#, 3), ("nullx", 4), ("true false", 5),
        ("[1,]", 3), (#"{"a":1,}"#, 7), (#"{"a" 1}"#, 5), ("{1:2}", 1), ("[1 2]", 3), ("{,}", 1),
        ("[,1]", 1), (#"{"a":}"#, 5), ("trux", 3), ("nul", 3), (#"{"a":1"#, 6), ("[", 1), (#""abc"#, 4),
        (#"{"a""#, 4), ("\"\\", 2), ("\u{C}1", 0), ("\u{A0}1", 0), ("'a'", 0),
    ])
    func `malformed structure is invalidJSON at the offending byte`(text: String, offset: Int) throws {
        let error = try #require(failure(text))
        #expect(error.code == .invalidJSON)
        #expect(error.offset == offset)
        #expect(error.path == nil)
    }

    @Test(arguments: [
        (#"{"a":1x}"#, "unexpected character 'x' at byte 6, expected ',' or '}'"),
        ("[1 2]", "unexpected character '2' at byte 3, expected ',' or ']'"),
        ("{} x", "unexpected character 'x' at byte 3 after the JSON value"),
        ("[1,", "unexpected end of input at byte 3, expected a value"),
        (#"{"a" 1}"#, "unexpected character '1' at byte 5, expected ':'"),
        ("[\u{1}]", "unexpected control character U+0001 at byte 1, expected a value"),
    ])
    func `error messages name what is wrong and where`(text: String, message: String) throws {
        #expect(failure(text)?.message == message)
    }

    @Test(arguments: ["", " ", "\n\t\r ", "    \n"])
    func `empty or whitespace-only input is empty`(text: String) throws {
        let error = try #require(failure(text))
        #expect(error.code == .empty)
        #expect(error.code.rawValue == "empty_body")
        #expect(error.offset == text.utf8.count)
    }

    // MARK: Overloads and error shape

    @Test func `slice input reports offsets from its own start`() throws {
        let bytes = Array("xx[1,x]".utf8)[2...]
        let error = try #require(throws: JSONReadError.self) { try JSONReader.read(bytes) }
        #expect(error.offset == 3)
        #expect(try JSONReader.read(Array("xx[1]".utf8)[2...]) == .array([number("1")]))
    }

    @Test func `non-contiguous collection input is read`() throws {
        let bytes = Array("[1,x]".utf8).lazy.map { $0 }
        let error = try #require(throws: JSONReadError.self) { try JSONReader.read(bytes) }
        #expect(error.offset == 3)
        #expect(try JSONReader.read(Array("[true]".utf8).lazy.map { $0 }) == .array([.bool(true)]))
    }

    @Test func `error description carries code, offset, path and message`() {
        let error = JSONReadError(code: .duplicateKey, message: #"duplicate key "a""#, offset: 7, path: "a")
        #expect(error.description == #"duplicate_key at byte 7, path "a": duplicate key "a""#)
        let plain = JSONReadError(code: .invalidUTF8, message: "invalid UTF-8 at byte 1", offset: 1)
        #expect(plain.description == "invalid_utf8 at byte 1: invalid UTF-8 at byte 1")
    }

    @Test(arguments: [
        (JSONReadError.Code.invalidJSON, "invalid_json"), (.invalidUTF8, "invalid_utf8"), (.duplicateKey, "duplicate_key"),
        (.tooDeep, "too_deep"), (.numberTooLong, "number_too_long"), (.empty, "empty_body"),
    ])
    func `error codes have stable raw values`(code: JSONReadError.Code, rawValue: String) {
        #expect(code.rawValue == rawValue)
    }
}

@Suite(.timeLimit(.minutes(2))) struct JSONValueModelTests {
    @Test func `literals build values with member order kept`() throws {
        let value: JSONValue = ["name": "web", "port": 8080, "tags": ["a", "b"], "on": true, "none": nil, "ratio": 0.5]
        let object = try #require(value.objectValue)
        #expect(object.keys == ["name", "port", "tags", "on", "none", "ratio"])
        #expect(object["name"] == .string("web"))
        #expect(object["port"]?.numberValue?.intValue == 8080)
        #expect(object["tags"] == .array([.string("a"), .string("b")]))
        #expect(object["on"]?.boolValue == true)
        #expect(object["none"]?.isNull == true)
        #expect(object["ratio"]?.numberValue?.literal == "0.5")
    }

    @Test(arguments: [
        (JSONValue.null, "null"), (.bool(false), "boolean"), (number("1"), "number"),
        (.string("x"), "string"), (.array([]), "array"), (.object(JSONObject()), "object"),
    ])
    func `typeName names the JSON type`(value: JSONValue, name: String) {
        #expect(value.typeName == name)
    }

    @Test func `accessors return nil for other types`() {
        let value: JSONValue = "text"
        #expect(value.stringValue == "text")
        #expect(value.objectValue == nil)
        #expect(value.arrayValue == nil)
        #expect(value.numberValue == nil)
        #expect(value.boolValue == nil)
        #expect(value.isNull == false)
        #expect(value["key"] == nil)
    }

    @Test func `object subscript appends, replaces in place and removes`() {
        var object: JSONObject = ["a": 1, "b": 2]
        object["c"] = 3
        object["a"] = "one"
        #expect(object.keys == ["a", "b", "c"])
        #expect(object["a"] == .string("one"))
        object["b"] = nil
        #expect(object.keys == ["a", "c"])
        #expect(object.count == 2)
        object["n"] = .null
        #expect(object["n"] == .null)
        #expect(object.removeValue(forKey: "a") == .string("one"))
        #expect(object.removeValue(forKey: "a") == nil)
        #expect(object.keys == ["c", "n"])
    }

    @Test func `large object lookups stay correct after removal`() {
        var object = JSONObject((0 ..< 20).map { ("k\($0)", JSONValue.number(JSONNumber($0))) })
        object["k3"] = nil
        #expect(object.count == 19)
        #expect(object["k19"]?.numberValue?.intValue == 19)
        #expect(object["k4"]?.numberValue?.intValue == 4)
        #expect(object["k3"] == nil)
        object["k3"] = 33
        #expect(object.keys.last == "k3")
        #expect(object["k3"]?.numberValue?.intValue == 33)
        for key in (0 ..< 12).map({ "k\($0)" }) {
            object[key] = nil
        }
        #expect(object.keys == (12 ..< 20).map { "k\($0)" })
        #expect(object["k15"]?.numberValue?.intValue == 15)
    }

    @Test func `object equality ignores member order but not values`() {
        let ab: JSONObject = ["a": 1, "b": 2]
        #expect(ab == ["b": 2, "a": 1])
        #expect(ab != ["a": 1, "b": 3])
        #expect(ab != ["a": 1])
        #expect(ab.map(\.key) == ["a", "b"])
    }

    @Test func `numbers compare by literal`() {
        #expect(number("80") != number("80.0"))
        #expect(JSONValue.number(JSONNumber(80)) == number("80"))
    }

    @Test(arguments: [
        ("80", true), ("-0", true), ("1e3", true), ("0.5", true), (" 80", false), ("80 ", false),
        ("080", false), ("", false), ("[1]", false), ("\"1\"", false), ("1e", false),
        (String(repeating: "1", count: 101), false),
    ])
    func `JSONNumber literal initializer accepts exactly one RFC 8259 number`(literal: String, valid: Bool) {
        let number = JSONNumber(literal: literal)
        #expect((number != nil) == valid)
        #expect(number.map(\.literal) == (valid ? literal : nil))
    }
}
