#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Configuration
import Foundation
import RosterAPI

/// Where a setting's effective value came from.
public enum SettingSource: Sendable, Equatable, CustomStringConvertible {
    /// A command-line flag, with its dashes: `--listen`.
    case flag(String)
    /// An environment variable: `ROSTER_LISTEN`.
    case environment(String)
    /// The config file at this path, as it was given.
    case file(String)
    /// No source set the key, so its documented default applies.
    case defaultValue
    /// The program set the value itself (a client given addresses in code).
    case explicit

    /// `flag --listen`, `environment variable ROSTER_LISTEN`, `config file /etc/roster.yaml` or `default`.
    public var description: String {
        switch self {
        case .flag(let name): "flag \(name)"
        case .environment(let name): "environment variable \(name)"
        case .file(let path): "config file \(path)"
        case .defaultValue: "default"
        case .explicit: "set in code"
        }
    }
}

/// A setting that could not be loaded: which key, from which source, and what is wrong.
///
/// Problems with the config file itself (missing, unreadable, malformed, unsupported extension) use
/// the key `config`; their source is the flag or variable that named the file, or, for its contents,
/// the file.
public struct SettingsError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The setting key (`listen`, `http.max_body`), or `config` for the config file itself.
    public var key: String
    /// Where the offending value came from.
    public var source: SettingSource
    /// What is wrong, quoting the value: `expected HOST:PORT, got "nonsense"`.
    public var message: String

    /// Creates an error about `key` from `source`.
    public init(key: String, source: SettingSource, message: String) {
        self.key = key
        self.source = source
        self.message = message
    }

    /// One line naming key and source, e.g.
    /// ``invalid value for `listen` from environment variable ROSTER_LISTEN: expected HOST:PORT, got "nonsense"``.
    public var description: String {
        "invalid value for `\(key)` from \(source): \(message)"
    }
}

/// One setting key and its names in every source, derived by one naming rule.
///
/// Key `http.max_body` ⇄ flag `--http-max-body` ⇄ environment variable `ROSTER_HTTP_MAX_BODY` ⇄
/// YAML `http: {max_body: 2MiB}` ⇄ JSON `{"http": {"max_body": "2MiB"}}`.
public struct SettingKey: Sendable, Hashable {
    /// Dotted snake_case key, whose dots are the nesting levels of a config file: `http.max_body`.
    public var name: String
    /// The command-line flag: `--http-max-body`.
    public var flag: String
    /// The environment variable: `ROSTER_HTTP_MAX_BODY`.
    public var environmentVariable: String
    /// One sentence for `--help` and the README.
    public var summary: String
    /// The default in setting syntax: `1MiB`, `30s`, `127.0.0.1:8700`.
    public var defaultDescription: String

    /// Creates a key whose flag and environment variable are derived from `name`, unless
    /// `environmentVariable` names another variable (the client's `registry` is read from `ROSTER_ADDR`).
    public init(name: String, summary: String, defaultDescription: String, environmentVariable: String? = nil) {
        self.name = name
        self.flag = Self.flag(forName: name)
        self.environmentVariable = environmentVariable ?? Self.environmentVariable(forName: name)
        self.summary = summary
        self.defaultDescription = defaultDescription
    }

    /// The flag for a key: `--` and the key with dots and underscores as dashes (`--sweep-interval`).
    public static func flag(forName name: String) -> String {
        "--" + name.replacing(".", with: "-").replacing("_", with: "-")
    }

    /// The environment variable for a key: `ROSTER_` and the key upper-cased with dots as underscores
    /// (`ROSTER_HTTP_MAX_BODY`).
    public static func environmentVariable(forName name: String) -> String {
        "ROSTER_" + name.replacing(".", with: "_").uppercased()
    }
}

/// How one key is parsed into `Settings` and formatted back.
public struct SettingDefinition<Settings: Sendable>: Sendable {
    /// The key and its names.
    public var key: SettingKey
    /// Whether a config file may give a list (`registry: [a, b]`), read as its items joined with commas.
    public var acceptsList: Bool
    /// Parses text and stores it; throws without storing if the text is not a valid value.
    public var apply: @Sendable (inout Settings, String) throws(SettingValueError) -> Void
    /// The current value in setting syntax.
    public var format: @Sendable (Settings) -> String

