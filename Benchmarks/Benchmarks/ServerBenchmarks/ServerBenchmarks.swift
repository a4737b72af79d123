import Benchmark
import Foundation
import Glibc
import LoadKit
import RosterCore
import RosterServer

/// The registry over real loopback sockets, in this process on port 0: HTTP throughput and latency,
/// registration latency and fan-out with watchers connected, health probing, and memory.
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
    nonisolated(unsafe) static var registry: InProcessRegistry?
    nonisolated(unsafe) static var heartbeatIDs: [String] = []
    nonisolated(unsafe) static var fleet: WatcherFleet?
    nonisolated(unsafe) static var target: HealthTarget?
    nonisolated(unsafe) static var serviceCounter = 0
}

func microseconds(_ nanoseconds: Int64) -> Int { Int(nanoseconds / 1000) }

/// Fixed-count thresholds: 25 % on medians, 50 % on tails and rates (loopback on 2 shared cores is noisy).
var loadThresholds: [BenchmarkMetric: BenchmarkThresholds] { [
    Metric.p50: .init(relative: [.p50: 25]),
    Metric.p99: .init(relative: [.p50: 50]),
    Metric.rate: .init(relative: [.p50: 25]),
    Metric.fanOutP50: .init(relative: [.p50: 50]),
    Metric.fanOutP99: .init(relative: [.p50: 75]),
    Metric.probesPerSecond: .init(relative: [.p50: 10]),
    Metric.cpuPercent: .init(relative: [.p50: 50]),
    Metric.bytesPerItem: .init(relative: [.p50: 15]),
] }

