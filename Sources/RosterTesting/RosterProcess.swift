#if canImport(FoundationEssentials)
import FoundationEssentials
#endif
import Foundation

/// The built `roster` executable, run as a child process for end-to-end tests.
public enum RosterExecutable {
    /// The `roster` binary next to the running test bundle (`swift build` puts both in one folder).
    public static var url: URL {
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        return exe.deletingLastPathComponent().appendingPathComponent("roster")
    }

    /// Result of a finished run.
    public struct Outcome: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// Runs `roster` with arguments and environment to completion (bounded by `timeout`).
    public static func run(
        _ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(20)
    ) async throws -> Outcome {
        let process = try RosterProcess(arguments, environment: environment)
        let status = try await process.wait(timeout: timeout)
        return Outcome(status: status, stdout: process.stdout, stderr: process.stderr)
    }
}

/// A running `roster` process whose output goes to temporary files, so nothing blocks on pipes.
public final class RosterProcess: @unchecked Sendable {
    // Safe: `process` is only started in init and then read; Foundation's Process is thread-safe
    // for `isRunning`, `terminationStatus` and `signal`.
    let process = Process()
    let stdoutURL: URL
    let stderrURL: URL

    /// Starts `roster` (or `launcher` with `roster`'s path as its first argument, e.g. a shell).
    public init(_ arguments: [String], environment: [String: String] = [:], shellPrefix: String? = nil) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("roster-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        stdoutURL = directory.appendingPathComponent("stdout")
        stderrURL = directory.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        if let shellPrefix {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            let quoted = ([RosterExecutable.url.path] + arguments).map { "'\($0)'" }.joined(separator: " ")
            process.arguments = ["-c", "\(shellPrefix); exec \(quoted)"]
        } else {
            process.executableURL = RosterExecutable.url
            process.arguments = arguments
        }
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ROSTER_") }
        env.merge(environment) { _, new in new }
        process.environment = env
        process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
        process.standardError = try FileHandle(forWritingTo: stderrURL)
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    public var stdout: String { (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "" }
    public var stderr: String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }
    public var isRunning: Bool { process.isRunning }

    /// Sends a signal (e.g. `SIGTERM`).
    public func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// Waits for the process to exit and returns its status; kills it after `timeout`.
    public func wait(timeout: Duration = .seconds(20)) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now >= deadline {
                process.terminate()
                throw TimeoutError(description: "roster did not exit within \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        return process.terminationStatus
    }

    /// Waits until stderr contains `text`; returns stderr then.
    public func waitForLog(_ text: String, timeout: Duration = .seconds(10)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let log = stderr
            if log.contains(text) { return log }
            if !process.isRunning { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw TimeoutError(description: "no \"\(text)\" in roster's log: \(stderr)")
    }

    deinit {
        if process.isRunning { process.terminate() }
    }
}