    /// Creates a definition whose documented default is `format(defaults)`.
    public init(
        _ name: String,
        _ summary: String,
        defaults: Settings,
        environmentVariable: String? = nil,
        acceptsList: Bool = false,
        apply: @escaping @Sendable (inout Settings, String) throws(SettingValueError) -> Void,
        format: @escaping @Sendable (Settings) -> String
    ) {
        self.key = SettingKey(
            name: name, summary: summary, defaultDescription: format(defaults), environmentVariable: environmentVariable)
        self.acceptsList = acceptsList
        self.apply = apply
        self.format = format
    }
}

/// A config file to read, and the flag, variable or search that named it.
public struct ConfigFileLocation: Sendable, Equatable {
    /// The path as it was given.
    public var path: String
    /// What named the file (`flag --config`, `environment variable ROSTER_CONFIG`, or the file itself when found
    /// by searching default locations).
    public var source: SettingSource

    public init(path: String, source: SettingSource) {
        self.path = path
        self.source = source
    }

    /// The flag naming the config file, for server and client alike.
    public static let flag = "--config"
    /// The environment variable naming the config file when the flag is absent.
    public static let environmentVariable = "ROSTER_CONFIG"

    /// The file named by the flag's value `configFile`, else by `ROSTER_CONFIG`, or `nil` if neither names one.
    public static func named(configFile: String?, environment: [String: String]) -> ConfigFileLocation? {
        if let configFile { return ConfigFileLocation(path: configFile, source: .flag(flag)) }
        if let path = environment[environmentVariable] {
            return ConfigFileLocation(path: path, source: .environment(environmentVariable))
        }
        return nil
    }
}

/// Reads layered settings: flag > environment variable > config file > default, per key.
public enum SettingsLoader {
    /// Loads every key in `definitions` into `settings`.
    ///
    /// Each key is read as text from the highest-precedence source that has it and parsed by the key's
    /// definition; a bad value there stops loading, while a value it overrides is never parsed.
    /// - Parameters:
    ///   - flags: Command-line values keyed by setting key (`["listen": "[::]:8700"]`), only the flags given.
    ///   - environment: The process environment; only the keys' variables are read, others are ignored.
    ///   - configFile: The file to read, if any. `.yaml`/`.yml` is read as YAML, `.json` as JSON; keys not in
    ///     `definitions` are ignored (server and client may share a file).
    /// - Returns: The settings and, for every key, where its value came from.
    /// - Throws: `SettingsError` naming the key and source of the first bad value or of a flag key that is not a
    ///   setting, or, with key `config`, a config file that is missing, unreadable, malformed or of another type.
    public static func load<Settings>(
        _ definitions: [SettingDefinition<Settings>],
        into settings: Settings,
        flags: [String: String],
        environment: [String: String],
        configFile: ConfigFileLocation?
    ) throws(SettingsError) -> (settings: Settings, sources: [String: SettingSource]) {
        for name in flags.keys.sorted() where !definitions.contains(where: { $0.key.name == name }) {
            throw SettingsError(key: name, source: .flag(SettingKey.flag(forName: name)), message: "unknown setting")
        }
        var environmentValues: [AbsoluteConfigKey: ConfigValue] = [:]
        for definition in definitions {
            if let text = environment[definition.key.environmentVariable] {
                environmentValues[configKey(definition.key.name)] = ConfigValue(.string(text), isSecret: false)
            }
        }
        var layers = [
            SettingLayer(
                snapshot: InMemoryProvider(
                    name: "flags",
                    values: Dictionary(
                        uniqueKeysWithValues: flags.map { name, text in
                            (configKey(name), ConfigValue(.string(text), isSecret: false))
                        }
                    )
                ).snapshot(),
                source: { .flag($0.flag) }
            ),
            SettingLayer(
                snapshot: InMemoryProvider(name: "environment", values: environmentValues).snapshot(),
                source: { .environment($0.environmentVariable) }
            ),
        ]
        if let configFile, let snapshot = try ConfigFile.snapshot(path: configFile.path, namedBy: configFile.source) {
            let path = configFile.path
            layers.append(SettingLayer(snapshot: snapshot, source: { _ in .file(path) }))
        }

        var settings = settings
        var sources: [String: SettingSource] = [:]
        for definition in definitions {
            let key = definition.key
            sources[key.name] = .defaultValue
            for layer in layers {
                let source = layer.source(key)
                do throws(SettingValueError) {
                    guard let text = try layer.text(forKey: configKey(key.name), acceptsList: definition.acceptsList)
                    else { continue }
                    try definition.apply(&settings, text)
                } catch {
                    throw SettingsError(key: key.name, source: source, message: error.message)
                }
                sources[key.name] = source
                break
            }
        }
        return (settings, sources)
    }

