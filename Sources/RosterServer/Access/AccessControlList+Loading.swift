import RosterSettings
import Yams

/// An ACL file that cannot be used: the path and what is wrong, with the line where YAML gives one.
public struct AccessControlFileError: Error, Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    /// `/etc/roster/acl.yaml: line 4: tokens[0] ("deployer"): sha256 must be 64 hex digits`.
    public var description: String { "\(path): \(message)" }
}

extension AccessControlList {
    /// Reads the ACL file at `path` (at most 1 MiB). Read once at startup: edits need a restart.
    /// - Throws: `AccessControlFileError` for a missing or unreadable file, malformed YAML, or any
    ///   entry that breaks the format (unknown key, bad hash, bad pattern, duplicate name or hash).
    public static func load(path: String) throws(AccessControlFileError) -> AccessControlList {
        let read: [UInt8]?
        do {
            read = try ConfigFile.readFile(atPath: path)
        } catch {
            throw AccessControlFileError(path: path, message: error.message)
        }
        guard let bytes = read else { throw AccessControlFileError(path: path, message: "no such file") }
        do {
            return try parse(yaml: bytes)
        } catch {
            throw AccessControlFileError(path: path, message: error.description)
        }
    }

    /// A problem in the file's contents.
    struct FormatError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String, at node: Node? = nil) {
            if let mark = node?.mark {
                self.description = "line \(mark.line): \(description)"
            } else {
                self.description = description
            }
        }
    }

    /// Parses the YAML text of an ACL file strictly.
    static func parse(yaml bytes: [UInt8]) throws(FormatError) -> AccessControlList {
        guard let text = String(validating: bytes, as: UTF8.self) else { throw FormatError("not valid UTF-8") }
        guard !text.utf8.contains(0) else { throw FormatError("contains a NUL byte") }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw FormatError("malformed YAML: \(String(describing: error).split(whereSeparator: \.isNewline).first ?? "")")
        }
        guard let root, case .mapping(let top) = root else {
            throw FormatError("the top level must be a mapping with a `tokens` list")
        }
        var tokensNode: Node?
        for (key, value) in top {
            guard let name = key.scalar?.string else { throw FormatError("keys must be plain text", at: key) }
            guard name == "tokens" else { throw FormatError("unknown key `\(printable(name))`; expected `tokens`", at: key) }
            tokensNode = value
        }
        guard let tokensNode else { throw FormatError("missing `tokens`") }
        guard case .sequence(let entries) = tokensNode else {
            throw FormatError("`tokens` must be a list", at: tokensNode)
        }
        guard !entries.isEmpty else {
            throw FormatError("`tokens` is empty: with access control on, no request would be allowed", at: tokensNode)
        }
        var tokens: [Token] = []
        var names: Set<String> = []
        var digests: Set<[UInt8]> = []
        for (index, entry) in entries.enumerated() {
            let token = try parseToken(entry, index: index)
            guard names.insert(token.name).inserted else {
                throw FormatError("tokens[\(index)]: the name \"\(token.name)\" is used twice", at: entry)
            }
            guard digests.insert(token.sha256).inserted else {
                throw FormatError("tokens[\(index)] (\"\(token.name)\"): the same sha256 as another token", at: entry)
            }
            tokens.append(token)
        }
        return AccessControlList(tokens: tokens)
    }

    private static func parseToken(_ entry: Node, index: Int) throws(FormatError) -> Token {
        guard case .mapping(let mapping) = entry else {
            throw FormatError("tokens[\(index)] must be a mapping with name, sha256 and read, write or admin", at: entry)
        }
        var fields: [String: Node] = [:]
        for (key, value) in mapping {
            guard let name = key.scalar?.string else { throw FormatError("tokens[\(index)]: keys must be plain text", at: key) }
            guard ["name", "sha256", "read", "write", "admin"].contains(name) else {
                throw FormatError("tokens[\(index)]: unknown key `\(printable(name))`; expected name, sha256, read, write, admin", at: key)
            }
            fields[name] = value
        }
        guard let nameNode = fields["name"] else { throw FormatError("tokens[\(index)]: missing `name`", at: entry) }
        guard let name = scalarText(nameNode), !name.isEmpty, name.utf8.count <= 64,
              name.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7F })
        else {
            throw FormatError("tokens[\(index)]: name must be 1-64 visible characters without spaces", at: nameNode)
        }
        let label = "tokens[\(index)] (\"\(name)\")"
        guard let hashNode = fields["sha256"] else { throw FormatError("\(label): missing `sha256`", at: entry) }
        guard let hashText = scalarText(hashNode), let digest = AccessToken.digest(fromHex: hashText) else {
            throw FormatError("\(label): sha256 must be 64 hex digits (the second line of `roster acl token`)", at: hashNode)
        }
        let read = try patterns(fields["read"], key: "read", label: label)
        let write = try patterns(fields["write"], key: "write", label: label)
        var admin = false
        if let adminNode = fields["admin"] {
            switch adminNode.scalar.map({ $0.style == .plain ? $0.string : "" }) {
            case "true": admin = true
            case "false": admin = false
            default: throw FormatError("\(label): admin must be true or false", at: adminNode)
            }
        }
        if admin && (fields["read"] != nil || fields["write"] != nil) {
            throw FormatError("\(label): admin: true allows everything; leave out read and write", at: entry)
        }
        if !admin && read.isEmpty && write.isEmpty {
            throw FormatError("\(label): grants nothing; give it read, write or admin: true", at: entry)
        }
        return Token(name: name, sha256: digest, read: read, write: write, admin: admin)
    }

    private static func patterns(_ node: Node?, key: String, label: String) throws(FormatError) -> ServicePatterns {
        guard let node else { return .nothing }
        guard case .sequence(let items) = node else {
            throw FormatError("\(label): \(key) must be a list of service names or prefixes ending in *, e.g. [\"web*\", \"api\"]", at: node)
        }
        var patterns: [ServicePattern] = []
        for item in items {
            guard let text = scalarText(item), let pattern = ServicePattern(parsing: text) else {
                let shown = scalarText(item).map { "\"\(printable($0))\"" } ?? "a non-text item"
                throw FormatError(
                    "\(label): \(key) has \(shown); a pattern is a service name (letters, digits, '.', '_', '-') or a prefix followed by *",
                    at: item)
            }
            patterns.append(pattern)
        }
        return ServicePatterns(patterns)
    }

    /// The text of a scalar (plain or quoted), or nil for a list, mapping or alias.
    private static func scalarText(_ node: Node) -> String? {
        guard case .scalar(let scalar) = node else { return nil }
        return scalar.string
    }

    /// `text` clipped to 40 characters with control characters escaped, for error messages.
    static func printable(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars.prefix(40) {
            out += scalar.value < 0x20 || scalar.value == 0x7F ? scalar.escaped(asASCII: true) : String(scalar)
        }
        return text.unicodeScalars.count > 40 ? out + "…" : out
    }
}
