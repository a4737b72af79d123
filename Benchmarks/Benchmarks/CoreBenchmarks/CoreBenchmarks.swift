import Benchmark
import Foundation
import RosterCore

/// The registry rules on their own (no I/O, no locks): time and allocations per operation.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal],
        timeUnits: .nanoseconds,
        warmupIterations: 3,
        scalingFactor: .kilo,
        maxDuration: .seconds(3),
        maxIterations: 1_000,
        thresholds: [
            .wallClock: .init(relative: [.p50: 25, .p90: 50]),
            .mallocCountTotal: .init(relative: [.p50: 5, .p90: 5], absolute: [.p50: 2, .p90: 2]),
        ]
    )
    let start = ContinuousClock.now
    let wall = Date()

    func registration(_ service: String, _ i: Int, ttl: Duration = .seconds(30)) -> Registration {
        Registration(
            service: service, host: "10.\((i >> 16) & 255).\((i >> 8) & 255).\(i & 255)", port: 1000 + i % 60_000,
            metadata: ["version": "1.4.2"], ttl: ttl, healthCheck: nil)
    }

    func populated(_ count: Int, service: String = "bulk") -> (Registry, [UUID]) {
        var registry = Registry()
        var ids: [UUID] = []
        ids.reserveCapacity(count)
        for i in 0..<count {
            let id = UUID()
            _ = try! registry.register(registration(service, i), id: id, now: start, wallNow: wall)
            ids.append(id)
        }
        return (registry, ids)
    }

    // 1,000 registrations per sample (scaling factor kilo) into a registry that already holds 10,000.
    Benchmark("register_into_10k") { benchmark in
        var registry = CoreState.tenThousand
        let ids = (0..<benchmark.scaledIterations.count).map { _ in UUID() }
        let registrations = (0..<ids.count).map { registration("new", $0) }
        benchmark.startMeasurement()
        for i in benchmark.scaledIterations {
            blackHole(try! registry.register(registrations[i], id: ids[i], now: start, wallNow: wall))
        }
    } setup: {
        (CoreState.tenThousand, CoreState.tenThousandIDs) = populated(10_000)
    }

    Benchmark("renew_of_10k") { benchmark in
        var registry = CoreState.tenThousand
        let ids = CoreState.tenThousandIDs
        benchmark.startMeasurement()
        for i in benchmark.scaledIterations {
            blackHole(try! registry.renew(ids[i % ids.count], service: "bulk", now: start + .seconds(1)))
        }
    } setup: {
        (CoreState.tenThousand, CoreState.tenThousandIDs) = populated(10_000)
    }

    Benchmark("lookup_100-instance_service") { benchmark in
        let registry = CoreState.tenThousand
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(registry.instances(of: "hundred", now: start))
        }
    } setup: {
        var (registry, _) = populated(10_000)
        for i in 0..<100 { _ = try! registry.register(registration("hundred", 100_000 + i), id: UUID(), now: start, wallNow: wall) }
        CoreState.tenThousand = registry
    }

    // Sweep cost must follow the number of expired leases, not the live ones: 1,000 expire among 10,000
    // and among 1,000,000 live leases. One sweep per sample; the 1,000 are registered again (unmeasured).
    for live in [10_000, 1_000_000] {
        Benchmark(
            "sweep_1k_expired_among_\(live / 1000)k_live",
            configuration: .init(scalingFactor: .one, maxDuration: .seconds(5), maxIterations: 50)
        ) { benchmark in
            let now = start + .seconds(2)
            for i in 0..<1_000 {
                _ = try! CoreState.large.register(registration("short", i, ttl: .seconds(1)), id: UUID(), now: start, wallNow: wall)
            }
            benchmark.startMeasurement()
            let changes = CoreState.large.expire(now: now, wallNow: wall)
            benchmark.stopMeasurement()
            precondition(changes.count == 1_000)
        } setup: {
            CoreState.large = populated(live).0
        } teardown: {
            CoreState.large = Registry()
        }
    }
}

/// Registries built in setup hooks, outside the measured closures. Benchmarks run one at a time.
enum CoreState {
    nonisolated(unsafe) static var tenThousand = Registry()
    nonisolated(unsafe) static var tenThousandIDs: [UUID] = []
    nonisolated(unsafe) static var large = Registry()
}