    /// The configuration key for a dotted setting key: `http.max_body` → `["http", "max_body"]`.
    static func configKey(_ name: String) -> AbsoluteConfigKey {
        AbsoluteConfigKey(name.split(separator: ".").map(String.init))
    }
}

/// Reading a config file into a configuration snapshot.
public enum ConfigFile {
    /// Reads and parses the config file, or returns `nil` for a file with no settings in it (empty, or only
    /// YAML comments).
    ///
    /// Reads synchronously and builds the snapshot directly, so `load` needs no `async`: `FileProvider`'s
    /// initializer is `async` and its file errors are not public.
    public static func snapshot(
        path: String, namedBy source: SettingSource
    ) throws(SettingsError) -> (any ConfigSnapshot)? {
        func failure(_ message: String, from source: SettingSource) -> SettingsError {
            SettingsError(key: "config", source: source, message: message)
        }
        guard !path.isEmpty else { throw failure("config file path is empty", from: source) }
        let fileName = path.split(separator: "/").last ?? ""
        let fileExtension = fileName.lastIndex(of: ".").map { fileName[$0...].dropFirst().lowercased() } ?? ""
        let isYAML: Bool
        switch fileExtension {
        case "yaml", "yml": isYAML = true
        case "json": isYAML = false
        default:
            throw failure(
                "unsupported config file type (use .yaml, .yml or .json): \(path)", from: source)
        }
        let contents: [UInt8]?
        do throws(SettingValueError) {
            contents = try readFile(atPath: path)
        } catch {
            throw failure("cannot read config file \(path): \(error.message)", from: source)
        }
        guard let bytes = contents else { throw failure("config file not found: \(path)", from: source) }
        let text = String(decoding: bytes, as: UTF8.self)
        let meaningfulLines = text.split(whereSeparator: \.isNewline).lazy
            .map { SettingValueSyntax.trimmingWhitespace($0) }
            .filter { !$0.isEmpty && !(isYAML && ($0.hasPrefix("#") || $0 == "---")) }
        if meaningfulLines.isEmpty { return nil }
        do {
            let providerName = "config file \(path)"
            if isYAML {
                return try YAMLSnapshot(data: bytes.span.bytes, providerName: providerName, parsingOptions: .default)
            } else {
                return try jsonSnapshot(bytes, providerName: providerName)
            }
        } catch {
            throw failure("malformed \(isYAML ? "YAML" : "JSON"): \(oneLine(error))", from: .file(path))
        }
    }

    /// A JSON config file as a snapshot of text values: numbers keep their literal, booleans become
    /// `true`/`false`, so that every value is parsed by the same rules as a flag.
    ///
    /// Read with the strict `JSONReader` rather than `JSONSnapshot`, whose Foundation parsing on Linux
    /// turns `true` into `1` (so `"max_body": true` would silently mean one byte).
    static func jsonSnapshot(_ bytes: [UInt8], providerName: String) throws -> any ConfigSnapshot {
        let root = try JSONReader.read(bytes, maxDepth: 16)
        guard case .object = root else { throw ConfigFileError("the top level must be an object") }
        var values: [AbsoluteConfigKey: ConfigValue] = [:]
        func flatten(_ value: JSONValue, _ path: [String]) {
            switch value {
            case .object(let object):
                for (key, member) in object { flatten(member, path + [key]) }
            case .string(let text): values[AbsoluteConfigKey(path)] = ConfigValue(.string(text), isSecret: false)
            case .number(let number): values[AbsoluteConfigKey(path)] = ConfigValue(.string(number.literal), isSecret: false)
            case .bool(let flag): values[AbsoluteConfigKey(path)] = ConfigValue(.string(flag ? "true" : "false"), isSecret: false)
            case .array(let items):
                let strings = items.compactMap(\.stringValue)
                values[AbsoluteConfigKey(path)] = ConfigValue(
                    .stringArray(strings.count == items.count ? strings : ["(a list)"]), isSecret: false)
            case .null: break
            }
        }
        flatten(root, [])
        return InMemoryProvider(name: providerName, values: values).snapshot()
    }

