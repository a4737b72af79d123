import ArgumentParser
import Foundation
import Glibc
import LoadKit
import Synchronization

/// What N SSE watchers cost registration latency, measured as the median of interleaved runs.
///
/// One client registers instances one at a time, `--gap-ms` apart, against `roster serve` (release build,
/// its own process). Runs alternate between no watchers and `--watchers` watchers of the registered
/// service (the order flips every pair, so drift hits both sides alike). The watchers are read in a
/// separate process (this executable, `watchers` subcommand) on one epoll thread, started for each run
/// with the scheduling `--reader` names. Fan-out is the time from a registration's response until the
/// last watcher has its event (CLOCK_MONOTONIC in both processes).
///
/// Run from `Benchmarks/`: `swift run -c release WatchCost --runs 8` (see README, "Performance").
@main
struct WatchCost: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Registration latency with and without SSE watchers, as the median of interleaved runs.",
        subcommands: [Measure.self, Watchers.self],
        defaultSubcommand: Measure.self)
}

/// How the watcher process is scheduled.
enum ReaderScheduling: String, ExpressibleByArgument, CaseIterable {
    /// SCHED_IDLE (`chrt --idle 0`): runs only on otherwise idle CPU, as watchers on other machines would.
    case idle
    /// nice +10.
    case nice
    /// The same priority as the client and the registry.
    case normal
    /// No reading while registrations run (the events wait in the sockets' receive buffers, as they
    /// would on the wire to watchers elsewhere); read afterwards to check delivery. No fan-out times.
    case none

    var launcher: [String] {
        switch self {
        case .idle: ["chrt", "--idle", "0"]
        case .nice: ["nice", "-n", "10"]
        case .normal, .none: []
        }
    }
}

