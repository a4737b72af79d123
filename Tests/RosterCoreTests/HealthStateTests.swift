import Foundation
import RosterCore
import Testing

@Suite(.timeLimit(.minutes(2))) struct HealthStateTests {
    func result(_ passed: Bool) -> ProbeResult {
        ProbeResult(passed: passed, reason: passed ? "ok" : "http_500", httpStatus: passed ? 200 : 500, duration: .milliseconds(3), at: Date())
    }

    /// Applies outcomes (true = pass) and returns the status after each.
    func run(_ outcomes: [Bool], n: Int = 3, m: Int = 2) -> [HealthStatus] {
        var state = HealthState()
        return outcomes.map { passed in
            _ = state.record(result(passed), unhealthyThreshold: n, healthyThreshold: m)
            return state.status
        }
    }

    @Test func `fail fail pass resets, then the third consecutive failure is unhealthy, two passes heal`() {
        #expect(run([false, false, true, false, false, false, true, true]) == [
            .suspect, .suspect, .healthy, .suspect, .suspect, .unhealthy, .recovering, .healthy,
        ])
    }

    @Test func `a failure while recovering goes back to unhealthy and restarts the pass count`() {
        #expect(run([false, false, false, true, false, true, true]) == [
            .suspect, .suspect, .unhealthy, .recovering, .unhealthy, .recovering, .healthy,
        ])
    }

    @Test func `thresholds of one skip suspect and recovering`() {
        #expect(run([false, false, true, true], n: 1, m: 1) == [.unhealthy, .unhealthy, .healthy, .healthy])
    }

    @Test func `streaks reset each other and the change reports the previous status`() {
        var state = HealthState()
        #expect(state.record(result(true), unhealthyThreshold: 3, healthyThreshold: 2) == nil)
        #expect(state.consecutiveSuccesses == 1)
        #expect(state.record(result(false), unhealthyThreshold: 3, healthyThreshold: 2) == .healthy)
        #expect(state.consecutiveSuccesses == 0)
        #expect(state.consecutiveFailures == 1)
        #expect(state.lastResult?.reason == "http_500")
        #expect(state.record(result(false), unhealthyThreshold: 3, healthyThreshold: 2) == nil)
        #expect(state.record(result(false), unhealthyThreshold: 3, healthyThreshold: 2) == .suspect)
        #expect(state.status == .unhealthy)
    }

    @Test func `serving statuses are healthy and suspect`() {
        #expect(HealthStatus.allCases.filter(\.isServing) == [.healthy, .suspect])
    }

    @Test func `probe results change health only for live instances with a check and take an index on change`() throws {
        var registry = Registry()
        let t0 = ContinuousClock.now
        let check = HealthCheck(url: "http://h/health", interval: .seconds(10), timeout: .seconds(1), unhealthyThreshold: 1, healthyThreshold: 1)
        let checked = UUID(), plain = UUID()
        _ = try registry.register(Registration(service: "w", host: "h", port: 1, ttl: .seconds(5), healthCheck: check), id: checked, now: t0, wallNow: Date())
        _ = try registry.register(Registration(service: "w", host: "h", port: 2, ttl: .seconds(5)), id: plain, now: t0, wallNow: Date())
        #expect(registry.recordProbe(result(false), for: plain, service: "w", now: t0, wallNow: Date()) == nil)
        let recorded = registry.recordProbe(result(false), for: checked, service: "w", now: t0, wallNow: Date())
        let change = try #require(recorded)
        #expect(change.kind == .healthChanged(from: .healthy, to: .unhealthy, reason: "http_500"))
        #expect(change.index == 3)
        #expect(registry.recordProbe(result(false), for: checked, service: "w", now: t0, wallNow: Date()) == nil)
        #expect(registry.index == 3)
        #expect(registry.instances(of: "w", now: t0).map(\.id) == [plain])
        #expect(registry.instances(of: "w", now: t0, includeUnhealthy: true).count == 2)
        #expect(registry.serviceCounts(now: t0).map(\.healthy) == [1])
        #expect(registry.serviceCounts(now: t0).map(\.instances) == [2])
        // After expiry a late probe result changes nothing.
        #expect(registry.recordProbe(result(true), for: checked, service: "w", now: t0 + .seconds(5), wallNow: Date()) == nil)
    }
}
