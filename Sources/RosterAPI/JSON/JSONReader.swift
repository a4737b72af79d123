/// Why a JSON text was rejected: a stable `code`, a sentence for humans, and where.
///
/// `description` reads like `invalid_json at byte 6: unexpected character 'x' at byte 6, expected ',' or '}'`.
public struct JSONReadError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A stable identifier, safe for metrics and problem details.
    public enum Code: String, Sendable {
        /// The text breaks the RFC 8259 grammar (including lone surrogate escapes and trailing bytes).
        case invalidJSON = "invalid_json"
        /// A byte sequence is not well-formed UTF-8 (RFC 8259 §8.1, RFC 3629 §4).
        case invalidUTF8 = "invalid_utf8"
        /// An object has the same key twice, compared after unescaping.
        case duplicateKey = "duplicate_key"
        /// Arrays and objects nest deeper than the reader's `maxDepth`.
        case tooDeep = "too_deep"
        /// A number literal is longer than `JSONReader.maxNumberLength` characters.
        case numberTooLong = "number_too_long"
        /// The input is empty or only whitespace.
        case empty = "empty_body"
    }

    public var code: Code
    /// A sentence naming what is wrong, for example `duplicate key "port"` or `invalid UTF-8 at byte 17`.
    public var message: String
    /// The byte offset in the input where the problem was found, counted from 0.
    public var offset: Int
    /// Where the problem is, from the root: "" for the root, "port", "metadata.version", "items[3].name".
    ///
    /// Set for `duplicateKey` (the path of the duplicate key itself) and `tooDeep` (the path of the
    /// array or object that crossed the limit); nil otherwise. Keys that are not made only of ASCII
    /// letters, digits, `_` and `-` are written as `["key"]` with JSON string escapes.
    public var path: String?

    public init(code: Code, message: String, offset: Int, path: String? = nil) {
        self.code = code
        self.message = message
        self.offset = offset
        self.path = path
    }

    public var description: String {
        var text = "\(code.rawValue) at byte \(offset)"
        if let path {
            text += ", path \"\(path)\""
        }
        return text + ": " + message
    }
}

/// A strict, depth-limited JSON reader (RFC 8259) for untrusted input.
///
/// Unlike Foundation's `JSONDecoder` it rejects duplicate keys, keeps numbers as literal text, checks
/// UTF-8 byte by byte, and never recurses: nesting is tracked on an explicit stack that is checked
/// before it grows, so 100,000 `[` fail with `tooDeep` at the first one past `maxDepth`.
/// - Complexity: O(n) in the input length.
public struct JSONReader {
    /// The default limit on nesting: the root value is depth 1.
    public static let defaultMaxDepth = 32

    /// The longest number literal accepted, in characters.
    public static let maxNumberLength = 100

    /// Parses exactly one JSON text (RFC 8259 §2): optional whitespace, one value, optional whitespace, end.
    ///
    /// An array or object at depth greater than `maxDepth` is rejected (the root is depth 1; scalars
    /// do not count). Raw strings must be well-formed UTF-8 without unescaped control characters;
    /// the escape `\u0000` is accepted and left for callers to validate.
    /// - Throws: `JSONReadError` with the code, byte offset and, for duplicate keys and nesting, the path.
    public static func read(_ bytes: [UInt8], maxDepth: Int = defaultMaxDepth) throws(JSONReadError) -> JSONValue {
        try bytes.withUnsafeBufferPointer { (buffer) throws(JSONReadError) -> JSONValue in
            try read(buffer, maxDepth: maxDepth)
        }
    }

    /// Parses exactly one JSON text from any collection of bytes; offsets count from its first byte.
    /// - Throws: `JSONReadError`, as `read(_: [UInt8], maxDepth:)`.
    public static func read(_ bytes: some Collection<UInt8>, maxDepth: Int = defaultMaxDepth) throws(JSONReadError) -> JSONValue {
        let result = bytes.withContiguousStorageIfAvailable { buffer in
            Result { () throws(JSONReadError) -> JSONValue in try read(buffer, maxDepth: maxDepth) }
        }
        if let result {
            return try result.get()
        }
        return try read(Array(bytes), maxDepth: maxDepth)
    }

