/// Serializes `JSONValue` as compact JSON text (RFC 8259): no whitespace, object members in their order.
///
/// Strings are escaped per RFC 8259 §7: `"` and `\` as `\"` and `\\`, control characters as
/// `\b \f \n \r \t` or lowercase `\u00XX`, and U+2028/U+2029 as `\u2028`/`\u2029` so the output is
/// also safe inside JavaScript source; everything else is raw UTF-8. Numbers are written as their
/// stored literal.
public enum JSONWriter {
    /// Appends the compact JSON text of `value` to `buffer`.
    /// - Complexity: O(n) in the size of the output; recursion depth equals the value's nesting depth.
    public static func write(_ value: JSONValue, into buffer: inout [UInt8]) {
        switch value {
        case .null:
            buffer.append(contentsOf: "null".utf8)
        case .bool(let flag):
            buffer.append(contentsOf: flag ? "true".utf8 : "false".utf8)
        case .number(let number):
            buffer.append(contentsOf: number.literal.utf8)
        case .string(let string):
            writeString(string, into: &buffer)
        case .array(let elements):
            buffer.append(UInt8(ascii: "["))
            for (position, element) in elements.enumerated() {
                if position > 0 {
                    buffer.append(UInt8(ascii: ","))
                }
                write(element, into: &buffer)
            }
            buffer.append(UInt8(ascii: "]"))
        case .object(let object):
            buffer.append(UInt8(ascii: "{"))
            for (position, member) in object.members.enumerated() {
                if position > 0 {
                    buffer.append(UInt8(ascii: ","))
                }
                writeString(member.key, into: &buffer)
                buffer.append(UInt8(ascii: ":"))
                write(member.value, into: &buffer)
            }
            buffer.append(UInt8(ascii: "}"))
        }
    }

    /// The compact JSON text of `value` as UTF-8 bytes.
    public static func bytes(_ value: JSONValue) -> [UInt8] {
        var buffer: [UInt8] = []
        write(value, into: &buffer)
        return buffer
    }

    /// The compact JSON text of `value`.
    public static func string(_ value: JSONValue) -> String {
        String(decoding: bytes(value), as: UTF8.self)
    }

    /// Appends `string` as a quoted, escaped JSON string (RFC 8259 §7).
    public static func writeString(_ string: String, into buffer: inout [UInt8]) {
        buffer.append(UInt8(ascii: "\""))
        var string = string
        string.withUTF8 { utf8 in
            appendEscaped(utf8, into: &buffer)
        }
        buffer.append(UInt8(ascii: "\""))
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    private static func appendEscaped(_ utf8: UnsafeBufferPointer<UInt8>, into buffer: inout [UInt8]) {
        var segmentStart = 0
        var index = 0
        while index < utf8.count {
            let byte = utf8[index]
            let escapeLength: Int
            if byte >= 0x20, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "\\"), byte != 0xE2 {
                index += 1
                continue
            } else if byte == 0xE2 {
                // U+2028 LINE SEPARATOR and U+2029 PARAGRAPH SEPARATOR are E2 80 A8 and E2 80 A9.
                guard index + 2 < utf8.count, utf8[index + 1] == 0x80,
                      utf8[index + 2] == 0xA8 || utf8[index + 2] == 0xA9
                else {
                    index += 1
                    continue
                }
                escapeLength = 3
            } else {
                escapeLength = 1
            }
            buffer.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[segmentStart ..< index]))
            switch byte {
            case UInt8(ascii: "\""): buffer.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): buffer.append(contentsOf: #"\\"#.utf8)
            case 0x08: buffer.append(contentsOf: #"\b"#.utf8)
            case 0x0C: buffer.append(contentsOf: #"\f"#.utf8)
            case 0x0A: buffer.append(contentsOf: #"\n"#.utf8)
            case 0x0D: buffer.append(contentsOf: #"\r"#.utf8)
            case 0x09: buffer.append(contentsOf: #"\t"#.utf8)
            case 0xE2: buffer.append(contentsOf: (utf8[index + 2] == 0xA8 ? #"\u2028"# : #"\u2029"#).utf8)
            default:
                buffer.append(contentsOf: #"\u00"#.utf8)
                buffer.append(hexDigits[Int(byte >> 4)])
                buffer.append(hexDigits[Int(byte & 0x0F)])
            }
            index += escapeLength
            segmentStart = index
        }
        buffer.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[segmentStart ..< index]))
    }
}
