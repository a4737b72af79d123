import Foundation
import RosterAPI
import RosterCore
import RosterServer
import RosterTesting
import Testing

/// `/healthz`, `/readyz`, `/metrics` and access logs, over real sockets.
@Suite(.timeLimit(.minutes(2))) struct OperationsTests {
    func metrics(_ client: RawHTTPConnection) async throws -> PrometheusExposition {
        let response = try await client.request("GET", "/metrics")
        #expect(response.status == 200)
        #expect(response.header("content-type") == "text/plain; version=0.0.4; charset=utf-8")
        return try PrometheusExposition(response.text)
    }

    func register(_ client: RawHTTPConnection, name: String = "web", port: Int, ttl: Int = 30) async throws -> String {
        let response = try await client.request(
            "POST", "/services", body: #"{"name":"\#(name)","host":"10.0.0.1","port":\#(port),"ttl":\#(ttl)}"#)
        guard response.status == 201, let id = response.json?["id"]?.stringValue else {
            throw RawHTTPError.malformed("registration failed: \(response.status) \(response.text)")
        }
        return id
    }

    @Test func `healthz and readyz answer 200 once the server runs`() async throws {
        try await withRosterServer { app in
            let client = try await RawHTTPConnection(port: app.port)
            let health = try await client.request("GET", "/healthz")
            #expect(health.status == 200)
            #expect(health.json?["status"] == "ok")
            #expect(await eventually { app.readiness.isReady })
            let ready = try await client.request("GET", "/readyz")
            #expect(ready.status == 200)
            #expect(ready.json?["status"] == "ready")
        }
    }

    @Test func `readiness waits for the sweeper, the prober and the listener`() async throws {
        let app = try RosterApplication(settings: .testing, logger: .silent)
        #expect(app.readiness.problems == ["sweeper not running", "prober not running", "listener not accepting"])
        try await withRosterServer(app) { app in
            #expect(await eventually { app.readiness.problems.isEmpty })
        }
        #expect(app.readiness.problems.contains("shutting down"))
    }

    @Test func `readyz is 503 with a problem while draining`() async throws {
        let app = try RosterApplication(settings: .testing, logger: .silent)
        let pending = try await withRosterServer(app) { app in
            #expect(await eventually { app.readiness.isReady })
            // A request whose head is still arriving is in flight, so the drain waits for it.
            let client = try await RawHTTPConnection(port: app.port)
            try await client.send("GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            #expect(await eventually { app.httpServer.openConnections == 1 })
            return Task { () async throws -> RawHTTPResponse in
                guard await eventually(within: .seconds(5), { app.readiness.problems.contains("shutting down") }) else {
                    throw RawHTTPError.malformed("no graceful shutdown began")
                }
                try await client.send("\r\n")
                return try await client.readResponse()
            }
        }
        let response = try await pending.value
        #expect(response.status == 503)
        #expect(response.header("content-type") == "application/problem+json")
        #expect(response.json?["code"] == "not_ready")
        #expect(response.json?["detail"]?.stringValue?.contains("shutting down") == true)
        #expect(response.closes)
    }

    @Test func `every metric has help text, a type, and counters end in _total`() async throws {
        try await withRosterServer { app in
            let client = try await RawHTTPConnection(port: app.port)
            _ = try await register(client, port: 1)
            let exposition = try await metrics(client)
            for definition in MetricCatalog.all {
                #expect(definition.help.isEmpty == false)
                if definition.kind == .counter { #expect(definition.name.hasSuffix("_total")) }
            }
            for (name, type) in exposition.types {
                #expect(exposition.help[name]?.isEmpty == false, "no help for \(name)")
                #expect(MetricCatalog.all.contains { $0.name == name && $0.kind.rawValue == type }, "\(name) \(type) not in the catalog")
            }
            for sample in exposition.samples {
                let family = ["_bucket", "_sum", "_count"].reduce(sample.name) { name, suffix in
                    exposition.types[name] == nil && name.hasSuffix(suffix) ? String(name.dropLast(suffix.count)) : name
                }
                #expect(exposition.types[family] != nil, "sample \(sample.name) has no TYPE line")
            }
            #expect(exposition.value("roster_registrations_total", ["service": "web"]) == 1)
            #expect(exposition.value("roster_instances", ["service": "web", "status": "healthy"]) == 1)
            #expect(exposition.value("roster_instances", ["service": "web", "status": "unhealthy"]) == 0)
            #expect(exposition.value("roster_http_open_connections") == 1)
        }
    }

    @Test func `registry metrics move with registrations, heartbeats, deregistrations and expiries`() async throws {
        let clock = ManualClock()
        let app = try RosterApplication(settings: .testing, clock: clock, logger: .silent)
        try await withRosterServer(app) { app in
            let client = try await RawHTTPConnection(port: app.port)
            let first = try await register(client, port: 1, ttl: 5)
            let second = try await register(client, port: 2, ttl: 60)
            _ = try await register(client, name: "api", port: 3, ttl: 60)
            #expect(try await client.request("PUT", "/services/web/\(first)/heartbeat").status == 200)
            #expect(try await client.request("PUT", "/services/web/\(first)/heartbeat").status == 200)
            #expect(try await client.request("PUT", "/services/web/00000000-0000-0000-0000-000000000000/heartbeat").status == 404)
            #expect(try await client.request("DELETE", "/services/web/\(second)").status == 204)
            clock.advance(by: .seconds(6))

            let exposition = try await metrics(client)
            #expect(exposition.value("roster_registrations_total", ["service": "web"]) == 2)
            #expect(exposition.value("roster_registrations_total", ["service": "api"]) == 1)
            #expect(exposition.value("roster_heartbeats_total", ["service": "web"]) == 2)
            #expect(exposition.value("roster_deregistrations_total", ["service": "web"]) == 1)
            #expect(exposition.value("roster_lease_expirations_total", ["service": "web"]) == 1)
            #expect(exposition.value("roster_instances", ["service": "api", "status": "healthy"]) == 1)
            // "web" has no live instance left, so its gauge series are gone.
            #expect(exposition.labelValues("roster_instances", "service") == ["api"])
        }
    }

    @Test func `probes are counted by outcome and reason and timed`() async throws {
        let clock = ManualClock()
        let target = TestHTTPTarget()
        try target.start()
        defer { Task { await target.stop() } }
        let app = try RosterApplication(
            settings: .testing, clock: clock, logger: .silent, healthScheduling: .init(jitter: 0, randomizeFirstProbe: false))
        try await withRosterServer(app) { app in
            let client = try await RawHTTPConnection(port: app.port)
            let response = try await client.request(
                "POST", "/services",
                body: #"{"name":"web","host":"127.0.0.1","port":8080,"ttl":3600,"health_check":{"url":"\#(target.url)","interval":1,"timeout":0.5,"unhealthy_threshold":1}}"#)
            #expect(response.status == 201)
            for status in [200, 503] {
                target.set(status: status)
                let before = app.healthChecker.startedCount
                await clock.waitForSleepers()
                clock.advance(by: .seconds(1))
                #expect(await eventually { app.healthChecker.startedCount > before && app.healthChecker.inFlightCount == 0 })
            }
            let exposition = try await metrics(client)
            #expect(exposition.value("roster_probes_total", ["outcome": "pass", "reason": "ok"]) == 1)
            #expect(exposition.value("roster_probes_total", ["outcome": "fail", "reason": "http_5xx"]) == 1)
            #expect(exposition.value("roster_probe_duration_seconds_count", ["outcome": "pass"]) == 1)
            #expect(exposition.value("roster_probe_duration_seconds_bucket", ["outcome": "fail", "le": "+Inf"]) == 1)
            #expect(exposition.value("roster_instances", ["service": "web", "status": "unhealthy"]) == 1)
        }
    }

    @Test func `watch metrics count watchers and events`() async throws {
        let settings = ServerSettings.testing
        try await withRosterServer(settings: settings) { app in
            let client = try await RawHTTPConnection(port: app.port)
            let watcher = try await SSEWatcher(port: app.port, path: "/watch")
            #expect(try await watcher.next().type == "snapshot")
            _ = try await register(client, port: 1)
            #expect(try await watcher.next().type == "register")
            let exposition = try await metrics(client)
            #expect(exposition.value("roster_watchers") == 1)
            #expect(exposition.value("roster_watch_events_total", ["type": "snapshot"]) == 1)
            #expect(exposition.value("roster_watch_events_total", ["type": "register"]) == 1)

            await watcher.close()
        }
    }

    @Test func `a watcher whose queue overflows is counted as dropped`() throws {
        let factory = RosterMetricsFactory()
        let store = RegistryStore(
            clock: ManualClock(), logger: .silent, metrics: RegistryMetrics(factory: factory, maxServices: 10))
        // Nobody takes from this watcher's one-change queue, so the second change overflows it.
        let (subscription, _) = store.watch(scope: .all, resumeAfter: nil, queueSize: 1)
        for port in 1...2 {
            _ = try store.register(Registration(service: "web", host: "10.0.0.1", port: port, metadata: [:], ttl: .seconds(30), healthCheck: nil))
        }
        #expect(store.watcherCount == 0)
        store.refreshMetrics()
        let exposition = try PrometheusExposition(factory.registry.emitToString())
        #expect(exposition.value("roster_watchers_dropped_total") == 1)
        #expect(exposition.value("roster_watchers") == 0)
        #expect(exposition.value("roster_registrations_total", ["service": "web"]) == 2)
        _ = subscription
    }

    @Test func `http metrics use route templates, bounded methods and count rejections by reason`() async throws {
        try await withRosterServer { app in
            let client = try await RawHTTPConnection(port: app.port)
            let id = try await register(client, port: 1)
            _ = try await client.request("GET", "/services/web/\(id)")
            _ = try await client.request("GET", "/no/such/path")
            _ = try await client.request("BREW", "/services")
            let bad = try await RawHTTPConnection(port: app.port)
            try await bad.send("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n")
            #expect(try await bad.readResponse().status == 400)

            let exposition = try await metrics(client)
            let routes = exposition.labelValues("roster_http_requests_total", "route")
            #expect(routes.contains("/services/{name}/{id}"))
            #expect(routes.contains("_unmatched"))
            #expect(!routes.contains { $0.contains(id) || $0.contains("/no/such") })
            #expect(exposition.value("roster_http_requests_total", ["method": "POST", "route": "/services", "status": "201"]) == 1)
            #expect(exposition.value("roster_http_requests_total", ["method": "other", "route": "/services", "status": "405"]) == 1)
            #expect(exposition.value("roster_http_request_duration_seconds_count", ["method": "GET", "route": "/services/{name}/{id}"]) == 1)
            #expect(exposition.value("roster_http_rejected_requests_total", ["reason": "bad_request"]) == 1)
        }
    }

    @Test func `the service label is capped at metrics.max_services`() async throws {
        var settings = ServerSettings.testing
        settings.metrics.maxServices = 2
        try await withRosterServer(settings: settings) { app in
            let client = try await RawHTTPConnection(port: app.port)
            for (index, name) in ["a", "b", "c", "d"].enumerated() { _ = try await register(client, name: name, port: index + 1) }
            let exposition = try await metrics(client)
            #expect(exposition.labelValues("roster_registrations_total", "service") == ["a", "b", "_other"])
            #expect(exposition.value("roster_registrations_total", ["service": "_other"]) == 2)
            #expect(exposition.value("roster_instances", ["service": "_other", "status": "healthy"]) == 2)
        }
    }

    @Test func `access logs are off by default and one info line per request when on`() async throws {
        let quiet = LogCapture()
        try await withRosterServer(logger: quiet.logger()) { app in
            let client = try await RawHTTPConnection(port: app.port)
            _ = try await client.request("GET", "/services")
        }
        #expect(quiet.entries(withMessage: "http request").isEmpty)

        var settings = ServerSettings.testing
        settings.accessLog = true
        let logs = LogCapture()
        let id = try await withRosterServer(settings: settings, logger: logs.logger()) { app in
            let client = try await RawHTTPConnection(port: app.port)
            let id = try await register(client, port: 1)
            _ = try await client.request("GET", "/services/web/\(id)")
            _ = try await client.request("GET", "/nowhere")
            return id
        }
        let lines = logs.entries(withMessage: "http request")
        #expect(lines.count == 3)
        #expect(lines.allSatisfy { $0.level == .info })
        #expect(lines[1].metadata["http.method"] == "GET")
        #expect(lines[1].metadata["http.route"] == "/services/{name}/{id}")
        #expect(lines[1].metadata["http.path"] == "/services/web/\(id)")
        #expect(lines[1].metadata["http.status"] == "200")
        #expect(Double(lines[1].metadata["http.duration_ms"] ?? "") != nil)
        #expect(lines[2].metadata["http.status"] == "404")
        #expect(lines[2].metadata["http.route"] == "_unmatched")
    }
}
