import Benchmark
import Foundation
import Glibc
import LoadKit
import RosterCore
import Logging
import RosterServer

/// The registry over real loopback sockets: `roster serve` (release build) as a child process on port 0,
/// the load generated here on threads of its own. HTTP throughput and latency, registration latency and
/// fan-out with watchers connected, health probing (CPU of the registry process), and memory.
///
/// Latency and throughput are reported as custom metrics (one value per sample), so `thresholds check`
/// compares them like any other metric.
enum Metric {
    static let p50 = BenchmarkMetric.custom("latency p50 (µs)", polarity: .prefersSmaller, useScalingFactor: false)
    static let p99 = BenchmarkMetric.custom("latency p99 (µs)", polarity: .prefersSmaller, useScalingFactor: false)
    static let rate = BenchmarkMetric.custom("requests/s", polarity: .prefersLarger, useScalingFactor: false)
    static let fanOutP50 = BenchmarkMetric.custom("fan-out p50 (µs)", polarity: .prefersSmaller, useScalingFactor: false)
    static let fanOutP99 = BenchmarkMetric.custom("fan-out p99 (µs)", polarity: .prefersSmaller, useScalingFactor: false)
    static let probesPerSecond = BenchmarkMetric.custom("probes/s", polarity: .prefersLarger, useScalingFactor: false)
    static let cpuPercent = BenchmarkMetric.custom("CPU % of one core", polarity: .prefersSmaller, useScalingFactor: false)
    static let bytesPerItem = BenchmarkMetric.custom("RSS bytes per item", polarity: .prefersSmaller, useScalingFactor: false)
}

/// Servers and fixtures made in setup hooks; benchmarks run one at a time.
enum ServerState {
    nonisolated(unsafe) static var registry: RegistryProcess?
    nonisolated(unsafe) static var heartbeatIDs: [String] = []
    nonisolated(unsafe) static var fleet: WatcherFleet?
    nonisolated(unsafe) static var target: HealthTarget?
    nonisolated(unsafe) static var serviceCounter = 0
}

func microseconds(_ nanoseconds: Int64) -> Int { Int(nanoseconds / 1000) }

/// Fixed-count thresholds: 25 % on medians, 50 % on tails and rates (loopback on 2 shared cores is noisy).
var loadThresholds: [BenchmarkMetric: BenchmarkThresholds] { [
    Metric.p50: .init(relative: [.p50: 25, .p90: 25]),
    Metric.p99: .init(relative: [.p50: 50, .p90: 50]),
    Metric.rate: .init(relative: [.p50: 25, .p90: 25]),
    Metric.fanOutP50: .init(relative: [.p50: 50, .p90: 50]),
    Metric.fanOutP99: .init(relative: [.p50: 75, .p90: 75]),
    Metric.probesPerSecond: .init(relative: [.p50: 10, .p90: 10]),
    Metric.cpuPercent: .init(relative: [.p50: 50, .p90: 50]),
    Metric.bytesPerItem: .init(relative: [.p50: 15, .p90: 15]),
] }

/// A configuration measuring `metrics`, with the thresholds of those metrics only.
func configuration(
    _ metrics: [BenchmarkMetric], maxDuration: Duration = .seconds(20), maxIterations: Int = 5
) -> Benchmark.Configuration {
    .init(
        metrics: metrics, warmupIterations: 1, scalingFactor: .one, maxDuration: maxDuration,
        maxIterations: maxIterations, thresholds: loadThresholds.filter { metrics.contains($0.key) })
}