    /// Parses exactly one JSON text from the UTF-8 of `text`.
    /// - Throws: `JSONReadError`, as `read(_: [UInt8], maxDepth:)`.
    public static func read(_ text: String, maxDepth: Int = defaultMaxDepth) throws(JSONReadError) -> JSONValue {
        try read(text.utf8, maxDepth: maxDepth)
    }

    /// Parses exactly one JSON text from memory the caller keeps valid for the call.
    /// - Throws: `JSONReadError`, as `read(_: [UInt8], maxDepth:)`.
    public static func read(_ buffer: UnsafeBufferPointer<UInt8>, maxDepth: Int = defaultMaxDepth) throws(JSONReadError) -> JSONValue {
        var parser = Parser(input: buffer, maxDepth: maxDepth)
        return try parser.parseDocument()
    }
}

// MARK: - Parser

private extension UInt8 {
    static let space = UInt8(ascii: " ")
    static let tab = UInt8(ascii: "\t")
    static let lineFeed = UInt8(ascii: "\n")
    static let carriageReturn = UInt8(ascii: "\r")
    static let quote = UInt8(ascii: "\"")
    static let backslash = UInt8(ascii: "\\")
    static let slash = UInt8(ascii: "/")
    static let comma = UInt8(ascii: ",")
    static let colon = UInt8(ascii: ":")
    static let leftBracket = UInt8(ascii: "[")
    static let rightBracket = UInt8(ascii: "]")
    static let leftBrace = UInt8(ascii: "{")
    static let rightBrace = UInt8(ascii: "}")
    static let minus = UInt8(ascii: "-")
    static let plus = UInt8(ascii: "+")
    static let dot = UInt8(ascii: ".")
    static let zero = UInt8(ascii: "0")
    static let nine = UInt8(ascii: "9")

    var isDigit: Bool { self >= .zero && self <= .nine }
}

/// One open array or object on the parser's stack.
private struct Frame {
    var isObject: Bool
    var array: [JSONValue] = []
    var object = JSONObject()
    /// The key of the member being parsed (objects only).
    var key = ""
}

/// The iterative parser. Nesting lives in `stack`, never in the call stack.
private struct Parser {
    let input: UnsafeBufferPointer<UInt8>
    let maxDepth: Int
    var position = 0
    var stack: [Frame] = []
    /// Reused buffer for strings that contain escapes.
    var scratch: [UInt8] = []

    init(input: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
        self.input = input
        self.maxDepth = maxDepth
        stack.reserveCapacity(min(max(maxDepth, 0), 64))
    }

