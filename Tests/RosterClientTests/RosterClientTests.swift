#if canImport(FoundationEssentials)
import FoundationEssentials
#endif
import Foundation
import RosterClient
import RosterServer
import RosterTesting
import Synchronization
import Testing

/// A client of the server under test; backoff and heartbeat jitter fixed at their midpoint.
func makeClient(
    ports: [UInt16], clock: any Clock<Duration> = ContinuousClock(), token: String? = nil
) throws -> RosterClient {
    let addresses = try ports.map { try RegistryAddress(parsing: "http://127.0.0.1:\($0)") }
    return RosterClient(
        settings: ClientSettings(registry: addresses, token: token), requestTimeout: .seconds(5),
        backoff: Backoff(random: { 0.5 }), clock: clock, logger: .silent)
}

/// A loopback port with nothing listening on it.
func closedPort() throws -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return UInt16(bigEndian: address.sin_port)
}

@Suite(.timeLimit(.minutes(2))) struct RosterClientCallTests {
    @Test func `register, look up, read health, renew and deregister`() async throws {
        try await withRosterServer { app in
            let client = try makeClient(ports: [app.port])
            let instance = try await client.registerOnce(Registration(
                service: "web", host: "127.0.0.1", port: 9001, metadata: ["version": "1.4.2"], ttl: .seconds(30)))
            #expect(instance.service == "web" && instance.port == 9001 && instance.metadata == ["version": "1.4.2"])
            #expect(instance.ttl == .seconds(30) && instance.status == "healthy")

            let list = try await client.instances(of: "web")
            #expect(list.instances.map(\.id) == [instance.id])
            #expect(list.index == 1 && list.staleness == nil)
            #expect(try await client.services() == [ServiceSummary(name: "web", instances: 1, healthy: 1)])
            #expect(try await client.instance(service: "web", id: instance.id).id == instance.id)
            let health = try await client.health(service: "web", id: instance.id)
            #expect(health.status == "healthy" && health.checkURL == nil && health.lastOutcome == nil)
            #expect(try await client.heartbeat(service: "web", id: instance.id).ttl == .seconds(30))

            try await client.deregister(service: "web", id: instance.id)
            #expect(try await client.instances(of: "web").instances.isEmpty)
        }
    }

    @Test func `errors are typed with the problem's code and field`() async throws {
        try await withRosterServer { app in
            let client = try makeClient(ports: [app.port])
            await #expect(throws: RosterClientError.problem(
                status: 400, code: "invalid_field", detail: "port must be an integer from 1 to 65535, got 70000", field: "port")
            ) {
                try await client.registerOnce(Registration(service: "web", host: "127.0.0.1", port: 70000))
            }
            do throws(RosterClientError) {
                try await client.deregister(service: "web", id: "6f1c1c9e-8f3a-4a55-9f0e-3f8e2a1b7c10")
                Issue.record("deregistering an unknown instance succeeded")
            } catch {
                #expect(error.status == 404 && error.code == "instance_not_found")
            }
            // A name with URL syntax in it stays one path segment: the server refuses it as an invalid
            // service name (400 invalid_path) instead of listing x.
            _ = try await client.registerOnce(Registration(service: "x", host: "127.0.0.1", port: 9001))
            await #expect {
                _ = try await client.instances(of: "web/../x?y=1")
            } throws: { error in
                (error as? RosterClientError)?.code == "invalid_path"
            }
            #expect(try await client.instances(of: "x").instances.count == 1)
            // `.` and `..` are sent encoded, never as dot-segments that would change the path.
            for name in [".", ".."] {
                do throws(RosterClientError) {
                    _ = try await client.instances(of: name)
                    Issue.record("\(name) was looked up")
                } catch {
                    #expect(error.status == 400, "\(error)")
                }
                var iterator = client.watch(service: name).makeAsyncIterator()
                await #expect(throws: RosterClientError.self) { _ = try await iterator.next() }
            }
        }
    }

    @Test func `no registry answering is unreachable, naming every address`() async throws {
        let port = try closedPort()
        let client = try makeClient(ports: [port])
        await #expect(throws: RosterClientError.unreachable(attempts: [.init(address: "http://127.0.0.1:\(port)", reason: "connection_refused")])) {
            try await client.services()
        }
    }

    @Test func `a refusing first address fails over to the second`() async throws {
        try await withRosterServer { app in
            let client = try makeClient(ports: [try closedPort(), app.port])
            _ = try await client.registerOnce(Registration(service: "api", host: "127.0.0.1", port: 7000))
            #expect(try await client.instances(of: "api").instances.count == 1)
        }
    }

    @Test func `a 409 on register replaces the instance at the same address`() async throws {
        try await withRosterServer { app in
            let client = try makeClient(ports: [app.port])
            let stale = try await client.registerOnce(Registration(service: "web", host: "127.0.0.1", port: 9001, metadata: ["v": "1"]))
            let handle = try await client.register(Registration(service: "web", host: "127.0.0.1", port: 9001, metadata: ["v": "2"]))
            let listed = try await client.instances(of: "web").instances
            #expect(listed.map(\.id) == [handle.instanceID])
            #expect(handle.instanceID != stale.id && listed.first?.metadata == ["v": "2"])
            try await handle.deregister(using: client)
            #expect(try await client.instances(of: "web").instances.isEmpty)
        }
    }
}