let benchmarks: @Sendable () -> Void = {
    raiseOpenFileLimit()
    Benchmark.defaultConfiguration = .init(
        metrics: [Metric.p50, Metric.p99, Metric.rate], warmupIterations: 1, scalingFactor: .one,
        maxDuration: .seconds(20), maxIterations: 5, thresholds: loadThresholds)

    func startRegistry() throws {
        ServerState.registry = try InProcessRegistry()
    }
    func stopRegistry() async {
        await ServerState.registry?.stop()
        ServerState.registry = nil
    }

    /// 64 connections × `perConnection` requests, closed loop; records p50, p99 and requests/s.
    func closedLoop(_ benchmark: Benchmark, perConnection: Int, request: @escaping @Sendable (Int, Int) -> [UInt8]) {
        let port = ServerState.registry!.port
        benchmark.startMeasurement()
        let (latencies, elapsed, failures) = runClosedLoop(port: port, threads: 64, requestsPerThread: perConnection, request: request)
        benchmark.stopMeasurement()
        precondition(failures == 0, "\(failures) requests failed")
        benchmark.measurement(Metric.p50, microseconds(latencies.percentile(0.5)))
        benchmark.measurement(Metric.p99, microseconds(latencies.percentile(0.99)))
        benchmark.measurement(Metric.rate, Int(Double(latencies.nanoseconds.count) / (Double(elapsed) / 1e9)))
    }

    // MARK: HTTP throughput at 64 connections

    Benchmark("HTTP register, 64 connections") { benchmark in
        ServerState.serviceCounter += 1
        let service = "reg\(ServerState.serviceCounter)"
        closedLoop(benchmark, perConnection: 200) { thread, i in
            RosterRequests.register(service: service, number: thread * 1_000 + i)
        }
    } setup: { try startRegistry() } teardown: { await stopRegistry() }

    Benchmark("HTTP heartbeat, 64 connections") { benchmark in
        let ids = ServerState.heartbeatIDs
        closedLoop(benchmark, perConnection: 400) { thread, i in
            RosterRequests.heartbeat(service: "beat", id: ids[(thread * 400 + i) % ids.count])
        }
    } setup: {
        try startRegistry()
        let connection = BlockingHTTPConnection(port: ServerState.registry!.port)
        ServerState.heartbeatIDs = []
        let store = ServerState.registry!.application.store
        for i in 0..<1_000 {
            connection.exchange(RosterRequests.register(service: "beat", number: i, ttl: 3_600))
        }
        ServerState.heartbeatIDs = store.instances(of: "beat").0.map { $0.id.uuidString.lowercased() }
    } teardown: { await stopRegistry() }

    for size in [1, 100] {
        Benchmark("HTTP lookup \(size)-instance service, 64 connections") { benchmark in
            let request = RosterRequests.get("/services/lookup")
            closedLoop(benchmark, perConnection: size == 1 ? 400 : 100) { _, _ in request }
        } setup: {
            try startRegistry()
            let connection = BlockingHTTPConnection(port: ServerState.registry!.port)
            for i in 0..<size { connection.exchange(RosterRequests.register(service: "lookup", number: i, ttl: 3_600)) }
        } teardown: { await stopRegistry() }
    }

    // MARK: Registration latency and fan-out with watchers

    // One client registers 2,000 instances, one at a time with 1 ms between them, while `watchers` SSE
    // watchers of the same service are connected and read on one epoll thread. Fan-out: from the
    // registration's response to the moment the last watcher has the event.
    for watchers in [0, 100, 1_000] {
        Benchmark(
            "registration latency, \(watchers) watchers",
            configuration: .init(
                metrics: watchers == 0 ? [Metric.p50, Metric.p99] : [Metric.p50, Metric.p99, Metric.fanOutP50, Metric.fanOutP99],
                maxIterations: 3)
        ) { benchmark in
            let port = ServerState.registry!.port
            let connection = BlockingHTTPConnection(port: port)
            var latencies: [Int64] = []
            var answered: [UInt64: Int64] = [:]
            ServerState.serviceCounter += 1
            let service = "fan"
            benchmark.startMeasurement()
            for i in 0..<2_000 {
                let request = RosterRequests.register(service: service, number: ServerState.serviceCounter * 10_000 + i)
                let t0 = nowNanoseconds()
                let (status, index) = connection.exchange(request)
                let t1 = nowNanoseconds()
                precondition(status == 201)
                latencies.append(t1 - t0)
                if let index { answered[index] = t1 }
                usleep(1_000)
            }
            benchmark.stopMeasurement()
            let samples = LatencySamples(latencies)
            benchmark.measurement(Metric.p50, microseconds(samples.percentile(0.5)))
            benchmark.measurement(Metric.p99, microseconds(samples.percentile(0.99)))
            if let fleet = ServerState.fleet {
                _ = fleet.waitForAll(answered.keys.max() ?? 0)
                let arrivals = fleet.stop()
                ServerState.fleet = WatcherFleet(port: port, service: service, count: watchers)
                let fanOut = LatencySamples(answered.compactMap { index, response in arrivals[index].map { $0 - response } })
                precondition(fanOut.nanoseconds.count > 1_900, "watchers missed events: \(fanOut.nanoseconds.count) of 2000")
                benchmark.measurement(Metric.fanOutP50, microseconds(fanOut.percentile(0.5)))
                benchmark.measurement(Metric.fanOutP99, microseconds(fanOut.percentile(0.99)))
            }
        } setup: {
            try startRegistry()
            if watchers > 0 {
                ServerState.fleet = WatcherFleet(port: ServerState.registry!.port, service: "fan", count: watchers)
                usleep(500_000)
            }
        } teardown: {
            _ = ServerState.fleet?.stop()
            ServerState.fleet = nil
            await stopRegistry()
        }
    }

    // MARK: Health probing

    // `instances` instances with checks at a 10 s interval against a local target; after one interval to
    // spread out, probes per second and CPU (registry and target together, this process) over 10 s.
    for instances in [1_000, 10_000] {
        Benchmark(
            "health probing, \(instances) instances at 10s",
            configuration: .init(metrics: [Metric.probesPerSecond, Metric.cpuPercent], maxDuration: .seconds(60), maxIterations: 2)
        ) { benchmark in
            let target = ServerState.target!
            let requests0 = target.requests
            let cpu0 = processCPUNanoseconds()
            let wall0 = nowNanoseconds()
            benchmark.startMeasurement()
            try? await Task.sleep(for: .seconds(10))
            benchmark.stopMeasurement()
            let wall = Double(nowNanoseconds() - wall0)
            benchmark.measurement(Metric.probesPerSecond, Int(Double(target.requests - requests0) / (wall / 1e9)))
            benchmark.measurement(Metric.cpuPercent, Int(Double(processCPUNanoseconds() - cpu0) / wall * 100))
        } setup: {
            try startRegistry()
            let target = try HealthTarget()
            ServerState.target = target
            let connection = BlockingHTTPConnection(port: ServerState.registry!.port)
            for i in 0..<instances {
                let body = #"{"name":"checked","host":"127.0.0.1","port":\#(20_000 + i),"ttl":3600,"health_check":{"url":"http://127.0.0.1:\#(target.port)/health","interval":10,"timeout":2}}"#
                let request = Array("POST /services HTTP/1.1\r\nHost: bench\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8)
                precondition(connection.exchange(request).status == 201)
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
        "memory per instance, 1M instances",
        configuration: .init(metrics: [Metric.bytesPerItem], maxDuration: .seconds(120), maxIterations: 1)
    ) { benchmark in
        let registry = try! InProcessRegistry()
        let store = registry.application.store
        let before = residentBytes()
        benchmark.startMeasurement()
        for i in 0..<1_000_000 {
            _ = try! store.register(Registration(
                service: "svc\(i % 1_000)", host: "10.\((i >> 16) & 255).\((i >> 8) & 255).\(i & 255)", port: 8080,
                metadata: ["version": "1.4.2"], ttl: .seconds(3_600), healthCheck: nil))
        }
        benchmark.stopMeasurement()
        benchmark.measurement(Metric.bytesPerItem, (residentBytes() - before) / 1_000_000)
        await registry.stop()
    }

    Benchmark(
        "memory per idle watcher, 10k watchers",
        configuration: .init(metrics: [Metric.bytesPerItem], maxDuration: .seconds(120), maxIterations: 1)
    ) { benchmark in
        let registry = try! InProcessRegistry()
        usleep(200_000)
        let before = residentBytes()
        benchmark.startMeasurement()
        let fleet = WatcherFleet(port: registry.port, service: "idle", count: 10_000)
        while registry.application.store.watcherCount < 10_000 { usleep(10_000) }
        usleep(500_000)
        benchmark.stopMeasurement()
        benchmark.measurement(Metric.bytesPerItem, (residentBytes() - before) / 10_000)
        _ = fleet.stop()
        await registry.stop()
    }
}