    mutating func parseDocument() throws(JSONReadError) -> JSONValue {
        skipWhitespace()
        guard position < input.count else {
            throw JSONReadError(code: .empty, message: "empty body: expected a JSON value", offset: position)
        }
        var value: JSONValue
        parsing: while true {
            // At the first byte of a value, whitespace already skipped.
            guard position < input.count else { throw unexpectedEnd(expected: "a value") }
            switch input[position] {
            case .leftBracket:
                try checkDepth()
                position += 1
                skipWhitespace()
                if position < input.count, input[position] == .rightBracket {
                    position += 1
                    value = .array([])
                } else {
                    stack.append(Frame(isObject: false))
                    continue parsing
                }
            case .leftBrace:
                try checkDepth()
                position += 1
                skipWhitespace()
                if position < input.count, input[position] == .rightBrace {
                    position += 1
                    value = .object(JSONObject())
                } else {
                    stack.append(Frame(isObject: true))
                    try parseKeyAndColon(expected: "'\"' or '}'")
                    continue parsing
                }
            case .quote:
                value = .string(try parseString())
            case .minus, .zero ... .nine:
                value = .number(try parseNumber())
            case UInt8(ascii: "t"):
                try parseLiteral("true")
                value = .bool(true)
            case UInt8(ascii: "f"):
                try parseLiteral("false")
                value = .bool(false)
            case UInt8(ascii: "n"):
                try parseLiteral("null")
                value = .null
            default:
                throw unexpected(expected: "a value")
            }

            // A value is complete: add it to its container and close every container that ends here.
            while true {
                let top = stack.count - 1
                guard top >= 0 else {
                    skipWhitespace()
                    guard position == input.count else { throw unexpected(expected: nil) }
                    return value
                }
                skipWhitespace()
                if stack[top].isObject {
                    stack[top].object.appendNew(key: stack[top].key, value: value)
                    guard position < input.count else { throw unexpectedEnd(expected: "',' or '}'") }
                    switch input[position] {
                    case .comma:
                        position += 1
                        skipWhitespace()
                        try parseKeyAndColon(expected: "'\"' to begin a key")
                        continue parsing
                    case .rightBrace:
                        position += 1
                        value = .object(stack.removeLast().object)
                    default:
                        throw unexpected(expected: "',' or '}'")
                    }
                } else {
                    stack[top].array.append(value)
                    guard position < input.count else { throw unexpectedEnd(expected: "',' or ']'") }
                    switch input[position] {
                    case .comma:
                        position += 1
                        skipWhitespace()
                        continue parsing
                    case .rightBracket:
                        position += 1
                        value = .array(stack.removeLast().array)
                    default:
                        throw unexpected(expected: "',' or ']'")
                    }
                }
            }
        }
    }

    // MARK: Structure

    /// RFC 8259 §2: whitespace is only space, tab, line feed and carriage return.
    mutating func skipWhitespace() {
        while position < input.count {
            switch input[position] {
            case .space, .tab, .lineFeed, .carriageReturn: position += 1
            default: return
            }
        }
    }

    /// Rejects an array or object about to open at `position` if it would be deeper than `maxDepth`.
    func checkDepth() throws(JSONReadError) {
        guard stack.count + 1 > maxDepth else { return }
        throw JSONReadError(
            code: .tooDeep,
            message: "nesting deeper than \(maxDepth) levels",
            offset: position,
            path: currentPath()
        )
    }

    /// Parses `"key"` `:` for the object on top of the stack and leaves `position` at the value.
    mutating func parseKeyAndColon(expected: String) throws(JSONReadError) {
        guard position < input.count else { throw unexpectedEnd(expected: expected) }
        guard input[position] == .quote else { throw unexpected(expected: expected) }
        let keyOffset = position
        let key = try parseString()
        let top = stack.count - 1
        stack[top].key = key
        if stack[top].object.contains(key: key) {
            var parentPath = ""
            for frame in stack.dropLast() {
                Self.appendComponent(of: frame, to: &parentPath)
            }
            throw JSONReadError(
                code: .duplicateKey,
                message: "duplicate key \(Self.quotedForMessage(key))" + (parentPath.isEmpty ? "" : " in object at \(parentPath)"),
                offset: keyOffset,
                path: currentPath()
            )
        }
        skipWhitespace()
        guard position < input.count else { throw unexpectedEnd(expected: "':'") }
        guard input[position] == .colon else { throw unexpected(expected: "':'") }
        position += 1
        skipWhitespace()
    }

    /// Matches `true`, `false` or `null` at `position`.
    mutating func parseLiteral(_ literal: StaticString) throws(JSONReadError) {
        let expected = "'\(literal)'"
        let bytes = UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
        for byte in bytes {
            guard position < input.count else { throw unexpectedEnd(expected: expected) }
            guard input[position] == byte else { throw unexpected(expected: expected) }
            position += 1
        }
    }

    // MARK: Numbers