@Suite(.timeLimit(.minutes(2))) struct RegistrationHandleTests {
    @Test func `heartbeats keep an instance alive across several TTLs while an unrenewed one expires`() async throws {
        let serverClock = ManualClock()
        let clientClock = ManualClock()
        try await withRosterServer(clock: serverClock) { app in
            let client = try makeClient(ports: [app.port], clock: clientClock)
            let handle = try await client.register(Registration(service: "web", host: "127.0.0.1", port: 9001, ttl: .seconds(3)))
            _ = try await client.registerOnce(Registration(service: "web", host: "127.0.0.1", port: 9002, ttl: .seconds(3)))
            // Jitter fixed at its midpoint: one heartbeat per second (TTL / 3).
            for beat in 1...10 {
                await clientClock.waitForSleepers(1)
                serverClock.advance(by: .seconds(1))
                clientClock.advance(by: .seconds(1))
                #expect(await eventually { handle.heartbeatCount == beat })
            }
            #expect(await eventually { app.store.instances(of: "web", includeUnhealthy: true).0.count == 1 })
            let listed = try await client.instances(of: "web").instances
            #expect(listed.map(\.id) == [handle.instanceID])
            #expect(handle.registrationCount == 1)
            await handle.stop()
        }
    }

    @Test func `after a registry restart the handle registers again within one heartbeat`() async throws {
        let clientClock = ManualClock()
        var settings = ServerSettings.testing
        let (handle, client, port) = try await withRosterServer(settings: settings) { app in
            let client = try makeClient(ports: [app.port], clock: clientClock)
            let handle = try await client.register(
                Registration(service: "web", host: "127.0.0.1", port: 9001, metadata: ["v": "1"], ttl: .seconds(3)))
            return (handle, client, app.port)
        }
        let firstID = handle.instanceID
        settings.listen = ListenAddress(host: "127.0.0.1", port: port)
        try await withRosterServer(settings: settings) { app in
            #expect(app.store.instances(of: "web", includeUnhealthy: true).0.isEmpty)
            await clientClock.waitForSleepers(1)
            clientClock.advance(by: .seconds(1))
            #expect(await eventually { handle.registrationCount == 2 })
            let listed = try await client.instances(of: "web").instances
            #expect(listed.map(\.id) == [handle.instanceID])
            #expect(handle.instanceID != firstID && listed.first?.metadata == ["v": "1"])
            try await handle.deregister(using: client)
            #expect(app.store.instances(of: "web", includeUnhealthy: true).0.isEmpty)
        }
    }
}

