import Foundation
import RosterAPI
import RosterServer
import RosterTesting
import Synchronization
import Testing

private let registrationBody = #"{"name":"web","host":"10.0.0.5","port":8080,"metadata":{"version":"1.4.2"},"ttl":30}"#

@Suite(.timeLimit(.minutes(2))) struct RegistryAPITests {
    @Test func `register, conflict, list, count, heartbeat and deregister over HTTP`() async throws {
        try await withRosterServer { app in
            let client = try await RawHTTPConnection(port: app.port)

            let created = try await client.request("POST", "/services", body: registrationBody)
            #expect(created.status == 201)
            let instance = try #require(created.json?.objectValue)
            let id = try #require(instance["id"]?.stringValue)
            #expect(UUID(uuidString: id) != nil)
            #expect(id == id.lowercased())
            #expect(instance["name"] == "web")
            #expect(instance["host"] == "10.0.0.5")
            #expect(instance["port"] == 8080)
            #expect(instance["metadata"] == ["version": "1.4.2"])
            #expect(instance["ttl"] == 30)
            #expect(instance["registered_at"]?.stringValue?.hasSuffix("Z") == true)
            #expect(created.header("location") == "/services/web/\(id)")
            #expect(created.header("roster-index") == "1")
            let epoch = try #require(created.header("roster-epoch"))
            #expect(epoch == app.store.epoch)

            let conflict = try await client.request("POST", "/services", body: #"{"name":"web","host":"10.0.0.5","port":8080}"#)
            #expect(conflict.status == 409)
            #expect(conflict.header("content-type") == "application/problem+json")
            #expect(conflict.json?["code"] == "instance_exists")
            #expect(conflict.json?["instance_id"]?.stringValue == id)
            #expect(conflict.header("roster-index") == nil)

            let listed = try await client.request("GET", "/services/web")
            #expect(listed.status == 200)
            #expect(listed.json?.arrayValue?.map { $0["id"]!.stringValue! } == [id])
            #expect(listed.header("roster-index") == "1")
            #expect(listed.header("roster-epoch") == epoch)

            let fetched = try await client.request("GET", "/services/web/\(id)")
            #expect(fetched.status == 200)
            #expect(fetched.json == created.json)

            let services = try await client.request("GET", "/services")
            #expect(services.json == ["web": ["instances": 1, "healthy": 1]])

            let renewed = try await client.request("PUT", "/services/web/\(id)/heartbeat")
            #expect(renewed.status == 200)
            #expect(renewed.json == ["id": .string(id), "ttl": 30, "expires_in": 30])
            #expect(renewed.header("roster-index") == "1")

            let deleted = try await client.request("DELETE", "/services/web/\(id)")
            #expect(deleted.status == 204)
            #expect(deleted.header("roster-index") == "2")
            #expect(deleted.body.isEmpty)

            let again = try await client.request("DELETE", "/services/web/\(id)")
            #expect(again.status == 404)
            #expect(again.json?["code"] == "instance_not_found")

            #expect(try await client.request("GET", "/services/web").json == [])
            #expect(try await client.request("GET", "/services").json == [:])
            #expect(try await client.request("GET", "/services/web/\(id)").status == 404)
            #expect(try await client.request("PUT", "/services/web/\(id)/heartbeat").status == 404)
        }
    }

    @Test func `ttl defaults to the server setting and fractions are kept`() async throws {
        var settings = ServerSettings.testing
        settings.defaultTTL = .seconds(45)
        try await withRosterServer(settings: settings) { app in
            let client = try await RawHTTPConnection(port: app.port)
            let plain = try await client.request("POST", "/services", body: #"{"name":"a","host":"h1","port":1}"#)
            #expect(plain.json?["ttl"] == 45)
            #expect(plain.json?["metadata"] == [:])
            let fraction = try await client.request("POST", "/services", body: #"{"name":"a","host":"h2","port":1,"ttl":1.5}"#)
            #expect(fraction.json?["ttl"] == 1.5)
        }
    }

    @Test func `heartbeat and lookup answer 404 for another service, a non-UUID id, or a body`() async throws {
        try await withRosterServer { app in
            let client = try await RawHTTPConnection(port: app.port)
            let id = try #require(try await client.request("POST", "/services", body: registrationBody).json?["id"]?.stringValue)
            #expect(try await client.request("PUT", "/services/api/\(id)/heartbeat").status == 404)
            #expect(try await client.request("GET", "/services/api/\(id)").status == 404)
            #expect(try await client.request("DELETE", "/services/api/\(id)").status == 404)
            #expect(try await client.request("PUT", "/services/web/not-a-uuid/heartbeat").status == 404)
            #expect(try await client.request("PUT", "/services/web/\(id.uppercased())/heartbeat").status == 200)
            let withBody = try await client.request("PUT", "/services/web/\(id)/heartbeat", body: "{}")
            #expect(withBody.status == 400)
            #expect(try await client.request("GET", "/services/web").json?.arrayValue?.count == 1)
        }
    }

    @Test func `an id with trailing bytes after a NUL is not the id`() async throws {
        try await withRosterServer { app in
            let client = try await RawHTTPConnection(port: app.port)
            let id = try #require(try await client.request("POST", "/services", body: registrationBody).json?["id"]?.stringValue)
            #expect(try await client.request("GET", "/services/web/\(id)%00garbage").status == 404)
            #expect(try await client.request("PUT", "/services/web/\(id)%00/heartbeat").status == 404)
            #expect(try await client.request("DELETE", "/services/web/\(id)%00x").status == 404)
            #expect(try await client.request("GET", "/services/web/\(id)").status == 200)
        }
    }

    @Test(arguments: [
        ("::1", "0:0:0:0:0:0:0:1", "::1"),
        ("fd00::5", "FD00::5", "fd00::5"),
        ("api.example", "API.example.", "api.example"),
        ("::ffff:10.0.0.1", "::ffff:a00:1", "::ffff:10.0.0.1"),
    ])
    func `equal hosts written differently are the same address`(first: String, second: String, canonical: String) async throws {
        try await withRosterServer { app in
            let client = try await RawHTTPConnection(port: app.port)
            let created = try await client.request("POST", "/services", body: #"{"name":"w","host":"\#(first)","port":7}"#)
            #expect(created.json?["host"]?.stringValue == canonical)
            let again = try await client.request("POST", "/services", body: #"{"name":"w","host":"\#(second)","port":7}"#)
            #expect(again.status == 409)
        }
    }

    @Test func `routing errors are problems with the epoch`() async throws {
        try await withRosterServer { app in
            let client = try await RawHTTPConnection(port: app.port)
            let missing = try await client.request("GET", "/nope")
            #expect(missing.status == 404)
            let framing = try await RawHTTPConnection(port: app.port)
            try await framing.send("GET / HTTP/1.1\r\n\r\n")
            let noHost = try await framing.readResponse()
            #expect(noHost.status == 400)
            #expect(noHost.header("roster-epoch") == app.store.epoch)
            #expect(missing.json?["code"] == "route_not_found")
            #expect(missing.header("roster-epoch") == app.store.epoch)
            let wrong = try await client.request("PATCH", "/services")
            #expect(wrong.status == 405)
            #expect(wrong.header("allow") == "POST, GET, HEAD")
            let head = try await client.request("HEAD", "/services/web")
            #expect(head.status == 200)
            #expect(head.header("content-length") == "2")
        }
    }

    @Test func `200 concurrent registrations over separate sockets all get distinct ids and are listed`() async throws {
        try await withRosterServer { app in
            let ids = try await withThrowingTaskGroup(of: String.self) { group in
                for i in 0..<200 {
                    group.addTask {
                        let client = try await RawHTTPConnection(port: app.port)
                        let response = try await client.request(
                            "POST", "/services", body: #"{"name":"load","host":"10.1.\#(i / 250).\#(i % 250)","port":9000}"#)
                        guard response.status == 201, let id = response.json?["id"]?.stringValue else {
                            throw RawHTTPError.malformed("status \(response.status): \(response.text)")
                        }
                        await client.close()
                        return id
                    }
                }
                var ids: [String] = []
                for try await id in group { ids.append(id) }
                return ids
            }
            #expect(ids.count == 200)
            #expect(Set(ids).count == 200)
            let client = try await RawHTTPConnection(port: app.port)
            let listed = try await client.request("GET", "/services/load")
            #expect(Set(listed.json?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []) == Set(ids))
            #expect(listed.header("roster-index") == "200")
            #expect(try await client.request("GET", "/services").json == ["load": ["instances": 200, "healthy": 200]])
        }
    }

    @Test func `racing heartbeats and deregistrations never bring a deregistered instance back`() async throws {
        try await withRosterServer { app in
            let setup = try await RawHTTPConnection(port: app.port)
            var ids: [String] = []
            for i in 0..<20 {
                let response = try await setup.request("POST", "/services", body: #"{"name":"race","host":"10.2.0.\#(i)","port":80}"#)
                ids.append(try #require(response.json?["id"]?.stringValue))
            }
            let statuses = try await withThrowingTaskGroup(of: Int?.self) { group in
                for id in ids {
                    // Three heartbeaters and two deregisterers per instance, on their own sockets.
                    for _ in 0..<3 {
                        group.addTask {
                            let client = try await RawHTTPConnection(port: app.port)
                            for _ in 0..<10 {
                                let status = try await client.request("PUT", "/services/race/\(id)/heartbeat").status
                                guard status == 200 || status == 404 else { throw RawHTTPError.malformed("heartbeat \(status)") }
                            }
                            return nil
                        }
                    }
                    for _ in 0..<2 {
                        group.addTask {
                            let client = try await RawHTTPConnection(port: app.port)
                            return try await client.request("DELETE", "/services/race/\(id)").status
                        }
                    }
                }
                var statuses: [Int] = []
                for try await status in group { if let status { statuses.append(status) } }
                return statuses
            }
            // Exactly one deregistration of each instance succeeded.
            #expect(statuses.filter { $0 == 204 }.count == 20)
            #expect(statuses.filter { $0 == 404 }.count == 20)
            let client = try await RawHTTPConnection(port: app.port)
            #expect(try await client.request("GET", "/services/race").json == [])
            for id in ids {
                #expect(try await client.request("PUT", "/services/race/\(id)/heartbeat").status == 404)
                #expect(try await client.request("GET", "/services/race/\(id)").status == 404)
            }
            #expect(app.store.index == 40)
        }
    }
}

@Suite(.timeLimit(.minutes(2))) struct LookupCacheTests {
    @Test func `repeated lookups are served from the cache and follow every change`() async throws {
        try await withRosterServer { app in
            let client = try await RawHTTPConnection(port: app.port)
            func ids(_ path: String = "/services/web") async throws -> [String] {
                try await client.request("GET", path).json?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
            }
            let a = try #require(try await client.request(
                "POST", "/services", body: #"{"name":"web","host":"10.0.0.1","port":1,"ttl":60}"#).json?["id"]?.stringValue)
            let first = try await client.request("GET", "/services/web")
            let again = try await client.request("GET", "/services/web")
            #expect(first.body == again.body && first.header("Roster-Index") == "1")
            // A heartbeat is no change: same body, same index.
            #expect(try await client.request("PUT", "/services/web/\(a)/heartbeat").status == 200)
            #expect(try await client.request("GET", "/services/web").body == first.body)
            let b = try #require(try await client.request(
                "POST", "/services", body: #"{"name":"web","host":"10.0.0.2","port":1,"ttl":60}"#).json?["id"]?.stringValue)
            #expect(Set(try await ids()) == [a, b])
            #expect(Set(try await ids("/services/web?include_unhealthy=true")) == [a, b])
            #expect(try await client.request("DELETE", "/services/web/\(a)").status == 204)
            #expect(try await ids() == [b])
            #expect(try await ids("/services/web?include_unhealthy=true") == [b])
            #expect(try await ids("/services/other") == [])
        }
    }
}

@Suite(.timeLimit(.minutes(2))) struct RegistrationValidationTests {
    static let cases: [(body: String, code: String, field: String?)] = [
        (#"{"name":"web","host":"10.0.0.5","port":70000}"#, "invalid_field", "port"),
        (#"{"name":"web","host":"10.0.0.5","port":0}"#, "invalid_field", "port"),
        (#"{"name":"web","host":"10.0.0.5","port":65536}"#, "invalid_field", "port"),
        (#"{"name":"web","host":"10.0.0.5","port":80.5}"#, "invalid_field", "port"),
        (#"{"name":"web","host":"10.0.0.5","port":80.0}"#, "invalid_field", "port"),
        (#"{"name":"web","host":"10.0.0.5","port":8e1}"#, "invalid_field", "port"),
        (#"{"name":"web","host":"10.0.0.5","port":"80"}"#, "invalid_field", "port"),
        (#"{"name":"web","host":"10.0.0.5","port":-1}"#, "invalid_field", "port"),
        (#"{"name":"web","host":"10.0.0.5","port":123456789012345678901234567890}"#, "invalid_field", "port"),
        (#"{"host":"10.0.0.5","port":80}"#, "missing_field", "name"),
        (#"{"name":"web","port":80}"#, "missing_field", "host"),
        (#"{"name":"web","host":"10.0.0.5"}"#, "missing_field", "port"),
        (#"{"name":"","host":"h","port":80}"#, "invalid_field", "name"),
        (#"{"name":"-web","host":"h","port":80}"#, "invalid_field", "name"),
        (#"{"name":"web-","host":"h","port":80}"#, "invalid_field", "name"),
        (#"{"name":"we b","host":"h","port":80}"#, "invalid_field", "name"),
        (#"{"name":"wéb","host":"h","port":80}"#, "invalid_field", "name"),
        (#"{"name":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","host":"h","port":80}"#, "invalid_field", "name"),
        (#"{"name":7,"host":"h","port":80}"#, "invalid_field", "name"),
        (#"{"name":"web","host":"","port":80}"#, "invalid_field", "host"),
        (#"{"name":"web","host":"[::1]","port":80}"#, "invalid_field", "host"),
        (#"{"name":"web","host":"256.1.1.1","port":80}"#, "invalid_field", "host"),
        (#"{"name":"web","host":"1.2.3","port":80}"#, "invalid_field", "host"),
        (#"{"name":"web","host":"a..b","port":80}"#, "invalid_field", "host"),
        (#"{"name":"web","host":"-a.b","port":80}"#, "invalid_field", "host"),
        (#"{"name":"web","host":"a_b.c","port":80}"#, "invalid_field", "host"),
        (#"{"name":"web","host":"1::2::3","port":80}"#, "invalid_field", "host"),
        (#"{"name":"web","host":"h","port":80,"metadata":"v"}"#, "invalid_field", "metadata"),
        (#"{"name":"web","host":"h","port":80,"metadata":{"version":1}}"#, "invalid_field", "metadata.version"),
        (#"{"name":"web","host":"h","port":80,"metadata":{"":"x"}}"#, "invalid_field", "metadata."),
        (#"{"name":"web","host":"h","port":80,"ttl":0}"#, "invalid_field", "ttl"),
        (#"{"name":"web","host":"h","port":80,"ttl":0.5}"#, "invalid_field", "ttl"),
        (#"{"name":"web","host":"h","port":80,"ttl":86401}"#, "invalid_field", "ttl"),
        (#"{"name":"web","host":"h","port":80,"ttl":"30"}"#, "invalid_field", "ttl"),
        (#"{"name":"web","host":"h","port":80,"color":"red"}"#, "unknown_field", "color"),
        (#"{"name":"web","host":"h","port":80,"port":81}"#, "duplicate_key", "port"),
        (#"{"name":"web","host":"h","port":80,"metadata":{"a":"1","a":"2"}}"#, "duplicate_key", "metadata.a"),
        (#"{"name":"web","host":"h","port":80"#, "invalid_json", nil),
        (#"[1,2]"#, "invalid_json", nil),
        ("", "empty_body", nil),
        (#"{"name":"web","host":"h","port":80,"metadata":{"a":"\u0001"}}"# + "  x", "invalid_json", nil),
    ]

    @Test(arguments: cases)
    func `invalid registrations are 400 naming the field and store nothing`(body: String, code: String, field: String?) async throws {
        try await withRosterServer { app in
            let client = try await RawHTTPConnection(port: app.port)
            let response = try await client.request("POST", "/services", body: body)
            #expect(response.status == 400)
            #expect(response.header("content-type") == "application/problem+json")
            #expect(response.json?["code"]?.stringValue == code)
            #expect(response.json?["field"]?.stringValue == field)
            #expect(response.json?["status"] == 400)
            #expect(response.json?["type"]?.stringValue == "urn:roster:problem:\(code)")
            #expect(app.store.index == 0)
            #expect(try await client.request("GET", "/services").json == [:])
        }
    }

    @Test func `metadata limits are enforced`() async throws {
        try await withRosterServer { app in
            let client = try await RawHTTPConnection(port: app.port)
            let tooMany = (0..<65).map { #""k\#($0)":"v""# }.joined(separator: ",")
            let many = try await client.request("POST", "/services", body: #"{"name":"a","host":"h","port":1,"metadata":{\#(tooMany)}}"#)
            #expect(many.json?["field"] == "metadata")
            let longKey = String(repeating: "k", count: 129)
            let key = try await client.request("POST", "/services", body: #"{"name":"a","host":"h","port":1,"metadata":{"\#(longKey)":"v"}}"#)
            #expect(key.json?["field"]?.stringValue == "metadata.\(longKey)")
            let longValue = String(repeating: "v", count: 1025)
            let value = try await client.request("POST", "/services", body: #"{"name":"a","host":"h","port":1,"metadata":{"k":"\#(longValue)"}}"#)
            #expect(value.json?["field"] == "metadata.k")
            let okMetadata = (0..<64).map { #""k\#($0)":"\#(String(repeating: "v", count: 1024))""# }.joined(separator: ",")
            let ok = try await client.request("POST", "/services", body: #"{"name":"a","host":"h","port":1,"metadata":{\#(okMetadata)}}"#)
            #expect(ok.status == 201)
            #expect(ok.json?["metadata"]?.objectValue?.count == 64)
        }
    }

    @Test func `nesting deeper than 32 levels, invalid UTF-8 and NUL bytes are rejected`() async throws {
        try await withRosterServer { app in
            let client = try await RawHTTPConnection(port: app.port)
            let deep = #"{"name":"a","host":"h","port":1,"metadata":"# + String(repeating: "[", count: 100_000)
            let nested = try await client.request("POST", "/services", body: deep)
            #expect(nested.json?["code"] == "too_deep")
            var bytes = Array(#"{"name":"a","host":"h","port":1,"metadata":{"k":"#.utf8) + [0x22, 0xC3, 0x28, 0x22, 0x7D, 0x7D]
            try await client.send("POST /services HTTP/1.1\r\nHost: a\r\nContent-Length: \(bytes.count)\r\n\r\n")
            try await client.send(bytes)
            #expect(try await client.readResponse().json?["code"] == "invalid_utf8")
            bytes = Array(#"{"name":"a"#.utf8) + [0] + Array(#"","host":"h","port":1}"#.utf8)
            try await client.send("POST /services HTTP/1.1\r\nHost: a\r\nContent-Length: \(bytes.count)\r\n\r\n")
            try await client.send(bytes)
            #expect(try await client.readResponse().json?["code"] == "invalid_json")
            #expect(app.store.index == 0)
        }
    }

    @Test(arguments: ["10.0.0.5", "::1", "fe80::1", "2001:db8::8:800:200c:417a", "::ffff:10.0.0.1", "web-1.internal", "localhost", "a.b.c.", "x"])
    func `valid hosts are accepted`(host: String) async throws {
        try await withRosterServer { app in
            let client = try await RawHTTPConnection(port: app.port)
            #expect(try await client.request("POST", "/services", body: #"{"name":"a.b_c-1","host":"\#(host)","port":65535}"#).status == 201)
        }
    }
}

@Suite(.timeLimit(.minutes(2))) struct LeaseExpiryTests {
    @Test func `an instance without heartbeats is gone at its deadline and swept with a log line`() async throws {
        let clock = ManualClock()
        let logs = LogCapture()
        var settings = ServerSettings.testing
        settings.sweepInterval = .seconds(1)
        try await withRosterServer(settings: settings, clock: clock, logger: logs.logger()) { app in
            let client = try await RawHTTPConnection(port: app.port)
            let id = try #require(try await client.request(
                "POST", "/services", body: #"{"name":"web","host":"10.0.0.5","port":8080,"ttl":2}"#).json?["id"]?.stringValue)
            await clock.waitForSleepers()

            clock.advance(by: .milliseconds(1999))
            #expect(try await client.request("GET", "/services/web").json?.arrayValue?.count == 1)
            clock.advance(by: .milliseconds(1))
            // Gone for readers at the deadline, before or whatever the sweeper does.
            #expect(try await client.request("GET", "/services/web").json == [])
            #expect(try await client.request("PUT", "/services/web/\(id)/heartbeat").status == 404)
            #expect(await eventually { app.store.storedCount == 0 })
            #expect(app.store.index == 2)

            let expiry = try #require(logs.entries(withMessage: "lease expired").first)
            #expect(expiry.level == .info)
            #expect(expiry.metadata["service.name"] == "web")
            #expect(expiry.metadata["instance.id"] == id)
            #expect(expiry.metadata["at"]?.hasSuffix("Z") == true)
            // The address is free again.
            #expect(try await client.request("POST", "/services", body: #"{"name":"web","host":"10.0.0.5","port":8080,"ttl":2}"#).status == 201)
        }
    }

    @Test func `an instance heartbeating every second stays for 20 seconds while another expires`() async throws {
        let clock = ManualClock()
        var settings = ServerSettings.testing
        settings.sweepInterval = .seconds(1)
        try await withRosterServer(settings: settings, clock: clock) { app in
            let client = try await RawHTTPConnection(port: app.port)
            let kept = try #require(try await client.request(
                "POST", "/services", body: #"{"name":"web","host":"10.0.0.5","port":1,"ttl":2}"#).json?["id"]?.stringValue)
            _ = try await client.request("POST", "/services", body: #"{"name":"web","host":"10.0.0.6","port":1,"ttl":2}"#)
            for second in 1...20 {
                await clock.waitForSleepers()
                clock.advance(by: .seconds(1))
                let heartbeat = try await client.request("PUT", "/services/web/\(kept)/heartbeat")
                #expect(heartbeat.status == 200, "second \(second)")
                #expect(heartbeat.json?["expires_in"] == 2)
                let listed = try await client.request("GET", "/services/web").json?.arrayValue ?? []
                #expect(listed.contains { $0["id"]?.stringValue == kept })
                #expect(listed.count == (second < 2 ? 2 : 1), "second \(second)")
            }
            #expect(await eventually { app.store.storedCount == 1 })
        }
    }

    @Test func `a renewal just before the deadline extends it; one at the deadline does not revive`() async throws {
        let clock = ManualClock()
        try await withRosterServer(clock: clock) { app in
            let client = try await RawHTTPConnection(port: app.port)
            let id = try #require(try await client.request(
                "POST", "/services", body: #"{"name":"w","host":"h","port":1,"ttl":5}"#).json?["id"]?.stringValue)
            clock.advance(by: .milliseconds(4999))
            #expect(try await client.request("PUT", "/services/w/\(id)/heartbeat").status == 200)
            clock.advance(by: .seconds(5))
            #expect(try await client.request("PUT", "/services/w/\(id)/heartbeat").status == 404)
            #expect(try await client.request("GET", "/services/w/\(id)").status == 404)
        }
    }
}
