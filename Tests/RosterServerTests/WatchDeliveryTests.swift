import Foundation
import RosterCore
@testable import RosterServer
import RosterTesting
import Testing

/// Handing committed changes to watchers' queues after the commit (`RegistryStore.flushWatchWakeups`):
/// index order and no gaps while many threads commit and hand over at once, and no change owed twice
/// to a watcher that subscribes while changes are pending.
@Suite(.timeLimit(.minutes(1))) struct WatchDeliveryTests {
    func registration(_ i: Int, service: String = "web") -> Registration {
        Registration(service: service, host: "10.0.\(i / 250).\(i % 250)", port: 1000 + i, metadata: [:], ttl: .seconds(60), healthCheck: nil)
    }

    /// Takes `count` changes from `subscription`.
    func take(_ count: Int, from subscription: WatchSubscription) async -> [UInt64] {
        var indexes: [UInt64] = []
        while indexes.count < count {
            switch await subscription.next() {
            case .change(let change): indexes.append(change.index)
            case .idle, .flush: continue
            case .closed: return indexes
            }
        }
        return indexes
    }

    @Test func `changes committed by many threads at once reach every watcher in index order without gaps`() async throws {
        let store = RegistryStore(clock: ManualClock(), logger: .silent)
        let watchers = (0..<8).map { _ in store.watch(scope: .services(["web"]), resumeAfter: nil, queueSize: 10_000).0 }
        let writers = 8, perWriter = 250
        // Each writer's commit hands over pending changes itself, racing the others.
        await withTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    for i in 0..<perWriter { _ = try? store.register(registration(writer * perWriter + i)) }
                }
            }
        }
        #expect(store.index == UInt64(writers * perWriter))
        for watcher in watchers {
            let indexes = await take(writers * perWriter, from: watcher)
            let expected = Array(1...UInt64(writers * perWriter))
            let firstWrong = zip(indexes, expected).first { $0 != $1 }
            #expect(indexes.count == expected.count && firstWrong == nil, "got \(indexes.count) changes; first out of place: \(String(describing: firstWrong))")
        }
    }

    @Test func `a watcher that subscribes while changes are pending is not handed those changes again`() async throws {
        let store = RegistryStore(clock: ManualClock(), logger: .silent)
        let early = store.watch(scope: .services(["web"]), resumeAfter: nil, queueSize: 100).0
        // Inside a request handler the hand-over waits for the response: these two stay pending.
        try RegistryStore.$deferWakeups.withValue(true) {
            _ = try store.register(registration(1))
            _ = try store.register(registration(2))
        }
        let (late, start) = store.watch(scope: .services(["web"]), resumeAfter: nil, queueSize: 100)
        guard case .snapshot(let instances, let index) = start else {
            Issue.record("expected a snapshot, got \(start)")
            return
        }
        #expect(instances.count == 2 && index == 2)
        _ = try store.register(registration(3))
        #expect(await take(3, from: early) == [1, 2, 3])
        #expect(await take(1, from: late) == [3])
        #expect(late.queuedCount == 0)
    }
}

/// The fan-out thread's starvation guard, with a thread that never runs.
@Suite(.timeLimit(.minutes(1))) struct FanOutStarvationTests {
    @Test func `work queued for longer than the limit is done by the caller of runIfStarved`() async throws {
        let starved = FanOutThread(startThread: false)
        let store = RegistryStore(clock: ManualClock(), logger: .silent)
        let (subscription, _) = store.watch(scope: .services(["web"]), resumeAfter: nil, queueSize: 10)
        try RegistryStore.$deferWakeups.withValue(true) {
            _ = try store.register(Registration(service: "web", host: "10.0.0.1", port: 80, metadata: [:], ttl: .seconds(60), healthCheck: nil))
        }
        starved.deliver(for: store)
        starved.runIfStarved()
        #expect(subscription.queuedCount == 0, "not yet: queued for less than the limit")
        // Real time on purpose: the limit is about the scheduler, not a lease.
        try await Task.sleep(for: .nanoseconds(Int64(FanOutThread.starvationLimit) + 5_000_000))
        starved.runIfStarved()
        #expect(subscription.queuedCount == 1)
        starved.runIfStarved()
        #expect(subscription.queuedCount == 1, "the work ran once")
    }
}
