import Foundation
import RosterCore
import Testing

@Suite(.timeLimit(.minutes(2))) struct RegistryTests {
    let t0 = ContinuousClock.now
    let wall = Date(timeIntervalSince1970: 1_790_000_000)

    func registration(_ service: String = "web", host: String = "10.0.0.5", port: Int = 8080, ttl: Duration = .seconds(30)) -> Registration {
        Registration(service: service, host: host, port: port, metadata: ["version": "1.4.2"], ttl: ttl)
    }

    @Test func `register takes the next index and is listed`() throws {
        var registry = Registry()
        let id = UUID()
        let changes = try registry.register(registration(), id: id, now: t0, wallNow: wall)
        #expect(changes.count == 1)
        #expect(changes[0].index == 1)
        #expect(changes[0].kind == .registered)
        #expect(registry.index == 1)
        #expect(registry.instances(of: "web", now: t0).map(\.id) == [id])
        #expect(registry.instances(of: "web", now: t0)[0].deadline == t0 + .seconds(30))
        #expect(registry.instances(of: "api", now: t0).isEmpty)
    }

    @Test func `same address in the same service while live is a conflict carrying the holder`() throws {
        var registry = Registry()
        let first = UUID()
        _ = try registry.register(registration(), id: first, now: t0, wallNow: wall)
        #expect(throws: RegistryError.instanceExists(first)) {
            try registry.register(registration(), id: UUID(), now: t0 + .seconds(29), wallNow: wall)
        }
        #expect(registry.index == 1)
        // Another service may use the same address.
        _ = try registry.register(registration("api"), id: UUID(), now: t0, wallNow: wall)
        #expect(registry.index == 2)
    }

    @Test func `an expired holder of the address is expired first, then the new instance registers`() throws {
        var registry = Registry()
        let first = UUID(), second = UUID()
        _ = try registry.register(registration(ttl: .seconds(2)), id: first, now: t0, wallNow: wall)
        let changes = try registry.register(registration(), id: second, now: t0 + .seconds(2), wallNow: wall)
        #expect(changes.map(\.kind) == [.deregistered(.expired), .registered])
        #expect(changes.map(\.index) == [2, 3])
        #expect(changes[0].instance.id == first)
        #expect(registry.instances(of: "web", now: t0 + .seconds(2)).map(\.id) == [second])
        // The stale heap entry of the first lease does not expire anything later.
        #expect(registry.expire(now: t0 + .seconds(3), wallNow: wall).isEmpty)
    }

    @Test func `an instance is gone for readers the moment its deadline passes`() throws {
        var registry = Registry()
        let id = UUID()
        _ = try registry.register(registration(ttl: .seconds(2)), id: id, now: t0, wallNow: wall)
        let almost = t0 + .seconds(2) - .nanoseconds(1)
        #expect(registry.instance(id, service: "web", now: almost)?.id == id)
        #expect(registry.instance(id, service: "web", now: t0 + .seconds(2)) == nil)
        #expect(registry.instances(of: "web", now: t0 + .seconds(2)).isEmpty)
        #expect(registry.serviceCounts(now: t0 + .seconds(2)).isEmpty)
        #expect(registry.storedCount == 1)
        #expect(throws: RegistryError.instanceNotFound) { try registry.renew(id, service: "web", now: t0 + .seconds(2)) }
    }

    @Test func `renew moves the deadline and repeated renewals just reset it`() throws {
        var registry = Registry()
        let id = UUID()
        _ = try registry.register(registration(ttl: .seconds(10)), id: id, now: t0, wallNow: wall)
        for step in 1...100 {
            let renewed = try registry.renew(id, service: "web", now: t0 + .milliseconds(step * 50))
            #expect(renewed.deadline == t0 + .milliseconds(step * 50) + .seconds(10))
        }
        #expect(registry.index == 1)
        #expect(registry.expire(now: t0 + .seconds(14), wallNow: wall).isEmpty)
        let expired = registry.expire(now: t0 + .seconds(15), wallNow: wall)
        #expect(expired.map(\.instance.id) == [id])
        #expect(expired.map(\.kind) == [.deregistered(.expired)])
        #expect(registry.index == 2)
        #expect(registry.storedCount == 0)
    }

    @Test func `renew and deregister check the service name`() throws {
        var registry = Registry()
        let id = UUID()
        _ = try registry.register(registration(), id: id, now: t0, wallNow: wall)
        #expect(throws: RegistryError.instanceNotFound) { try registry.renew(id, service: "api", now: t0) }
        #expect(throws: RegistryError.instanceNotFound) { try registry.deregister(id, service: "api", now: t0, wallNow: wall) }
        #expect(registry.instance(id, service: "api", now: t0) == nil)
    }

    @Test func `deregister removes the instance once and the address becomes free`() throws {
        var registry = Registry()
        let id = UUID()
        _ = try registry.register(registration(), id: id, now: t0, wallNow: wall)
        let change = try registry.deregister(id, service: "web", now: t0, wallNow: wall)
        #expect(change.kind == .deregistered(.deregistered))
        #expect(change.index == 2)
        #expect(throws: RegistryError.instanceNotFound) { try registry.deregister(id, service: "web", now: t0, wallNow: wall) }
        #expect(registry.instances(of: "web", now: t0).isEmpty)
        _ = try registry.register(registration(), id: UUID(), now: t0, wallNow: wall)
        #expect(registry.index == 3)
        // A deregistered lease never expires later.
        #expect(registry.expire(now: t0 + .seconds(31), wallNow: wall).map(\.instance.id) != [id])
    }

    @Test func `expiry pops only what is due, earliest deadline first`() throws {
        var registry = Registry()
        var ids: [UUID] = []
        for ttl in [5, 1, 3, 2, 4] {
            let id = UUID()
            ids.append(id)
            _ = try registry.register(registration(port: 8000 + ttl, ttl: .seconds(ttl)), id: id, now: t0, wallNow: wall)
        }
        let expired = registry.expire(now: t0 + .seconds(3), wallNow: wall)
        #expect(expired.map(\.instance.port) == [8001, 8002, 8003])
        #expect(expired.map(\.index) == [6, 7, 8])
        #expect(registry.instances(of: "web", now: t0 + .seconds(3)).map(\.port) == [8005, 8004])
        #expect(registry.nextDeadline() == t0 + .seconds(4))
    }

    @Test func `service counts list only services with live instances, sorted`() throws {
        var registry = Registry()
        _ = try registry.register(registration("web", port: 1), id: UUID(), now: t0, wallNow: wall)
        _ = try registry.register(registration("web", port: 2), id: UUID(), now: t0, wallNow: wall)
        _ = try registry.register(registration("api", port: 1, ttl: .seconds(1)), id: UUID(), now: t0, wallNow: wall)
        #expect(registry.serviceCounts(now: t0).map(\.service) == ["api", "web"])
        #expect(registry.serviceCounts(now: t0).map(\.instances) == [1, 2])
        #expect(registry.serviceCounts(now: t0 + .seconds(1)).map(\.service) == ["web"])
    }
}