let benchmarks: @Sendable () -> Void = {
    raiseOpenFileLimit()
    Benchmark.defaultConfiguration = configuration([Metric.p50, Metric.p99, Metric.rate])

    func startRegistry(_ arguments: [String] = []) throws {
        ServerState.registry = try RegistryProcess(arguments: arguments)
    }
    func stopRegistry() async {
        ServerState.registry?.stop()
        ServerState.registry = nil
    }

    /// 64 connections × `perConnection` requests, closed loop; records p50, p99 and requests/s.
    func closedLoop(_ benchmark: Benchmark, perConnection: Int, request: @escaping @Sendable (Int, Int) -> [UInt8]) async {
        let port = ServerState.registry!.port
        benchmark.startMeasurement()
        let (latencies, elapsed, failures) = await offPool {
            runClosedLoop(port: port, threads: 64, requestsPerThread: perConnection, request: request)
        }
        benchmark.stopMeasurement()
        precondition(failures == 0, "\(failures) requests failed")
        benchmark.measurement(Metric.p50, microseconds(latencies.percentile(0.5)))
        benchmark.measurement(Metric.p99, microseconds(latencies.percentile(0.99)))
        benchmark.measurement(Metric.rate, Int(Double(latencies.nanoseconds.count) / (Double(elapsed) / 1e9)))
    }

    // MARK: HTTP throughput at 64 connections

    Benchmark("HTTP_register_64_connections") { benchmark in
        ServerState.serviceCounter += 1
        let service = "reg\(ServerState.serviceCounter)"
        await closedLoop(benchmark, perConnection: 200) { thread, i in
            RosterRequests.register(service: service, number: thread * 1_000 + i)
        }
    } setup: { try startRegistry() } teardown: { await stopRegistry() }

    Benchmark("HTTP_heartbeat_64_connections") { benchmark in
        let ids = ServerState.heartbeatIDs
        await closedLoop(benchmark, perConnection: 400) { thread, i in
            RosterRequests.heartbeat(service: "beat", id: ids[(thread * 400 + i) % ids.count])
        }
    } setup: {
        try startRegistry()
        let port = ServerState.registry!.port
        ServerState.heartbeatIDs = await offPool {
            let connection = BlockingHTTPConnection(port: port)
            return (0..<1_000).map { i in
                let body = connection.exchangeWithBody(RosterRequests.register(service: "beat", number: i, ttl: 3_600)).body
                let text = String(decoding: body, as: UTF8.self)
                let start = text.range(of: #""id":""#)!.upperBound
                return String(text[start...].prefix(36))
            }
        }
    } teardown: { await stopRegistry() }

    for size in [1, 100] {
        Benchmark("HTTP_lookup_\(size)-instance_service_64_connections") { benchmark in
            let request = RosterRequests.get("/services/lookup")
            await closedLoop(benchmark, perConnection: size == 1 ? 400 : 100) { _, _ in request }
        } setup: {
            try startRegistry()
            let port = ServerState.registry!.port
            await offPool {
                let connection = BlockingHTTPConnection(port: port)
                for i in 0..<size { connection.exchange(RosterRequests.register(service: "lookup", number: i, ttl: 3_600)) }
            }
        } teardown: { await stopRegistry() }
    }

    // MARK: Registration latency and fan-out with watchers

    // One client registers instances one at a time, `gap` ms apart (1 ms: ~700/s, a stress; 10 ms: ~100/s),
    // while `watchers` SSE watchers of the same service are connected and read on one poll(2) thread.
    // Fan-out: from the registration's response to the moment the last watcher has the event.
    for (watchers, gap) in [(0, 1), (100, 1), (1_000, 1), (0, 10), (100, 10), (1_000, 10)] {
        let registrations = gap == 1 ? 2_000 : 600
        Benchmark(
            "registration_latency_\(watchers)_watchers_one_every_\(gap)_ms",
            configuration: configuration(
                watchers == 0 ? [Metric.p50, Metric.p99] : [Metric.p50, Metric.p99, Metric.fanOutP50, Metric.fanOutP99],
                maxIterations: 3)
        ) { benchmark in
            let port = ServerState.registry!.port
            ServerState.serviceCounter += 1
            let service = "fan"
            let first = ServerState.serviceCounter * 10_000
            benchmark.startMeasurement()
            let (samples, answered) = await offPool {
                registerSeries(port: port, service: service, first: first, count: registrations, gap: useconds_t(gap * 1_000))
            }
            benchmark.stopMeasurement()
            benchmark.measurement(Metric.p50, microseconds(samples.percentile(0.5)))
            benchmark.measurement(Metric.p99, microseconds(samples.percentile(0.99)))
            if let fleet = ServerState.fleet {
                let last = answered.keys.max() ?? 0
                let arrivals = await offPool { () -> [UInt64: Int64] in
                    _ = fleet.waitForAll(last)
                    return fleet.stop()
                }
                ServerState.fleet = await offPool { WatcherFleet(port: port, service: service, count: watchers) }
                let fanOut = LatencySamples(answered.compactMap { index, response in arrivals[index].map { $0 - response } })
                precondition(fanOut.nanoseconds.count >= registrations * 95 / 100, "watchers missed events: \(fanOut.nanoseconds.count) of \(registrations)")
                benchmark.measurement(Metric.fanOutP50, microseconds(fanOut.percentile(0.5)))
                benchmark.measurement(Metric.fanOutP99, microseconds(fanOut.percentile(0.99)))
            }
        } setup: {
            try startRegistry()
            if watchers > 0 {
                let port = ServerState.registry!.port
                ServerState.fleet = await offPool {
                    let fleet = WatcherFleet(port: port, service: "fan", count: watchers)
                    precondition(fleet.waitUntilStreaming(), "watchers did not get their snapshots")
                    return fleet
                }
            }
        } teardown: {
            if let fleet = ServerState.fleet { _ = await offPool { fleet.stop() } }
            ServerState.fleet = nil
            await stopRegistry()
        }
    }

    // MARK: Health probing

    // `instances` instances with checks at a 10 s interval against a local target (in this process); after
    // one interval to spread out, probes per second and the registry process's CPU over 10 s.
    for instances in [1_000, 10_000] {
        Benchmark(
            "health_probing_\(instances)_instances_at_10s",
            configuration: configuration([Metric.probesPerSecond, Metric.cpuPercent], maxDuration: .seconds(60), maxIterations: 2)
        ) { benchmark in
            let target = ServerState.target!
            let registry = ServerState.registry!
            let requests0 = target.requests
            let cpu0 = registry.cpuNanoseconds
            let wall0 = nowNanoseconds()
            benchmark.startMeasurement()
            try? await Task.sleep(for: .seconds(10))
            benchmark.stopMeasurement()
            let wall = Double(nowNanoseconds() - wall0)
            benchmark.measurement(Metric.probesPerSecond, Int(Double(target.requests - requests0) / (wall / 1e9)))
            benchmark.measurement(Metric.cpuPercent, Int(Double(registry.cpuNanoseconds - cpu0) / wall * 100))
        } setup: {
            try startRegistry(["--health-max-concurrent-probes", "1000"])
            let target = try HealthTarget()
            ServerState.target = target
            let port = ServerState.registry!.port, targetPort = target.port
            await offPool {
                let connection = BlockingHTTPConnection(port: port)
                for i in 0..<instances {
                    let body = #"{"name":"checked","host":"127.0.0.1","port":\#(20_000 + i),"ttl":3600,"health_check":{"url":"http://127.0.0.1:\#(targetPort)/health","interval":10,"timeout":2}}"#
                    let request = Array("POST /services HTTP/1.1\r\nHost: bench\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8)
                    precondition(connection.exchange(request).status == 201)
                }
            }
            try? await Task.sleep(for: .seconds(11))
        } teardown: {
            await ServerState.target?.stop()
            ServerState.target = nil
            await stopRegistry()
        }
    }

    // MARK: Memory

    Benchmark(
        "memory_per_instance_1M_instances",
        configuration: configuration([Metric.bytesPerItem], maxDuration: .seconds(120), maxIterations: 1)
    ) { benchmark in
        // The store alone, in this process: what a registration costs in memory, without HTTP around it.
        let store = RegistryStore(clock: SystemClock(), logger: Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() })
        let before = residentBytes()
        benchmark.startMeasurement()
        for i in 0..<1_000_000 {
            _ = try! store.register(Registration(
                service: "svc\(i % 1_000)", host: "10.\((i >> 16) & 255).\((i >> 8) & 255).\(i & 255)", port: 8080,
                metadata: ["version": "1.4.2"], ttl: .seconds(3_600), healthCheck: nil))
        }
        benchmark.stopMeasurement()
        benchmark.measurement(Metric.bytesPerItem, (residentBytes() - before) / 1_000_000)
        blackHole(store)
    }

    Benchmark(
        "memory_per_idle_watcher_10k_watchers",
        configuration: configuration([Metric.bytesPerItem], maxDuration: .seconds(120), maxIterations: 1)
    ) { benchmark in
        let registry = try! RegistryProcess()
        try? await Task.sleep(for: .milliseconds(200))
        let before = registry.residentBytes
        benchmark.startMeasurement()
        let port = registry.port
        let fleet = await offPool { WatcherFleet(port: port, service: "idle", count: 10_000) }
        // Every watcher has its snapshot (`id: <epoch>-0` on an empty registry).
        let connected = await offPool { fleet.waitForAll(0, timeout: .seconds(60)) }
        precondition(connected, "not every watcher got its snapshot")
        try? await Task.sleep(for: .milliseconds(500))
        benchmark.stopMeasurement()
        benchmark.measurement(Metric.bytesPerItem, (registry.residentBytes - before) / 10_000)
        _ = await offPool { fleet.stop() }
        registry.stop()
    }
}