    /// Parses an RFC 8259 §6 number: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    mutating func parseNumber() throws(JSONReadError) -> JSONNumber {
        let start = position
        if input[position] == .minus {
            position += 1
        }
        try expectDigit(after: "'-'")
        if input[position] == .zero {
            position += 1
            if position < input.count, input[position].isDigit {
                throw unexpected(expected: nil, detail: "a number must not have leading zeros")
            }
        } else {
            skipDigits()
        }
        if position < input.count, input[position] == .dot {
            position += 1
            try expectDigit(after: "'.'")
            skipDigits()
        }
        if position < input.count, input[position] | 0x20 == UInt8(ascii: "e") {
            position += 1
            if position < input.count, input[position] == .plus || input[position] == .minus {
                position += 1
            }
            try expectDigit(after: "the exponent marker")
            skipDigits()
        }
        let length = position - start
        guard length <= JSONReader.maxNumberLength else {
            throw JSONReadError(
                code: .numberTooLong,
                message: "number at byte \(start) is \(length) characters long, longer than \(JSONReader.maxNumberLength)",
                offset: start
            )
        }
        let literal = String(decoding: UnsafeBufferPointer(rebasing: input[start ..< position]), as: UTF8.self)
        return JSONNumber(validatedLiteral: literal)
    }

    func expectDigit(after what: String) throws(JSONReadError) {
        guard position < input.count else { throw unexpectedEnd(expected: "a digit after \(what)") }
        guard input[position].isDigit else { throw unexpected(expected: "a digit after \(what)") }
    }

    mutating func skipDigits() {
        while position < input.count, input[position].isDigit {
            position += 1
        }
    }

    // MARK: Strings

    /// Parses a string starting at the `"` at `position` (RFC 8259 §7) and leaves `position` after the closing `"`.
    mutating func parseString() throws(JSONReadError) -> String {
        let start = position
        var index = position + 1
        var segmentStart = index
        var escaped = false
        while index < input.count {
            let byte = input[index]
            if byte == .quote {
                let segment = UnsafeBufferPointer(rebasing: input[segmentStart ..< index])
                position = index + 1
                if escaped {
                    scratch.append(contentsOf: segment)
                    return String(decoding: scratch, as: UTF8.self)
                }
                return String(decoding: segment, as: UTF8.self)
            } else if byte == .backslash {
                if !escaped {
                    escaped = true
                    scratch.removeAll(keepingCapacity: true)
                }
                scratch.append(contentsOf: UnsafeBufferPointer(rebasing: input[segmentStart ..< index]))
                index = try parseEscape(at: index)
                segmentStart = index
            } else if byte < 0x20 {
                throw JSONReadError(
                    code: .invalidJSON,
                    message: "unescaped control character \(Self.scalarName(UInt32(byte))) in string at byte \(index)",
                    offset: index
                )
            } else if byte < 0x80 {
                index += 1
            } else {
                index = try validateUTF8Sequence(at: index)
            }
        }
        throw JSONReadError(
            code: .invalidJSON,
            message: "unexpected end of input at byte \(input.count) inside the string that starts at byte \(start)",
            offset: input.count
        )
    }

    /// Decodes the escape whose backslash is at `index` into `scratch`; returns the index after it.
    mutating func parseEscape(at index: Int) throws(JSONReadError) -> Int {
        guard index + 1 < input.count else {
            throw JSONReadError(
                code: .invalidJSON,
                message: "unexpected end of input at byte \(input.count) inside an escape sequence",
                offset: input.count
            )
        }
        let simple: UInt8
        switch input[index + 1] {
        case .quote: simple = .quote
        case .backslash: simple = .backslash
        case .slash: simple = .slash
        case UInt8(ascii: "b"): simple = 0x08
        case UInt8(ascii: "f"): simple = 0x0C
        case UInt8(ascii: "n"): simple = .lineFeed
        case UInt8(ascii: "r"): simple = .carriageReturn
        case UInt8(ascii: "t"): simple = .tab
        case UInt8(ascii: "u"):
            return try parseUnicodeEscape(at: index)
        default:
            let character = try describeByte(at: index + 1)
            throw JSONReadError(
                code: .invalidJSON,
                message: "invalid escape '\\' followed by \(character) at byte \(index)",
                offset: index
            )
        }
        scratch.append(simple)
        return index + 2
    }

    /// Decodes `\uXXXX`, or a `\uD8xx\uDCxx` surrogate pair, at `index` into `scratch`.
    mutating func parseUnicodeEscape(at index: Int) throws(JSONReadError) -> Int {
        let unit = try hexQuad(at: index)
        var scalar = unit
        var end = index + 6
        switch unit {
        case 0xD800 ... 0xDBFF:
            let hasLowEscape = index + 7 < input.count && input[index + 6] == .backslash && input[index + 7] == UInt8(ascii: "u")
            let low = try hasLowEscape ? hexQuad(at: index + 6) : 0
            guard (0xDC00 ... 0xDFFF).contains(low) else {
                throw JSONReadError(
                    code: .invalidJSON,
                    message: "high surrogate \(Self.escapeText(unit)) at byte \(index) is not followed by a low surrogate escape",
                    offset: index
                )
            }
            scalar = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
            end = index + 12
        case 0xDC00 ... 0xDFFF:
            throw JSONReadError(
                code: .invalidJSON,
                message: "low surrogate \(Self.escapeText(unit)) at byte \(index) is not preceded by a high surrogate escape",
                offset: index
            )
        default:
            break
        }
        // `scalar` is now a Unicode scalar value (not a surrogate, at most U+10FFFF).
        switch scalar {
        case 0 ..< 0x80:
            scratch.append(UInt8(scalar))
        case 0x80 ..< 0x800:
            scratch.append(UInt8(0xC0 | (scalar >> 6)))
            scratch.append(UInt8(0x80 | (scalar & 0x3F)))
        case 0x800 ..< 0x10000:
            scratch.append(UInt8(0xE0 | (scalar >> 12)))
            scratch.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
            scratch.append(UInt8(0x80 | (scalar & 0x3F)))
        default:
            scratch.append(UInt8(0xF0 | (scalar >> 18)))
            scratch.append(UInt8(0x80 | ((scalar >> 12) & 0x3F)))
            scratch.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
            scratch.append(UInt8(0x80 | (scalar & 0x3F)))
        }
        return end
    }

    /// Reads the four hex digits of the `\u` escape whose backslash is at `index`.
    func hexQuad(at index: Int) throws(JSONReadError) -> UInt32 {
        var value: UInt32 = 0
        for offset in 2 ..< 6 {
            let digit: UInt8
            if index + offset < input.count {
                let byte = input[index + offset]
                switch byte {
                case UInt8(ascii: "0") ... UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a") ... UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A") ... UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: digit = 0xFF
                }
            } else {
                digit = 0xFF
            }
            guard digit != 0xFF else {
                throw JSONReadError(
                    code: .invalidJSON,
                    message: "invalid \\u escape at byte \(index): expected 4 hex digits",
                    offset: index
                )
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    // MARK: UTF-8

    /// Checks the multi-byte UTF-8 sequence whose lead byte is at `index` (RFC 3629 §4, Unicode Table 3-7)
    /// and returns the index after it.
    func validateUTF8Sequence(at index: Int) throws(JSONReadError) -> Int {
        guard let length = Self.wellFormedUTF8Length(in: input, at: index) else {
            throw JSONReadError(code: .invalidUTF8, message: "invalid UTF-8 at byte \(index)", offset: index)
        }
        return index + length
    }

    /// The length of the well-formed UTF-8 sequence at `index`, or nil if it is ill-formed or truncated.
    /// Rejects overlong forms, encoded surrogates, scalars above U+10FFFF and the bytes C0, C1, F5–FF.
    static func wellFormedUTF8Length(in input: UnsafeBufferPointer<UInt8>, at index: Int) -> Int? {
        let lead = input[index]
        let length: Int
        var secondRange: ClosedRange<UInt8> = 0x80 ... 0xBF
        switch lead {
        case 0x00 ... 0x7F: return 1
        case 0xC2 ... 0xDF: length = 2
        case 0xE0: length = 3; secondRange = 0xA0 ... 0xBF
        case 0xE1 ... 0xEC, 0xEE ... 0xEF: length = 3
        case 0xED: length = 3; secondRange = 0x80 ... 0x9F
        case 0xF0: length = 4; secondRange = 0x90 ... 0xBF
        case 0xF1 ... 0xF3: length = 4
        case 0xF4: length = 4; secondRange = 0x80 ... 0x8F
        default: return nil
        }
        guard index + length <= input.count, secondRange.contains(input[index + 1]) else { return nil }
        for continuation in index + 2 ..< index + length {
            guard input[continuation] & 0xC0 == 0x80 else { return nil }
        }
        return length
    }

    // MARK: Errors

    /// An error for the unexpected byte at `position`; `invalidUTF8` if that byte starts ill-formed UTF-8.
    func unexpected(expected: String?, detail: String? = nil) -> JSONReadError {
        let character: String
        do {
            character = try describeByte(at: position)
        } catch {
            return error
        }
        var message = "unexpected \(character) at byte \(position)"
        if let expected {
            message += ", expected \(expected)"
        } else if let detail {
            message += ", \(detail)"
        } else if stack.isEmpty {
            message += " after the JSON value"
        }
        return JSONReadError(code: .invalidJSON, message: message, offset: position)
    }

    func unexpectedEnd(expected: String) -> JSONReadError {
        JSONReadError(
            code: .invalidJSON,
            message: "unexpected end of input at byte \(position), expected \(expected)",
            offset: position
        )
    }

    /// Names the character at `index` for a message: `character 'x'`, `character 'é' (U+00E9)`,
    /// `control character U+0001`.
    /// - Throws: `invalidUTF8` if the byte starts an ill-formed UTF-8 sequence.
    func describeByte(at index: Int) throws(JSONReadError) -> String {
        let byte = input[index]
        if byte < 0x20 || byte == 0x7F {
            return "control character \(Self.scalarName(UInt32(byte)))"
        }
        if byte < 0x80 {
            return "character '\(Character(Unicode.Scalar(byte)))'"
        }
        let end = try validateUTF8Sequence(at: index)
        let text = String(decoding: UnsafeBufferPointer(rebasing: input[index ..< end]), as: UTF8.self)
        let scalar = text.unicodeScalars.first!.value
        return "character '\(text)' (\(Self.scalarName(scalar)))"
    }

    /// The path of the value being parsed: each open container's current key or index.
    func currentPath() -> String {
        var path = ""
        for frame in stack {
            Self.appendComponent(of: frame, to: &path)
        }
        return path
    }

    static func appendComponent(of frame: Frame, to path: inout String) {
        if !frame.isObject {
            path += "[\(frame.array.count)]"
            return
        }
        let isPlain = !frame.key.isEmpty && frame.key.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a") ... UInt8(ascii: "z"), UInt8(ascii: "A") ... UInt8(ascii: "Z"),
                 UInt8(ascii: "0") ... UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
                true
            default:
                false
            }
        }
        if isPlain {
            if !path.isEmpty {
                path += "."
            }
            path += frame.key
        } else {
            path += "[" + JSONWriter.string(.string(frame.key)) + "]"
        }
    }

    /// A key as a JSON string for a message, shortened to 64 characters.
    static func quotedForMessage(_ key: String) -> String {
        let limit = 64
        guard key.count > limit else { return JSONWriter.string(.string(key)) }
        return JSONWriter.string(.string(String(key.prefix(limit)))).dropLast() + "…\""
    }

    /// "U+0041" style name of a scalar value.
    static func scalarName(_ value: UInt32) -> String {
        let hex = String(value, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }

    /// "\uD83D" style text of a UTF-16 code unit.
    static func escapeText(_ unit: UInt32) -> String {
        "\\u" + String(unit, radix: 16, uppercase: true)
    }
}