@Suite(.timeLimit(.minutes(2))) struct LeaseTableTests {
    let t0 = ContinuousClock.now

    @Test func `stale entries from renewals are compacted so memory stays bounded`() {
        var table = LeaseTable<Int>()
        table.set(1, deadline: t0 + .seconds(100))
        for i in 0..<10_000 { table.set(1, deadline: t0 + .seconds(100) + .milliseconds(i)) }
        #expect(table.count == 1)
        #expect(table.heapCount <= 2 * 1 + 1024 + 1)
        #expect(table.popExpired(at: t0 + .seconds(100) + .milliseconds(9_998)).isEmpty)
        #expect(table.count == 1)
        #expect(table.popExpired(at: t0 + .seconds(100) + .milliseconds(9_999)).map(\.id) == [1])
        #expect(table.count == 0)
    }

    @Test func `removed leases never expire`() {
        var table = LeaseTable<Int>()
        table.set(1, deadline: t0 + .seconds(1))
        table.set(2, deadline: t0 + .seconds(2))
        table.remove(1)
        #expect(table.popExpired(at: t0 + .seconds(5)).map(\.id) == [2])
        #expect(table.nextDeadline() == nil)
    }
}

@Suite(.timeLimit(.minutes(2))) struct EventLogTests {
    func change(_ index: UInt64) -> RegistryChange {
        let registration = Registration(service: "w", host: "h", port: Int(index), ttl: .seconds(1))
        return RegistryChange(
            index: index, kind: .registered,
            instance: Instance(id: UUID(), registration: registration, registeredAt: Date(), now: .now), at: Date())
    }

    @Test func `changes after an index inside the buffer are exact; outside it is nil`() {
        var log = EventLog(capacity: 4)
        #expect(log.changes(after: 0) == [])
        for i in 1...6 { log.append(change(UInt64(i))) }
        #expect(log.oldestIndex == 3)
        #expect(log.changes(after: 2)?.map(\.index) == [3, 4, 5, 6])
        #expect(log.changes(after: 4)?.map(\.index) == [5, 6])
        #expect(log.changes(after: 6) == [])
        #expect(log.changes(after: 1) == nil)
        #expect(log.changes(after: 7) == nil)
    }
}
