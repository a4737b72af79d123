#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Why the text of one setting value could not be turned into a value.
///
/// The message says what was expected and quotes what was given, e.g.
/// `expected HOST:PORT, got "nonsense"`; it never names the key or the source, which the caller adds
/// (see `SettingsError`).
public struct SettingValueError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong with the value, for humans.
    public var message: String

    /// Creates an error with the given message.
    public init(_ message: String) {
        self.message = message
    }

    /// The message alone; `SettingsError` adds key and source.
    public var description: String { message }
}

/// The text syntax of setting values, shared by flags, environment variables and config files.
///
/// - Durations: a decimal number with an optional unit `ms`, `s`, `m` or `h` (`500ms`, `10s`, `1.5m`, `1h`);
///   no unit means seconds (`5`, `1.5`). Never negative; no exponents, `NaN` or `inf`.
/// - Byte sizes: a whole number with an optional unit: none or `B` (bytes), `KiB`/`MiB`/`GiB` (1024-based),
///   `KB`/`MB`/`GB` (1000-based), e.g. `8KiB`, `1MiB`, `1500`.
/// - Counts: a plain whole number.
///
/// Surrounding whitespace is ignored, and so is whitespace between a number and its unit (`8 KiB`).
public enum SettingValueSyntax {
    /// Parses a duration such as `500ms`, `10s`, `2m`, `1h`, `5` or `1.5` (seconds).
    ///
    /// Fractions finer than a nanosecond are truncated.
    /// - Throws: `SettingValueError` for empty text, a negative or malformed number, an unknown unit,
    ///   or a duration too large to represent (about 292 years).
    public static func parseDuration(_ text: String) throws(SettingValueError) -> Duration {
        let expected = "expected a duration such as 500ms, 10s, 2m, 1h or plain seconds"
        let (number, unit) = try splitNumberAndUnit(text, expected: expected)
        let unitNanoseconds: Int64
        switch unit {
        case "ms": unitNanoseconds = 1_000_000
        case "", "s": unitNanoseconds = 1_000_000_000
        case "m": unitNanoseconds = 60 * 1_000_000_000
        case "h": unitNanoseconds = 3_600 * 1_000_000_000
        default:
            throw SettingValueError("unknown duration unit \"\(unit)\" (use ms, s, m or h), got \(quoted(text))")
        }
        let parts = number.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy(isDigit) }) else {
            throw SettingValueError("\(expected), got \(quoted(text))")
        }
        let tooLarge = SettingValueError("duration is too large, got \(quoted(text))")
        guard let whole = Int64(parts[0]) else { throw tooLarge }
        let (wholeNanoseconds, overflow) = whole.multipliedReportingOverflow(by: unitNanoseconds)
        guard !overflow else { throw tooLarge }
        var fractionNanoseconds: Int64 = 0
        if parts.count == 2 {
            var scale = unitNanoseconds
            for digit in parts[1].utf8 {
                scale /= 10
                if scale == 0 { break }
                fractionNanoseconds += Int64(digit - UInt8(ascii: "0")) * scale
            }
        }
        let (total, sumOverflow) = wholeNanoseconds.addingReportingOverflow(fractionNanoseconds)
        guard !sumOverflow else { throw tooLarge }
        return .nanoseconds(total)
    }

    /// Parses a byte size such as `8KiB`, `1MiB`, `2MB` or `1500` (bytes) into a number of bytes.
    /// - Throws: `SettingValueError` for empty text, a negative, fractional or malformed number,
    ///   an unknown unit, or a size that does not fit in `Int`.
    public static func parseByteSize(_ text: String) throws(SettingValueError) -> Int {
        let expected = "expected a byte size such as 1500, 8KiB, 1MiB or 2MB"
        let (number, unit) = try splitNumberAndUnit(text, expected: expected)
        let multiplier: Int
        switch unit {
        case "", "B": multiplier = 1
        case "KiB": multiplier = 1 << 10
        case "MiB": multiplier = 1 << 20
        case "GiB": multiplier = 1 << 30
        case "KB": multiplier = 1_000
        case "MB": multiplier = 1_000_000
        case "GB": multiplier = 1_000_000_000
        default:
            throw SettingValueError(
                "unknown byte size unit \"\(unit)\" (use B, KiB, MiB, GiB, KB, MB or GB), got \(quoted(text))")
        }
        guard !number.contains(".") else {
            throw SettingValueError("byte size must be a whole number, got \(quoted(text))")
        }
        guard let value = Int(number) else {
            throw SettingValueError("byte size is too large, got \(quoted(text))")
        }
        let (bytes, overflow) = value.multipliedReportingOverflow(by: multiplier)
        guard !overflow else { throw SettingValueError("byte size is too large, got \(quoted(text))") }
        return bytes
    }

    /// Parses a count: a plain whole number such as `100`.
    /// - Throws: `SettingValueError` for empty text, a sign, a unit, a fraction, or a number that does
    ///   not fit in `Int`.
    public static func parseCount(_ text: String) throws(SettingValueError) -> Int {
        let trimmed = trimmingWhitespace(text)
        guard !trimmed.isEmpty, trimmed.utf8.allSatisfy(isDigit) else {
            if trimmed.hasPrefix("-") {
                throw SettingValueError("must not be negative, got \(quoted(text))")
            }
            throw SettingValueError("expected a whole number, got \(quoted(text))")
        }
        guard let value = Int(trimmed) else {
            throw SettingValueError("number is too large, got \(quoted(text))")
        }
        return value
    }

    /// Formats a duration in the largest unit that states it exactly: `24h`, `2m`, `75s`, `500ms`,
    /// or fractional seconds (`0.000001s`) as a last resort. A whole number of nanoseconds parses back unchanged.
    public static func formatDuration(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        if attoseconds == 0 {
            if seconds != 0, seconds % 3_600 == 0 { return "\(seconds / 3_600)h" }
            if seconds != 0, seconds % 60 == 0 { return "\(seconds / 60)m" }
            return "\(seconds)s"
        }
        let attosecondsPerMillisecond: Int64 = 1_000_000_000_000_000
        let (wholeMilliseconds, overflow) = seconds.multipliedReportingOverflow(by: 1_000)
        if attoseconds % attosecondsPerMillisecond == 0, !overflow {
            return "\(wholeMilliseconds + attoseconds / attosecondsPerMillisecond)ms"
        }
        var fraction = String(attoseconds.magnitude)
        fraction = String(repeating: "0", count: max(0, 18 - fraction.count)) + fraction
        while fraction.hasSuffix("0") { fraction.removeLast() }
        return "\(seconds).\(fraction)s"
    }

    /// Formats a byte count in the largest 1024-based unit that states it exactly: `1MiB`, `8KiB`,
    /// or plain bytes (`1500`). The result parses back to the same count.
    public static func formatByteSize(_ bytes: Int) -> String {
        guard bytes != 0 else { return "0" }
        if bytes % (1 << 30) == 0 { return "\(bytes >> 30)GiB" }
        if bytes % (1 << 20) == 0 { return "\(bytes >> 20)MiB" }
        if bytes % (1 << 10) == 0 { return "\(bytes >> 10)KiB" }
        return "\(bytes)"
    }

    /// Splits `text` into a run of digits and dots and the unit that follows it (whitespace between them
    /// allowed), rejecting empty and negative text with messages shared by durations and byte sizes.
    private static func splitNumberAndUnit(
        _ text: String, expected: String
    ) throws(SettingValueError) -> (number: Substring, unit: Substring) {
        let trimmed = trimmingWhitespace(text)
        if trimmed.hasPrefix("-") {
            throw SettingValueError("must not be negative, got \(quoted(text))")
        }
        let numberEnd = trimmed.utf8.firstIndex { !isDigit($0) && $0 != UInt8(ascii: ".") } ?? trimmed.endIndex
        let number = trimmed[..<numberEnd]
        guard !number.isEmpty else {
            throw SettingValueError("\(expected), got \(quoted(text))")
        }
        let unit = trimmingWhitespace(trimmed[numberEnd...])
        return (number, unit)
    }

    /// Whether `byte` is an ASCII decimal digit.
    public static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    /// `text` without leading and trailing spaces, tabs, carriage returns and newlines.
    public static func trimmingWhitespace<S: StringProtocol>(_ text: S) -> Substring where S.SubSequence == Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }
        guard let first = text.firstIndex(where: { !isSpace($0) }) else { return text[text.endIndex...] }
        let last = text.lastIndex(where: { !isSpace($0) })!
        return text[first...last]
    }

    /// `text` in double quotes, the way error messages show a value that was given.
    public static func quoted(_ text: some StringProtocol) -> String {
        "\"\(text)\""
    }

    /// A comma-separated list of absolute paths (`/healthz,/readyz`); empty text is an empty list.
    /// - Throws: `SettingValueError` for an item that is not `/` followed by visible ASCII without `?` or `#`.
    public static func parsePathList(_ text: String) throws(SettingValueError) -> [String] {
        let trimmed = trimmingWhitespace(text)
        guard !trimmed.isEmpty else { return [] }
        var paths: [String] = []
        for item in trimmed.split(separator: ",", omittingEmptySubsequences: false) {
            let path = String(trimmingWhitespace(item))
            guard path.hasPrefix("/"),
                  path.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "?") && $0 != UInt8(ascii: "#") })
            else {
                throw SettingValueError("expected paths like /healthz separated by commas, got \(quoted(path))")
            }
            if !paths.contains(path) { paths.append(path) }
        }
        return paths
    }
}
