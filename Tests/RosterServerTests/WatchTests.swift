import Foundation
import RosterAPI
import RosterServer
import RosterTesting
import Testing

/// Watches over real sockets, read by a spec-following SSE parser.
@Suite(.timeLimit(.minutes(2))) struct WatchTests {
    func register(_ client: RawHTTPConnection, _ name: String = "web", port: Int, ttl: Int = 60, metadata: String = "{}") async throws -> String {
        let response = try await client.request("POST", "/services", body: #"{"name":"\#(name)","host":"10.0.0.1","port":\#(port),"ttl":\#(ttl),"metadata":\#(metadata)}"#)
        guard response.status == 201, let id = response.json?["id"]?.stringValue else {
            throw RawHTTPError.malformed("registration failed: \(response.status) \(response.text)")
        }
        return id
    }

    func data(_ event: SSEEvent) throws -> JSONValue { try JSONReader.read(event.data, maxDepth: 64) }

    @Test func `a watch starts with a snapshot, then streams register, deregister and expiry live`() async throws {
        let clock = ManualClock()
        try await withRosterServer(clock: clock) { app in
            let client = try await RawHTTPConnection(port: app.port)
            let existing = try await register(client, port: 1)
            _ = try await register(client, "other", port: 1)
            let epoch = app.store.epoch

            let watcher = try await SSEWatcher(port: app.port, path: "/services/web/watch")
            let head = try await watcher.readHead()
            #expect(head.status == 200)
            #expect(head.header("content-type") == "text/event-stream")
            #expect(head.header("cache-control") == "no-cache")
            #expect(head.header("x-accel-buffering") == "no")
            #expect(head.header("transfer-encoding") == "chunked")
            #expect(head.header("roster-epoch") == epoch)

            let snapshot = try await watcher.next()
            #expect(snapshot.type == "snapshot")
            #expect(snapshot.lastEventID == "\(epoch)-2")
            #expect(try data(snapshot)["index"] == 2)
            #expect(try data(snapshot)["epoch"]?.stringValue == epoch)
            #expect(try data(snapshot)["instances"]?.arrayValue?.map { $0["id"]?.stringValue } == [existing])
            #expect(await watcher.retry == 3000)

            let added = try await register(client, port: 2, ttl: 5)
            _ = try await register(client, "other", port: 2)  // out of scope
            #expect(try await client.request("DELETE", "/services/web/\(existing)").status == 204)
            clock.advance(by: .seconds(5))
            app.store.sweep()

            let events = try await watcher.next(3)
            #expect(events.map(\.type) == ["register", "deregister", "deregister"])
            #expect(events.map(\.lastEventID) == ["\(epoch)-3", "\(epoch)-5", "\(epoch)-6"])
            let register = try data(events[0])
            #expect(register["index"] == 3)
            #expect(register["type"] == "register")
            #expect(register["service"] == "web")
            #expect(register["instance"]?["id"]?.stringValue == added)
            #expect(register["instance"]?["status"] == "healthy")
            #expect(register["at"]?.stringValue?.hasSuffix("Z") == true)
            #expect(try data(events[1])["reason"] == "deregistered")
            #expect(try data(events[1])["instance"]?["id"]?.stringValue == existing)
            #expect(try data(events[2])["reason"] == "expired")
            #expect(try data(events[2])["instance"]?["id"]?.stringValue == added)
            await watcher.close()
        }
    }

    @Test func `a reconnect with Last-Event-ID gets exactly the changes it missed`() async throws {
        try await withRosterServer { app in
            let client = try await RawHTTPConnection(port: app.port)
            _ = try await register(client, port: 1)
            let first = try await SSEWatcher(port: app.port, path: "/services/web/watch")
            _ = try await first.next()  // snapshot at 1
            _ = try await register(client, port: 2)
            let seen = try await first.next()
            #expect(seen.lastEventID == "\(app.store.epoch)-2")
            await first.close()

            _ = try await register(client, port: 3)
            _ = try await register(client, "other", port: 3)
            _ = try await register(client, port: 4)
            let id5 = try await register(client, port: 5)
            #expect(try await client.request("DELETE", "/services/web/\(id5)").status == 204)

            let resumed = try await SSEWatcher(port: app.port, path: "/services/web/watch", lastEventID: seen.lastEventID)
            let missed = try await resumed.next(4)
            #expect(missed.map(\.type) == ["register", "register", "register", "deregister"])
            #expect(missed.map(\.lastEventID) == [3, 5, 6, 7].map { "\(app.store.epoch)-\($0)" })
            // Then live, with no duplicate.
            _ = try await register(client, port: 9)
            #expect(try await resumed.next().lastEventID == "\(app.store.epoch)-8")

            // The same through ?index= for clients that cannot set headers.
            let byQuery = try await SSEWatcher(port: app.port, path: "/services/web/watch?index=\(app.store.epoch)-6")
            #expect(try await byQuery.next(2).map(\.lastEventID) == [7, 8].map { "\(app.store.epoch)-\($0)" })
        }
    }

    @Test(arguments: ["too-old", "future", "garbage", "other-epoch"])
    func `an unusable resume point gets a reset with a full snapshot`(kind: String) async throws {
        var settings = ServerSettings.testing
        settings.watch.history = 4
        try await withRosterServer(settings: settings) { app in
            let client = try await RawHTTPConnection(port: app.port)
            for port in 1...8 { _ = try await register(client, port: port) }
            let epoch = app.store.epoch
            let lastEventID = switch kind {
            case "too-old": "\(epoch)-2"
            case "future": "\(epoch)-99"
            case "garbage": "not an id"
            default: "0123456789abcdef-5"
            }
            let watcher = try await SSEWatcher(port: app.port, path: "/services/web/watch", lastEventID: lastEventID)
            let reset = try await watcher.next()
            #expect(reset.type == "reset")
            #expect(reset.lastEventID == "\(epoch)-8")
            #expect(try data(reset)["instances"]?.arrayValue?.count == 8)
            #expect(try data(reset)["index"] == 8)
            _ = try await register(client, port: 9)
            #expect(try await watcher.next().type == "register")
        }
    }

    @Test func `the oldest index still in the log resumes without a reset`() async throws {
        var settings = ServerSettings.testing
        settings.watch.history = 4
        try await withRosterServer(settings: settings) { app in
            let client = try await RawHTTPConnection(port: app.port)
            for port in 1...8 { _ = try await register(client, port: port) }
            // The log holds 5…8, so resuming after 4 needs nothing that is gone.
            let watcher = try await SSEWatcher(port: app.port, path: "/services/web/watch", lastEventID: "\(app.store.epoch)-4")
            #expect(try await watcher.next(4).map(\.type) == ["register", "register", "register", "register"])
        }
    }

    @Test func `a snapshot taken mid-burst plus its events rebuilds the final state`() async throws {
        for round in 0..<3 {
            try await withRosterServer { app in
                let writers = 4, perWriter = 500
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for writer in 0..<writers {
                        group.addTask {
                            let client = try await RawHTTPConnection(port: app.port)
                            for i in 0..<perWriter {
                                let id = try await register(client, "burst", port: writer * perWriter + i + 1)
                                if i % 10 == 0 { _ = try await client.request("DELETE", "/services/burst/\(id)") }
                            }
                        }
                    }
                    // Connect while the writers run.
                    _ = await eventually { app.store.index > UInt64(200 + round * 300) }
                    let watcher = try await SSEWatcher(port: app.port, path: "/services/burst/watch")
                    let snapshot = try await watcher.next()
                    var state = Set(try data(snapshot)["instances"]!.arrayValue!.map { $0["id"]!.stringValue! })
                    var lastIndex = Int(try data(snapshot)["index"]!.numberValue!.intValue!)
                    try await group.waitForAll()
                    let finalIndex = Int(app.store.index)
                    while lastIndex < finalIndex {
                        let event = try await watcher.next()
                        let body = try data(event)
                        let index = body["index"]!.numberValue!.intValue!
                        #expect(index == lastIndex + 1, "gap or duplicate at \(index)")
                        lastIndex = index
                        let id = body["instance"]!["id"]!.stringValue!
                        if event.type == "register" { state.insert(id) } else if event.type == "deregister" { state.remove(id) }
                    }
                    let client = try await RawHTTPConnection(port: app.port)
                    let final = Set(try await client.request("GET", "/services/burst").json!.arrayValue!.map { $0["id"]!.stringValue! })
                    #expect(state == final)
                    #expect(final.count == writers * perWriter - writers * (perWriter / 10))
                    await watcher.close()
                }
            }
        }
    }

    @Test func `100 watchers each receive every event of a burst in order`() async throws {
        try await withRosterServer { app in
            var watchers: [SSEWatcher] = []
            for _ in 0..<100 {
                let watcher = try await SSEWatcher(port: app.port, path: "/watch")
                #expect(try await watcher.next().type == "snapshot")
                watchers.append(watcher)
            }
            #expect(app.store.watcherCount == 100)
            let client = try await RawHTTPConnection(port: app.port)
            for port in 1...50 { _ = try await register(client, "fan", port: port) }
            let expected = (1...50).map { "\(app.store.epoch)-\($0)" }
            try await withThrowingTaskGroup(of: [String].self) { group in
                for watcher in watchers {
                    group.addTask { try await watcher.next(50).map(\.lastEventID) }
                }
                for try await ids in group { #expect(ids == expected) }
            }
        }
    }

    @Test func `a watcher that never reads does not delay others and is dropped when its queue overflows`() async throws {
        var settings = ServerSettings.testing
        settings.watch.queueSize = 8
        try await withRosterServer(settings: settings) { app in
            // Never read: its socket buffers fill up, then its queue, then it is cut.
            let stuck = try await RawHTTPConnection(port: app.port)
            try await stuck.send("GET /watch HTTP/1.1\r\nHost: a\r\n\r\n")
            let healthy = try await SSEWatcher(port: app.port, path: "/watch")
            _ = try await healthy.next()
            #expect(await eventually { app.store.watcherCount == 2 })

            let metadata = "{" + (0..<64).map { #""k\#($0)":"\#(String(repeating: "x", count: 1000))""# }.joined(separator: ",") + "}"
            let client = try await RawHTTPConnection(port: app.port)
            var count = 0
            let start = ContinuousClock.now
            while app.store.watcherCount == 2 && count < 2000 {
                count += 1
                _ = try await register(client, "big", port: count, metadata: metadata)
                // The reader keeps up: every event arrives.
                #expect(try await healthy.next(timeout: .seconds(5)).lastEventID == "\(app.store.epoch)-\(count)")
            }
            #expect(app.store.watcherCount == 1, "the stuck watcher was dropped after \(count) events")
            print("stuck watcher dropped after \(count) events of ~66 KB in \(ContinuousClock.now - start)")
            #expect(await stuck.waitForClose(timeout: .seconds(5)))
            _ = try await register(client, "big", port: 9999)
            #expect(try await healthy.next().type == "register")
        }
    }

    @Test func `a watcher that reads late still gets every large event whole and in order`() async throws {
        try await withRosterServer { app in
            // It reads nothing until all are sent: its socket buffer fills, immediate writes go out in part
            // and then not at all, and the stream finishes them; the bytes must still frame every event.
            let late = try await SSEWatcher(port: app.port, path: "/services/big/watch")
            #expect(try await late.next().type == "snapshot")
            let metadata = "{" + (0..<32).map { #""k\#($0)":"\#(String(repeating: "x", count: 1000))""# }.joined(separator: ",") + "}"
            let client = try await RawHTTPConnection(port: app.port)
            for port in 1...150 { _ = try await register(client, "big", port: port, metadata: metadata) }
            let events = try await late.next(150, timeout: .seconds(20))
            #expect(events.map(\.lastEventID) == (1...150).map { "\(app.store.epoch)-\($0)" })
            for event in events {
                #expect(try data(event)["instance"]?["metadata"]?.objectValue?.count == 32)
            }
        }
    }

    @Test func `watch all follows chosen services only`() async throws {
        try await withRosterServer { app in
            let client = try await RawHTTPConnection(port: app.port)
            _ = try await register(client, "a", port: 1)
            _ = try await register(client, "c", port: 1)
            let watcher = try await SSEWatcher(port: app.port, path: "/watch?service=a&service=b")
            let snapshot = try await watcher.next()
            #expect(try data(snapshot)["instances"]?.arrayValue?.map { $0["name"] } == ["a"])
            _ = try await register(client, "c", port: 2)
            _ = try await register(client, "b", port: 2)
            #expect(try data(try await watcher.next())["service"] == "b")
            #expect(try await client.request("GET", "/watch?service=-bad").status == 400)
        }
    }

    @Test func `silence brings keepalive comments`() async throws {
        var settings = ServerSettings.testing
        settings.watch.keepalive = .milliseconds(100)
        try await withRosterServer(settings: settings) { app in
            let watcher = try await SSEWatcher(port: app.port, path: "/watch")
            _ = try await watcher.next()
            // Several arrive each second on an idle machine; a loaded one gets up to 5 s for two.
            for _ in 0..<10 where await watcher.keepalives < 2 {
                await watcher.drain(for: .milliseconds(500))
            }
            #expect(await watcher.keepalives >= 2)
        }
    }

    @Test func `graceful shutdown ends every stream with the terminating chunk`() async throws {
        let app = try RosterApplication(settings: .testing, logger: .silent)
        let watcher = try await withRosterServer(app) { app in
            let watcher = try await SSEWatcher(port: app.port, path: "/watch")
            _ = try await watcher.next()
            return watcher
        }
        #expect(await watcher.waitForEnd(timeout: .seconds(2)))
        #expect(app.store.watcherCount == 0)
    }

    @Test func `a closed watcher is forgotten and HEAD leaves nothing behind`() async throws {
        try await withRosterServer { app in
            let watcher = try await SSEWatcher(port: app.port, path: "/watch")
            _ = try await watcher.next()
            #expect(app.store.watcherCount == 1)
            await watcher.close()
            // The next write (a keepalive or event) fails and frees it.
            let client = try await RawHTTPConnection(port: app.port)
            _ = try await register(client, port: 1)
            _ = try await register(client, port: 2)
            #expect(await eventually { app.store.watcherCount == 0 })
            let head = try await client.request("HEAD", "/watch")
            #expect(head.status == 200)
            #expect(app.store.watcherCount == 0)
        }
    }

    @Test func `health changes stream as health_change events`() async throws {
        let clock = ManualClock()
        let target = TestHTTPTarget()
        try target.start()
        target.set(status: 500)
        let app = try RosterApplication(settings: .testing, clock: clock, logger: .silent, healthScheduling: .init(jitter: 0, randomizeFirstProbe: false))
        try await withRosterServer(app) { app in
            let watcher = try await SSEWatcher(port: app.port, path: "/services/web/watch")
            _ = try await watcher.next()
            let client = try await RawHTTPConnection(port: app.port)
            _ = try await client.request("POST", "/services", body: #"{"name":"web","host":"127.0.0.1","port":1,"health_check":{"url":"\#(target.url)","interval":1,"timeout":0.5,"unhealthy_threshold":1}}"#)
            #expect(try await watcher.next().type == "register")
            await clock.waitForSleepers()
            clock.advance(by: .seconds(1))
            let change = try await watcher.next()
            #expect(change.type == "health_change")
            #expect(try data(change)["from"] == "healthy")
            #expect(try data(change)["to"] == "unhealthy")
            #expect(try data(change)["reason"] == "http_500")
            #expect(try data(change)["instance"]?["status"] == "unhealthy")
        }
        await target.stop()
    }
}