struct Measure: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Interleaved runs with 0 and N watchers (the default).")

    @Option(help: "Pairs of runs (one with watchers, one without).") var runs = 6
    @Option(help: "Registrations per run.") var registrations = 1_000
    @Option(help: "Pause after each registration's response, in milliseconds (10: ~100/s).") var gapMs = 10.0
    @Option(help: "Watchers in the runs with watchers.") var watchers = 100
    @Option(help: "Scheduling of the watcher process: idle, nice or normal.") var reader = ReaderScheduling.idle
    @Option(help: "Background heartbeats per second (to 1,000 instances of another service) during every run; 0: none.")
    var backgroundHeartbeats = 0
    @Option(help: "Control: instead of watchers, this process sends one 600-byte message over each of this many loopback TCP connections of its own after every registration in the `watchers` runs (0: off).")
    var controlSends = 0
    @Option(help: "Extra arguments for `roster serve`, space-separated.") var serveArguments = ""

    func run() throws {
        raiseOpenFileLimit()
        let registry = try RegistryProcess(arguments: serveArguments.split(separator: " ").map(String.init))
        defer { registry.stop() }
        let gap = useconds_t(gapMs * 1_000)
        print("registrations: \(runs * 2) runs of \(registrations), \(gapMs) ms apart; watcher process: \(reader.rawValue)")
        // Warm up the registry (allocator, caches) before the first measured run.
        _ = registerSeries(port: registry.port, service: "warmup", first: 0, count: 500, gap: gap)
        let background = backgroundHeartbeats > 0 ? BackgroundHeartbeats(port: registry.port, perSecond: backgroundHeartbeats) : nil
        defer { background?.stop() }
        if backgroundHeartbeats > 0 { print("background: \(backgroundHeartbeats) heartbeats/s to 1,000 instances of service `background`") }

        var without: [LatencySamples] = []
        var with: [LatencySamples] = []
        var fanOut: [Int64] = []
        var delivered = 0
        var cpuWith: [Double] = [], cpuWithout: [Double] = [], readerCPU: [Double] = []
        for pair in 0..<runs {
            for withWatchers in pair.isMultiple(of: 2) ? [false, true] : [true, false] {
                let service = "cost\(pair)\(withWatchers ? "w" : "n")"
                let first = (pair * 2 + (withWatchers ? 1 : 0) + 1) * registrations
                // In the watcher runs: the watcher process, or with `--control-sends` the control instead.
                let control = withWatchers && controlSends > 0 ? ControlSends(count: controlSends) : nil
                let fleet = withWatchers && control == nil
                    ? try WatcherProcess(port: registry.port, service: service, count: watchers, scheduling: reader) : nil
                let cpuBefore = registry.cpuNanoseconds, readerCPUBefore = childrenCPUNanoseconds()
                let (samples, answered) = registerSeries(
                    port: registry.port, service: service, first: first, count: registrations, gap: gap,
                    afterEach: control.map { $0.sendAll })
                let cpu = Double(registry.cpuNanoseconds - cpuBefore) / Double(registrations) / 1_000
                if let fleet {
                    let arrivals = try fleet.finish(last: answered.keys.max() ?? 0)
                    readerCPU.append(Double(childrenCPUNanoseconds() - readerCPUBefore) / Double(registrations) / 1_000)
                    if reader != .none {
                        for (index, response) in answered { if let arrival = arrivals[index] { fanOut.append(arrival - response) } }
                    }
                    delivered += answered.keys.filter { arrivals[$0] != nil }.count
                }
                if withWatchers {
                    cpuWith.append(cpu)
                    with.append(samples)
                } else {
                    cpuWithout.append(cpu)
                    without.append(samples)
                }
                print(String(format: "  run %2d %@: p50 %7.1f µs  p99 %7.1f µs  registry CPU %5.1f µs/registration", pair * 2 + (withWatchers == pair.isMultiple(of: 2) ? 1 : 0),
                    withWatchers ? "\(watchers) watchers" : "0 watchers  ", micro(samples.percentile(0.5)), micro(samples.percentile(0.99)), cpu))
            }
        }
        let p50Without = median(without.map { $0.percentile(0.5) }), p50With = median(with.map { $0.percentile(0.5) })
        let p99Without = median(without.map { $0.percentile(0.99) }), p99With = median(with.map { $0.percentile(0.99) })
        print(String(format: "registration latency, median of %d runs each:", runs))
        print(String(format: "  0 watchers:   p50 %7.1f µs  p99 %7.1f µs", micro(p50Without), micro(p99Without)))
        print(String(format: "  %d watchers: p50 %7.1f µs  p99 %7.1f µs  (p50 %+.1f %%, p99 %+.1f %%)", watchers,
            micro(p50With), micro(p99With), change(p50With, p50Without), change(p99With, p99Without)))
        print(String(format: "registry CPU per registration (median): %.1f µs with 0 watchers, %.1f µs with %d; watcher process %.1f µs",
            median(cpuWithout), median(cpuWith), watchers, median(readerCPU)))
        let fan = LatencySamples(fanOut)
        print(String(format: "fan-out, response to the last of %d watchers: p50 %.1f µs  p99 %.1f µs  max %.1f µs  (%d of %d events reached every watcher)",
            watchers, micro(fan.percentile(0.5)), micro(fan.percentile(0.99)), micro(fan.nanoseconds.last ?? 0), delivered, runs * registrations))
    }
}

/// The control for the watcher runs: loopback TCP connections of this process, each sent one 600-byte
/// message per registration (the registry is not involved). Receivers are drained every 64 rounds.
final class ControlSends {
    private var senders: [Int32] = []
    private var receivers: [Int32] = []
    private var rounds = 0
    private let message = [UInt8](repeating: 0x78, count: 600)
    private var sink = [UInt8](repeating: 0, count: 1 << 16)

    init(count: Int) {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                _ = bind(listener, $0, length)
                _ = getsockname(listener, $0, &length)
            }
        }
        listen(listener, 1024)
        for _ in 0..<count {
            receivers.append(connectLoopback(port: UInt16(bigEndian: address.sin_port)))
            senders.append(accept(listener, nil, nil))
        }
        close(listener)
    }

    deinit { for fd in senders + receivers { close(fd) } }

    func sendAll() {
        for fd in senders { _ = message.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) } }
        rounds += 1
        if rounds.isMultiple(of: 64) {
            for fd in receivers { while sink.withUnsafeMutableBytes({ recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }) > 0 {} }
        }
    }
}

/// Heartbeats at a steady rate on a thread of their own, to 1,000 instances it registers first.
final class BackgroundHeartbeats: @unchecked Sendable {
    // Safe: `running` is atomic; the rest is set in init.
    private let running = Atomic<Bool>(true)
    private let done = DispatchSemaphore(value: 0)

