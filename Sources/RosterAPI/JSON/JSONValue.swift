/// A parsed JSON value (RFC 8259 §3): the tree that `JSONReader` produces and `JSONWriter` serializes.
///
/// Numbers keep their literal text (`JSONNumber`) and objects keep their member order (`JSONObject`),
/// so a value read and written again produces the same bytes apart from whitespace and escapes.
/// Equality compares numbers by literal text (`80` ≠ `80.0`) and objects as sets of members
/// (member order does not matter).
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(JSONNumber)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)
}

// MARK: - Accessors

extension JSONValue {
    /// The string, if this value is a string.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The object, if this value is an object.
    public var objectValue: JSONObject? {
        if case .object(let value) = self { return value }
        return nil
    }

    /// The elements, if this value is an array.
    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    /// The number, if this value is a number.
    public var numberValue: JSONNumber? {
        if case .number(let value) = self { return value }
        return nil
    }

    /// The Boolean, if this value is `true` or `false`.
    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// Whether this value is `null`.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The JSON type name for error messages: "null", "boolean", "number", "string", "array" or "object".
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    /// The member named `key` if this value is an object that has it; nil otherwise.
    public subscript(key: String) -> JSONValue? {
        objectValue?[key]
    }
}

extension JSONValue: CustomStringConvertible {
    /// The compact JSON text of this value, as `JSONWriter.string(_:)` writes it.
    public var description: String {
        JSONWriter.string(self)
    }
}

// MARK: - Literals

extension JSONValue: ExpressibleByNilLiteral {
    /// Creates `null`.
    public init(nilLiteral: ()) {
        self = .null
    }
}

extension JSONValue: ExpressibleByBooleanLiteral {
    public init(booleanLiteral value: Bool) {
        self = .bool(value)
    }
}

extension JSONValue: ExpressibleByIntegerLiteral {
    public init(integerLiteral value: Int) {
        self = .number(JSONNumber(value))
    }
}

extension JSONValue: ExpressibleByFloatLiteral {
    /// Creates a number from a finite floating-point literal, rendered as `JSONNumber(_: Double)` does.
    /// - Precondition: the literal is finite.
    public init(floatLiteral value: Double) {
        guard let number = JSONNumber(value) else {
            preconditionFailure("JSON cannot represent the non-finite number \(value)")
        }
        self = .number(number)
    }
}

extension JSONValue: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) {
        self = .string(value)
    }
}

extension JSONValue: ExpressibleByArrayLiteral {
    public init(arrayLiteral elements: JSONValue...) {
        self = .array(elements)
    }
}

extension JSONValue: ExpressibleByDictionaryLiteral {
    /// Creates an object whose members are in the order written.
    /// - Precondition: the keys are unique.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(JSONObject(elements))
    }
}

// MARK: - JSONNumber

/// A number kept as its literal text (RFC 8259 §6 grammar), so callers decide what they accept.
///
/// `80`, `80.0` and `8e1` are three different literals: only the first is an integer literal.
/// Equality compares the literal text.
public struct JSONNumber: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// The text exactly as in the input, for example "80", "-0", "80.0" or "1e3".
    public let literal: String

    /// Whether the literal has neither a fraction nor an exponent ("80" yes; "80.0" and "1e3" no).
    public let isIntegerLiteral: Bool

    /// The value of an integer literal that fits in `Int`; nil for any other literal.
    public var intValue: Int? {
        isIntegerLiteral ? Int(literal) : nil
    }

    /// The nearest `Double`; nil if the literal's magnitude overflows to infinity.
    /// Literals too small to represent become zero.
    public var doubleValue: Double? {
        guard let value = Double(literal), value.isFinite else { return nil }
        return value
    }

    public var description: String {
        literal
    }

    /// Creates the integer literal for `value`, for example "-42".
    public init(_ value: Int) {
        self.literal = String(value)
        self.isIntegerLiteral = true
    }

    /// Creates the shortest literal that reads back as `value`, without a trailing ".0" for whole numbers.
    ///
    /// `30.0` becomes "30", `0.5` becomes "0.5", `1e21` becomes "1e+21", `-0.0` becomes "-0".
    /// Returns nil for NaN and infinities, which JSON cannot represent.
    public init?(_ value: Double) {
        guard value.isFinite else { return nil }
        var text = value.description
        if text.hasSuffix(".0") {
            text.removeLast(2)
        }
        self.init(validatedLiteral: text)
    }

    /// Creates a number from literal text, or returns nil if `literal` is not exactly one
    /// RFC 8259 §6 number of at most `JSONReader.maxNumberLength` characters.
    public init?(literal: String) {
        guard case .number(let number)? = try? JSONReader.read(Array(literal.utf8), maxDepth: 0),
              number.literal == literal
        else { return nil }
        self = number
    }

    /// Creates a number from text already known to match the RFC 8259 §6 grammar.
    init(validatedLiteral literal: String) {
        self.literal = literal
        self.isIntegerLiteral = !literal.utf8.contains { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }
    }
}

