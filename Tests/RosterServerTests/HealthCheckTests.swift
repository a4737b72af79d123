import Foundation
import RosterAPI
import RosterCore
import RosterServer
import RosterTesting
import Testing

/// Active health checks end to end: a manual clock drives the schedule, real HTTP servers on
/// loopback answer (or misbehave), and the API shows the result.
@Suite(.timeLimit(.minutes(2))) struct HealthCheckTests {
    static let exact = HealthChecker.Scheduling(jitter: 0, randomizeFirstProbe: false)

    func register(
        _ client: RawHTTPConnection, name: String = "web", port: Int = 8080, url: String, interval: Int = 1,
        timeout: Double = 0.5, extra: String = ""
    ) async throws -> String {
        let response = try await client.request(
            "POST", "/services",
            body: #"{"name":"\#(name)","host":"127.0.0.1","port":\#(port),"ttl":3600,"health_check":{"url":"\#(url)","interval":\#(interval),"timeout":\#(timeout)\#(extra)}}"#)
        guard response.status == 201, let id = response.json?["id"]?.stringValue else {
            throw RawHTTPError.malformed("registration failed: \(response.status) \(response.text)")
        }
        return id
    }

    /// Advances one interval and waits until the probes it started have finished.
    func step(_ clock: ManualClock, _ app: RosterApplication, probes: Int) async {
        let before = app.healthChecker.startedCount
        await clock.waitForSleepers()
        clock.advance(by: .seconds(1))
        _ = await eventually { app.healthChecker.startedCount >= before + probes && app.healthChecker.inFlightCount == 0 }
    }

    @Test func `thresholds move an instance through suspect, unhealthy, recovering and back, with indexes and logs`() async throws {
        let clock = ManualClock()
        let logs = LogCapture()
        let target = TestHTTPTarget()
        try target.start()
        defer { Task { await target.stop() } }
        let app = try RosterApplication(settings: .testing, clock: clock, logger: logs.logger(), healthScheduling: Self.exact)
        try await withRosterServer(app) { app in
            let client = try await RawHTTPConnection(port: app.port)
            let id = try await register(client, url: target.url)
            #expect(app.healthChecker.scheduledCount == 1)

            var statuses: [String] = []
            for status in [200, 500, 500, 200, 500, 500, 500, 200, 200] {
                target.set(status: status)
                await step(clock, app, probes: 1)
                let health = try await client.request("GET", "/services/web/\(id)/health").json
                statuses.append(health?["status"]?.stringValue ?? "?")
            }
            #expect(statuses == ["healthy", "suspect", "suspect", "healthy", "suspect", "suspect", "unhealthy", "recovering", "healthy"])
            // Changes: 1 registration + 6 status changes.
            #expect(app.store.index == 7)
            let changes = logs.entries(withMessage: "health changed")
            #expect(changes.map { $0.metadata["health.to"] } == ["suspect", "healthy", "suspect", "unhealthy", "recovering", "healthy"])
            #expect(changes[3].metadata["health.from"] == "suspect")
            #expect(changes[3].metadata["health.reason"] == "http_500")
            #expect(changes[3].metadata["instance.id"] == id)
            #expect(changes[3].metadata["index"] == "5")
            #expect(target.requests.first?.headers["user-agent"] == HealthChecker.userAgent)
        }
    }

    @Test func `unhealthy instances are hidden from lookups unless asked for, and counted apart`() async throws {
        let clock = ManualClock()
        let up = TestHTTPTarget(), down = TestHTTPTarget()
        try up.start()
        try down.start()
        down.set(status: 503)
        let app = try RosterApplication(settings: .testing, clock: clock, logger: .silent, healthScheduling: Self.exact)
        try await withRosterServer(app) { app in
            let client = try await RawHTTPConnection(port: app.port)
            let good = try await register(client, port: 1, url: up.url)
            let bad = try await register(client, port: 2, url: down.url, extra: #","unhealthy_threshold":1"#)
            _ = try await client.request("POST", "/services", body: #"{"name":"web","host":"127.0.0.1","port":3}"#)
            await step(clock, app, probes: 2)

            let listed = try await client.request("GET", "/services/web").json?.arrayValue ?? []
            #expect(listed.count == 2)
            #expect(!listed.contains { $0["id"]?.stringValue == bad })
            #expect(listed.allSatisfy { $0["status"] == "healthy" })
            let all = try await client.request("GET", "/services/web?include_unhealthy=true").json?.arrayValue ?? []
            #expect(all.count == 3)
            #expect(all.first { $0["id"]?.stringValue == bad }?["status"] == "unhealthy")
            #expect(all.first { $0["id"]?.stringValue == good }?["health_check"]?["url"]?.stringValue == up.url)
            #expect(try await client.request("GET", "/services").json == ["web": ["instances": 3, "healthy": 2]])
            #expect(try await client.request("GET", "/services/web?include_unhealthy=maybe").status == 400)

            let health = try #require(try await client.request("GET", "/services/web/\(bad)/health").json)
            #expect(health["status"] == "unhealthy")
            #expect(health["consecutive_failures"] == 1)
            #expect(health["last_result"]?["outcome"] == "fail")
            #expect(health["last_result"]?["reason"] == "http_503")
            #expect(health["last_result"]?["http_status"] == 503)
            #expect(health["last_check_at"]?.stringValue?.hasSuffix("Z") == true)
            #expect(health["check"]?["unhealthy_threshold"] == 1)
            #expect(health["check"]?["healthy_threshold"] == 2)
        }
        await up.stop()
        await down.stop()
    }

    @Test func `an instance without a check stays healthy and says so`() async throws {
        try await withRosterServer { app in
            let client = try await RawHTTPConnection(port: app.port)
            let id = try #require(try await client.request("POST", "/services", body: #"{"name":"w","host":"h","port":1}"#).json?["id"]?.stringValue)
            let health = try await client.request("GET", "/services/w/\(id)/health").json
            #expect(health?["status"] == "healthy")
            #expect(health?["check"] == .null)
            #expect(health?["last_result"] == .null)
            #expect(try await client.request("GET", "/services/w/\(UUID())/health").status == 404)
            #expect(app.healthChecker.scheduledCount == 0)
        }
    }

    @Test func `a redirect fails the probe and its target is never contacted`() async throws {
        let clock = ManualClock()
        let elsewhere = TestHTTPTarget(), redirecting = TestHTTPTarget()
        try elsewhere.start()
        try redirecting.start()
        redirecting.set(status: 302, headers: [("Location", elsewhere.url)])
        let app = try RosterApplication(settings: .testing, clock: clock, logger: .silent, healthScheduling: Self.exact)
        try await withRosterServer(app) { app in
            let client = try await RawHTTPConnection(port: app.port)
            let id = try await register(client, url: redirecting.url)
            await step(clock, app, probes: 1)
            let health = try await client.request("GET", "/services/web/\(id)/health").json
            #expect(health?["last_result"]?["reason"] == "redirect")
            #expect(health?["status"] == "suspect")
            #expect(elsewhere.hits == 0)
            #expect(redirecting.hits == 1)
        }
        await elsewhere.stop()
        await redirecting.stop()
    }

    @Test func `refused, hanging and oversized targets fail with their reasons`() async throws {
        let clock = ManualClock()
        let refusedPort = try closedPort()
        try await withRawTCPServer(handler: Misbehaviour.silent) { silentPort in
            try await withRawTCPServer(handler: Misbehaviour.hugeBody(10_000_000)) { hugePort in
                let app = try RosterApplication(settings: .testing, clock: clock, logger: .silent, healthScheduling: Self.exact)
                try await withRosterServer(app) { app in
                    let client = try await RawHTTPConnection(port: app.port)
                    let refused = try await register(client, port: 1, url: "http://127.0.0.1:\(refusedPort)/")
                    let silent = try await register(client, port: 2, url: "http://127.0.0.1:\(silentPort)/")
                    let huge = try await register(client, port: 3, url: "http://127.0.0.1:\(hugePort)/")
                    let start = ContinuousClock.now
                    await step(clock, app, probes: 3)
                    print("three probes incl. a 500 ms timeout took \(ContinuousClock.now - start)")
                    func reason(_ id: String) async throws -> String? {
                        try await client.request("GET", "/services/web/\(id)/health").json?["last_result"]?["reason"]?.stringValue
                    }
                    #expect(try await reason(refused) == "connection_refused")
                    #expect(try await reason(silent) == "timeout")
                    #expect(try await reason(huge) == "ok")
                    let timeoutMillis = try await client.request("GET", "/services/web/\(silent)/health").json?["last_result"]?["duration_ms"]?.numberValue?.doubleValue ?? 0
                    #expect(timeoutMillis >= 500 && timeoutMillis < 2000)
                    print("a 500 ms probe timeout ended after \(timeoutMillis) ms")
                }
            }
        }
    }

    @Test func `deregistering cancels the probe in flight and leaks nothing`() async throws {
        let clock = ManualClock()
        try await withRawTCPServer(handler: Misbehaviour.silent) { silentPort in
            let app = try RosterApplication(settings: .testing, clock: clock, logger: .silent, healthScheduling: Self.exact)
            try await withRosterServer(app) { app in
                let client = try await RawHTTPConnection(port: app.port)
                let id = try await register(client, url: "http://127.0.0.1:\(silentPort)/", extra: "")
                // A long timeout, so the probe is certainly still in flight when we deregister.
                _ = id
                await clock.waitForSleepers()
                clock.advance(by: .seconds(1))
                #expect(await eventually { app.healthChecker.inFlightCount == 1 })
                let start = ContinuousClock.now
                #expect(try await client.request("DELETE", "/services/web/\(id)").status == 204)
                #expect(await eventually(within: .seconds(2)) { app.healthChecker.inFlightCount == 0 })
                #expect(ContinuousClock.now - start < .milliseconds(400))
                #expect(app.healthChecker.scheduledCount == 0)
                #expect(app.store.index == 2)
            }
        }
    }

    @Test func `expired instances stop being probed`() async throws {
        let clock = ManualClock()
        let target = TestHTTPTarget()
        try target.start()
        let app = try RosterApplication(settings: .testing, clock: clock, logger: .silent, healthScheduling: Self.exact)
        try await withRosterServer(app) { app in
            let client = try await RawHTTPConnection(port: app.port)
            _ = try await client.request(
                "POST", "/services",
                body: #"{"name":"web","host":"127.0.0.1","port":1,"ttl":2,"health_check":{"url":"\#(target.url)","interval":1,"timeout":0.5}}"#)
            await step(clock, app, probes: 1)
            await step(clock, app, probes: 0)
            #expect(await eventually { app.store.storedCount == 0 && app.healthChecker.scheduledCount == 0 && app.healthChecker.inFlightCount == 0 })
            #expect(target.hits == 1)
            let hits = target.hits
            await step(clock, app, probes: 0)
            await step(clock, app, probes: 0)
            #expect(target.hits == hits)
        }
        await target.stop()
    }

    @Test func `health check URLs must point at the instance's host unless allowed`() async throws {
        let body = #"{"name":"w","host":"10.0.0.5","port":1,"health_check":{"url":"http://10.0.0.6/health"}}"#
        try await withRosterServer { app in
            let client = try await RawHTTPConnection(port: app.port)
            let response = try await client.request("POST", "/services", body: body)
            #expect(response.status == 400)
            #expect(response.json?["field"] == "health_check.url")
            #expect(app.store.index == 0)
        }
        var settings = ServerSettings.testing
        settings.allowForeignHealthURLs = true
        try await withRosterServer(settings: settings) { app in
            let client = try await RawHTTPConnection(port: app.port)
            #expect(try await client.request("POST", "/services", body: body).status == 201)
        }
    }

    @Test func `server defaults fill omitted members and an omitted timeout fits a short interval`() async throws {
        var settings = ServerSettings.testing
        settings.health.interval = .seconds(30)
        settings.health.timeout = .seconds(5)
        settings.health.unhealthyThreshold = 4
        try await withRosterServer(settings: settings) { app in
            let client = try await RawHTTPConnection(port: app.port)
            let plain = try await client.request("POST", "/services", body: #"{"name":"w","host":"h","port":1,"health_check":{"url":"http://h/"}}"#)
            #expect(plain.json?["health_check"] == ["url": "http://h/", "interval": 30, "timeout": 5, "unhealthy_threshold": 4, "healthy_threshold": 2])
            let short = try await client.request("POST", "/services", body: #"{"name":"w","host":"h","port":2,"health_check":{"url":"http://h/","interval":2}}"#)
            #expect(short.json?["health_check"]?["timeout"] == 1)
        }
    }

    @Test func `500 mixed instances are each probed and classified while the API answers`() async throws {
        let clock = ManualClock()
        let ok = TestHTTPTarget(), failing = TestHTTPTarget()
        try ok.start()
        try failing.start()
        failing.set(status: 500)
        try await withRawTCPServer(handler: Misbehaviour.silent) { silentPort in
            let app = try RosterApplication(settings: .testing, clock: clock, logger: .silent, healthScheduling: Self.exact)
            try await withRosterServer(app) { app in
                let client = try await RawHTTPConnection(port: app.port)
                var expected: [String: String] = [:]
                for i in 0..<500 {
                    let (url, reason) = switch i % 3 {
                    case 0: (ok.url, "ok")
                    case 1: (failing.url, "http_500")
                    default: ("http://127.0.0.1:\(silentPort)/", "timeout")
                    }
                    // A generous timeout, so that a loaded machine does not turn a slow "ok" into "timeout".
                    expected[try await register(client, name: "fleet", port: 10_000 + i, url: url, interval: 5, timeout: 2)] = reason
                }
                await clock.waitForSleepers()
                clock.advance(by: .seconds(5))
                // The API answers while the probes run.
                let lookup = ContinuousClock.now
                #expect(try await client.request("GET", "/services/fleet").status == 200)
                print("lookup of 500 instances during 500 probes took \(ContinuousClock.now - lookup)")
                #expect(await eventually(within: .seconds(20)) { app.healthChecker.startedCount >= 500 && app.healthChecker.inFlightCount == 0 })
                let all = try await client.request("GET", "/services/fleet?include_unhealthy=true").json?.arrayValue ?? []
                #expect(all.count == 500)
                var wrong = 0
                for instance in all {
                    let id = instance["id"]!.stringValue!
                    let reason = try await client.request("GET", "/services/fleet/\(id)/health").json?["last_result"]?["reason"]?.stringValue
                    if reason != expected[id] { wrong += 1 }
                }
                #expect(wrong == 0)
            }
        }
        await ok.stop()
        await failing.stop()
    }
}