    init(port: UInt16, perSecond: Int) {
        let ids = (0..<1_000).map { i -> String in
            let connection = BlockingHTTPConnection(port: port)
            let body = connection.exchangeWithBody(RosterRequests.register(service: "background", number: 500_000 + i, ttl: 3_600)).body
            let text = String(decoding: body, as: UTF8.self)
            let start = text.range(of: #""id":""#)!.upperBound
            return String(text[start...].prefix(36))
        }
        let interval = Int64(1_000_000_000 / perSecond)
        let thread = Thread { [self] in
            let connection = BlockingHTTPConnection(port: port)
            var next = nowNanoseconds()
            var i = 0
            while running.load(ordering: .relaxed) {
                let (status, _) = connection.exchange(RosterRequests.heartbeat(service: "background", id: ids[i % ids.count]))
                precondition(status == 200, "heartbeat answered \(status)")
                i += 1
                next += interval
                let wait = next - nowNanoseconds()
                if wait > 0 { usleep(useconds_t(wait / 1_000)) }
            }
            done.signal()
        }
        thread.start()
    }

    func stop() {
        running.store(false, ordering: .relaxed)
        done.wait()
    }
}

/// The watcher process: this executable's `watchers` subcommand, talking over its standard streams.
final class WatcherProcess {
    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()

    /// Starts it and waits until every watcher has its snapshot.
    init(port: UInt16, service: String, count: Int, scheduling: ReaderScheduling) throws {
        let me = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path
        let command = scheduling.launcher + [me, "watchers", "--port", "\(port)", "--service", service, "--count", "\(count)"]
            + (scheduling == .none ? ["--paused"] : [])
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = command
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        guard readLine() == "ready" else { fatalError("the watcher process did not start") }
    }

    /// Waits until every watcher has the change `last`, stops the process, and returns per index when the
    /// last watcher had it (only indexes every watcher received).
    func finish(last: UInt64) throws -> [UInt64: Int64] {
        input.fileHandleForWriting.write(Data("\(last)\n".utf8))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        var arrivals: [UInt64: Int64] = [:]
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count == 2, let index = UInt64(fields[0]), let time = Int64(fields[1]) { arrivals[index] = time }
        }
        return arrivals
    }

    private func readLine() -> String {
        var line: [UInt8] = []
        while true {
            let byte = output.fileHandleForReading.readData(ofLength: 1)
            guard let first = byte.first, first != 10 else { break }
            line.append(first)
        }
        return String(decoding: line, as: UTF8.self)
    }
}

struct Watchers: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "(internal) Hold SSE watchers; print `ready`, then read the last index from stdin and print arrivals.")

    @Option var port: UInt16
    @Option var service: String
    @Option var count: Int
    @Flag(help: "Do not read until the last index is given.") var paused = false

    func run() throws {
        raiseOpenFileLimit()
        let fleet = WatcherFleet(port: port, service: service, count: count)
        guard fleet.waitUntilStreaming() else { fatalError("watchers did not get their snapshots") }
        if paused { fleet.setPaused(true) }
        FileHandle.standardOutput.write(Data("ready\n".utf8))
        guard let line = Swift.readLine(), let last = UInt64(line) else { return }
        fleet.setPaused(false)
        _ = fleet.waitForAll(last)
        let arrivals = fleet.stop()
        var text = ""
        for (index, time) in arrivals.sorted(by: { $0.key < $1.key }) { text += "\(index) \(time)\n" }
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}

func micro(_ nanoseconds: Int64) -> Double { Double(nanoseconds) / 1_000 }
func median(_ values: [Int64]) -> Int64 {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    return sorted.count.isMultiple(of: 2) ? (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2 : sorted[sorted.count / 2]
}
func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    return sorted.count.isMultiple(of: 2) ? (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2 : sorted[sorted.count / 2]
}
/// User + system CPU of this process's waited-for children (the watcher processes), in nanoseconds.
func childrenCPUNanoseconds() -> Int64 {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_CHILDREN.rawValue), &usage)
    func ns(_ t: timeval) -> Int64 { Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_usec) * 1000 }
    return ns(usage.ru_utime) + ns(usage.ru_stime)
}
func change(_ value: Int64, _ base: Int64) -> Double { base == 0 ? 0 : (Double(value) / Double(base) - 1) * 100 }