    struct ConfigFileError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// Most bytes read from a config file, so that a path like `/dev/zero` cannot exhaust memory.
    static let maximumConfigFileSize = 1 << 20

    /// Reads the whole file at `path`, or returns `nil` if nothing is there.
    /// - Throws: `SettingValueError` with the system's reason (`Permission denied`, `Is a directory`), or for
    ///   a file larger than `maximumConfigFileSize`.
    public static func readFile(atPath path: String) throws(SettingValueError) -> [UInt8]? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        if descriptor < 0 {
            if errno == ENOENT { return nil }
            throw SettingValueError(String(cString: strerror(errno)))
        }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw SettingValueError(String(cString: strerror(errno)))
            }
            if count == 0 { return bytes }
            bytes.append(contentsOf: chunk[..<count])
            if bytes.count > maximumConfigFileSize {
                throw SettingValueError("larger than \(SettingValueSyntax.formatByteSize(maximumConfigFileSize))")
            }
        }
    }

    /// `error`'s description on one line, so that a `SettingsError` stays one line. For Foundation's JSON
    /// errors that is their debug description (`Unexpected end of file during JSON parse.`); for Yams errors
    /// the excerpt and caret lines are dropped (the message already names line and column).
    private static func oneLine(_ error: any Error) -> String {
        let nsError = error as NSError
        if nsError.domain == NSCocoaErrorDomain, let reason = nsError.userInfo[NSDebugDescriptionErrorKey] as? String {
            return reason
        }
        var lines = String(describing: error).split(whereSeparator: \.isNewline)
            .map { SettingValueSyntax.trimmingWhitespace($0) }
        if lines.count >= 2, lines.last == "^" {
            lines.removeLast(2)
            if let last = lines.last, last.hasSuffix(":") { lines[lines.count - 1] = last.dropLast() }
        }
        return lines.filter { !$0.isEmpty }.joined(separator: " ")
    }
}

/// One source of settings, read through swift-configuration, and how to name it in errors and sources.
struct SettingLayer: Sendable {
    /// The source's values, keyed by setting key (the environment layer maps keys to `ROSTER_…` names).
    var snapshot: any ConfigSnapshot
    /// The name of this source for a key: its flag, its variable, or the file.
    var source: @Sendable (SettingKey) -> SettingSource

    /// The text of the value at `key`, or `nil` if this source does not set it.
    ///
    /// Flags, environment variables and YAML scalars are text already. JSON numbers answer only to numeric
    /// lookups, so they are read as `Int` or `Double` and written back as text (JSON `true` reads as `1`).
    /// A list of strings is read as its items joined with commas where `acceptsList` is set.
    /// - Throws: `SettingValueError` for a value that is neither text nor a number (or a list where none is taken).
    func text(forKey key: AbsoluteConfigKey, acceptsList: Bool = false) throws(SettingValueError) -> String? {
        if acceptsList, let value = try? snapshot.value(forKey: key, type: .stringArray).value,
            case .stringArray(let items) = value.content
        {
            return items.joined(separator: ",")
        }
        do {
            guard let value = try snapshot.value(forKey: key, type: .string).value else { return nil }
            if case .string(let text) = value.content { return text }
        } catch {
            // A value of another type; try the numeric readings below.
        }
        if let value = try? snapshot.value(forKey: key, type: .int).value, case .int(let number) = value.content {
            return String(number)
        }
        if let value = try? snapshot.value(forKey: key, type: .double).value,
            case .double(let number) = value.content
        {
            return String(number)
        }
        throw SettingValueError("expected a single value, not a list or object")
    }
}