// MARK: - JSONObject

/// An object whose keys are unique, in input order.
///
/// Keys compare as Swift strings do, that is by canonical equivalence: "é" (U+00E9) and
/// "e\u{301}" are the same key. Equality ignores member order.
/// - Complexity: lookup is O(1) on average (a linear scan up to 8 members, a hash index beyond).
public struct JSONObject: Sendable, Equatable, Sequence {
    public typealias Element = (key: String, value: JSONValue)

    /// Objects up to this many members are searched linearly; larger ones keep `index`.
    private static let linearSearchLimit = 8

    private var storage: [Element]
    /// Position of each key in `storage`; empty while `storage.count <= linearSearchLimit`.
    private var index: [String: Int]

    /// The members in order.
    public var members: [Element] {
        storage
    }

    /// The keys in order.
    public var keys: [String] {
        storage.map(\.key)
    }

    /// The number of members.
    public var count: Int {
        storage.count
    }

    public var isEmpty: Bool {
        storage.isEmpty
    }

    /// Creates an empty object.
    public init() {
        storage = []
        index = [:]
    }

    /// Creates an object with `members` in the order given.
    /// - Precondition: the keys are unique.
    public init(_ members: [(String, JSONValue)]) {
        self.init()
        storage.reserveCapacity(members.count)
        for (key, value) in members {
            precondition(position(of: key) == nil, "duplicate key \"\(key)\" in JSONObject")
            appendNew(key: key, value: value)
        }
    }

    /// The value for `key`. Setting a new key appends it; setting an existing key replaces its value
    /// in place; setting nil removes the key (O(n)). To store JSON `null`, assign `.null`.
    public subscript(key: String) -> JSONValue? {
        get {
            position(of: key).map { storage[$0].value }
        }
        set {
            if let position = position(of: key) {
                if let newValue {
                    storage[position].value = newValue
                } else {
                    storage.remove(at: position)
                    rebuildIndex()
                }
            } else if let newValue {
                appendNew(key: key, value: newValue)
            }
        }
    }

    /// Whether the object has a member named `key`.
    public func contains(key: String) -> Bool {
        position(of: key) != nil
    }

    /// Removes the member named `key` and returns its value, or nil if there was none.
    /// - Complexity: O(n).
    @discardableResult
    public mutating func removeValue(forKey key: String) -> JSONValue? {
        guard let position = position(of: key) else { return nil }
        let removed = storage.remove(at: position)
        rebuildIndex()
        return removed.value
    }

    public func makeIterator() -> IndexingIterator<[Element]> {
        storage.makeIterator()
    }

    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        guard lhs.count == rhs.count else { return false }
        for (key, value) in lhs.storage {
            guard let other = rhs[key], other == value else { return false }
        }
        return true
    }

    /// Appends a member whose key the caller has checked is not present.
    mutating func appendNew(key: String, value: JSONValue) {
        storage.append((key: key, value: value))
        if storage.count > Self.linearSearchLimit {
            if index.isEmpty {
                rebuildIndex()
            } else {
                index[key] = storage.count - 1
            }
        }
    }

    private func position(of key: String) -> Int? {
        if storage.count <= Self.linearSearchLimit {
            return storage.firstIndex { $0.key == key }
        }
        return index[key]
    }

    private mutating func rebuildIndex() {
        index.removeAll(keepingCapacity: true)
        guard storage.count > Self.linearSearchLimit else { return }
        index.reserveCapacity(storage.count)
        for (position, member) in storage.enumerated() {
            index[member.key] = position
        }
    }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
    /// Creates an object whose members are in the order written.
    /// - Precondition: the keys are unique.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(elements)
    }
}
