import ArgumentParser
import Logging
import RosterAPI
import RosterClient
import RosterServer
import RosterSettings

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Options every client subcommand takes: where the registry is and how to authenticate.
///
/// No option has a default of its own, so `ROSTER_ADDR`, `ROSTER_TOKEN` and the config file apply when a
/// flag is absent (see README, "Finding the registry").
struct ClientOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Registry URL(s), comma-separated. Env: ROSTER_ADDR. Default http://127.0.0.1:8700.")
    var registry: String?
    @Option(parsing: .unconditional, help: "Bearer token for a registry with access control. Env: ROSTER_TOKEN.")
    var token: String?
    @Option(name: .customLong("config"), parsing: .unconditional, help: "Config file (YAML or JSON). Env: ROSTER_CONFIG; else ./roster.yaml, ~/.config/roster/config.yaml.")
    var config: String?

    var flags: [String: String] {
        var flags: [String: String] = [:]
        if let registry { flags["registry"] = registry }
        if let token { flags["token"] = token }
        return flags
    }

    /// Resolves the settings, or exits 2 naming the bad setting.
    func load() throws -> (settings: ClientSettings, sources: [String: SettingSource], configFile: ConfigFileLocation?) {
        let environment = ProcessEnvironment.current
        do {
            return try ClientSettings.load(
                flags: flags, environment: environment, configFile: config,
                currentDirectory: currentDirectory(), homeDirectory: environment["HOME"])
        } catch {
            printError("roster: \(error.description)")
            throw ExitCode(2)
        }
    }

    /// A client for the resolved settings, logging warnings and above to stderr.
    func makeClient(logLevel: Logger.Level = .warning) throws -> RosterClient {
        ClientLog.bootstrap(level: logLevel)
        return RosterClient(settings: try load().settings, logger: Logger(label: "roster"))
    }
}

/// `--output table|json` for commands that print registry state.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json
}

enum ClientLog {
    /// Logging for client subcommands: text on stderr at `level`.
    static func bootstrap(level: Logger.Level) {
        LogSetup.bootstrap(level: level, format: .text)
    }
}

/// Exit codes of client subcommands: 0 success, 1 the registry refused or did not find it, 3 no registry
/// answered, 64 usage (ArgumentParser's own).
enum ClientExit {
    static let refused: Int32 = 1
    static let unreachable: Int32 = 3

    /// Prints the error as `roster: …` on stderr (control characters from the registry shown escaped) and
    /// returns the exit code for it.
    static func report(_ error: RosterClientError) -> ExitCode {
        let text = error.description.unicodeScalars.map { scalar in
            scalar.properties.generalCategory == .control ? scalar.escaped(asASCII: true) : String(scalar)
        }.joined()
        printError("roster: \(text)")
        switch error {
        case .unreachable: return ExitCode(unreachable)
        case .problem, .decoding: return ExitCode(refused)
        }
    }
}

/// Runs a client call, turning a `RosterClientError` into its message and exit code.
func runClientCall<T>(_ body: () async throws(RosterClientError) -> T) async throws -> T {
    do {
        return try await body()
    } catch {
        throw ClientExit.report(error)
    }
}

/// Writes a line to stdout at once (no buffering), so a pipe sees every line as it happens.
func printLine(_ text: String) {
    var line = text + "\n"
    line.withUTF8 { buffer in
        var offset = 0
        while offset < buffer.count {
            let written = write(1, buffer.baseAddress! + offset, buffer.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                return
            }
            offset += written
        }
    }
}

/// Rows as left-aligned columns separated by two spaces, the first row a header.
func printTable(_ rows: [[String]]) {
    guard let first = rows.first else { return }
    var widths = Array(repeating: 0, count: first.count)
    for row in rows {
        for (column, cell) in row.enumerated() where column < widths.count { widths[column] = max(widths[column], cell.count) }
    }
    for row in rows {
        var line = ""
        for (column, cell) in row.enumerated() {
            line += column == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[column] - cell.count + 2)
        }
        printLine(line)
    }
}

/// A duration in setting syntax (`30s`, `1.5s`), for tables.
func describe(_ duration: Duration) -> String {
    SettingValueSyntax.formatDuration(duration)
}

func currentDirectory() -> String {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    guard getcwd(&buffer, buffer.count) != nil else { return "." }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
