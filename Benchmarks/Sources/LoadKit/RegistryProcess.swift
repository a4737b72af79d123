import Foundation
import Glibc

/// `roster serve` as a child process on a loopback ephemeral port, so that the load generator (this
/// process) and the registry do not share a thread pool. The binary is `ROSTER_BINARY`, else the release
/// build at `../.build/release/roster` (build it first: `swift build -c release --product roster`).
public final class RegistryProcess: @unchecked Sendable {
    // Safe: `process` is started in init and afterwards only read or signalled.
    private let process = Process()
    private let logURL: URL
    /// The port the registry listens on.
    public let port: UInt16

    public init(arguments: [String] = []) throws {
        let binary = ProcessInfo.processInfo.environment["ROSTER_BINARY"] ?? "../.build/release/roster"
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            fatalError("no roster binary at \(binary): run `swift build -c release --product roster` in the repository root")
        }
        logURL = FileManager.default.temporaryDirectory.appendingPathComponent("roster-bench-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: logURL.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["serve", "--listen", "127.0.0.1:0", "--log-level", "notice", "--http-max-connections", "20000"] + arguments
        process.standardError = try FileHandle(forWritingTo: logURL)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        var found: UInt16?
        for _ in 0..<500 where found == nil {
            usleep(10_000)
            let log = (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
            if let range = log.range(of: "listen=127.0.0.1:") {
                found = UInt16(log[range.upperBound...].prefix { $0.isNumber })
            }
        }
        guard let found else { fatalError("roster did not start: \((try? String(contentsOf: logURL, encoding: .utf8)) ?? "")") }
        port = found
    }

    /// Resident set size of the registry process in bytes.
    public var residentBytes: Int {
        guard let text = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/statm", encoding: .utf8) else { return 0 }
        return (Int(text.split(separator: " ")[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// User + system CPU time of the registry process in nanoseconds.
    public var cpuNanoseconds: Int64 {
        guard let text = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return 0 }
        // Fields after the command name: state is field 3; utime and stime are fields 14 and 15.
        let fields = text[text.index(after: close)...].split(separator: " ")
        let ticks = (Int64(fields[11]) ?? 0) + (Int64(fields[12]) ?? 0)
        return ticks * 1_000_000_000 / Int64(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Stops the registry with SIGTERM and waits for it.
    public func stop() {
        process.terminate()
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: logURL)
    }

    deinit {
        if process.isRunning { process.terminate() }
    }
}