/// Events a background watch received, for tests.
final class EventLog: Sendable {
    private let events = Mutex<[WatchEvent]>([])
    func append(_ event: WatchEvent) { events.withLock { $0.append(event) } }
    var all: [WatchEvent] { events.withLock { $0 } }
    var types: [String] { all.map(\.type) }
}

@Suite(.timeLimit(.minutes(2))) struct RegistryWatchTests {
    @Test func `a watch starts with a snapshot and yields changes in order`() async throws {
        try await withRosterServer { app in
            let client = try makeClient(ports: [app.port])
            let first = try await client.registerOnce(Registration(service: "web", host: "127.0.0.1", port: 9001))
            let log = EventLog()
            let watch = client.watch(service: "web")
            let reader = Task {
                for try await event in watch { log.append(event) }
            }
            defer { reader.cancel() }
            #expect(await eventually { log.types == ["snapshot"] })
            let second = try await client.registerOnce(Registration(service: "web", host: "127.0.0.1", port: 9002))
            _ = try await client.registerOnce(Registration(service: "other", host: "127.0.0.1", port: 9003))
            try await client.deregister(service: "web", id: first.id)
            #expect(await eventually { log.types == ["snapshot", "register", "deregister"] })
            let events = log.all
            #expect(events.map(\.index) == [1, 2, 4])
            guard case .snapshot(_, let instances) = events[0], case .register(_, let registered) = events[1],
                case .deregister(_, let gone, let reason) = events[2]
            else { Issue.record("unexpected events \(events)"); return }
            #expect(instances.map(\.id) == [first.id] && registered.id == second.id)
            #expect(gone.id == first.id && reason == "deregistered")
            #expect(watch.instances.map(\.id) == [second.id] && watch.staleness == nil)
        }
    }

    @Test func `a watch survives a registry restart with a reset, and lookups answer from its cache meanwhile`() async throws {
        let clientClock = ManualClock()
        var settings = ServerSettings.testing
        let log = EventLog()
        let (client, watch, reader, port, firstID) = try await withRosterServer(settings: settings) { app in
            let client = try makeClient(ports: [app.port], clock: clientClock)
            let first = try await client.registerOnce(Registration(service: "web", host: "127.0.0.1", port: 9001))
            let watch = client.watch(service: "web")
            let reader = Task {
                for try await event in watch { log.append(event) }
            }
            #expect(await eventually { log.types == ["snapshot"] })
            return (client, watch, reader, app.port, first.id)
        }
        defer { reader.cancel() }
        // The registry is gone: the watch backs off on the client's clock; lookups use the cache.
        await clientClock.waitForSleepers(1)
        let cached = try await client.instances(of: "web")
        #expect(cached.instances.map(\.id) == [firstID])
        #expect(cached.staleness != nil && cached.index == 1)
        #expect(watch.staleness != nil)

        settings.listen = ListenAddress(host: "127.0.0.1", port: port)
        try await withRosterServer(settings: settings) { app in
            let fresh = try await client.registerOnce(Registration(service: "web", host: "127.0.0.1", port: 9002))
            for _ in 0..<10 where log.all.count < 2 {
                clientClock.advance(by: .seconds(30))
                _ = await eventually(within: .seconds(1)) { log.all.count >= 2 }
            }
            #expect(log.types == ["snapshot", "reset"])
            guard case .reset(let index, let instances) = log.all.last else { Issue.record("no reset"); return }
            #expect(index == 1 && instances.map(\.id) == [fresh.id])
            #expect(await eventually { watch.staleness == nil })
            #expect(try await client.instances(of: "web").staleness == nil)
        }
    }

    @Test func `a watch of a service the registry refuses ends with the problem`() async throws {
        try await withRosterServer { app in
            let client = try makeClient(ports: [app.port])
            var iterator = client.watch(services: ["not a name"]).makeAsyncIterator()
            do {
                _ = try await iterator.next()
                Issue.record("the watch yielded an event")
            } catch let error as RosterClientError {
                #expect(error.status == 400 && error.code == "invalid_query")
            }
        }
    }
}
