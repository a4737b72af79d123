#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import Foundation
import Synchronization

/// The one thread that hands committed changes to watchers and writes them to parked streams, at the
/// lowest CPU priority (`SCHED_IDLE`, sched(7)): it runs when the threads that answer requests, and the
/// clients on the same machine, leave a CPU free.
///
/// A change to a service with many watchers costs a queue append and a system call per watcher (an
/// immediate write, see `WatchSubscription.wake()`). Done on the request's thread after its response, that
/// work cost registrations +12 % (our reading: the client just woken waits on the same CPU); at nice +10
/// on this thread, p99 +45 %. At `SCHED_IDLE` any other thread preempts it at once, and 100 watchers
/// cost registration p50 −1.7 to +1.9 % in two runs (README, "Performance").
///
/// A saturated machine would starve it, so work never waits long: `runIfStarved()`, called after every
/// request, runs work that has been queued for more than `starvationLimit` on the caller's thread. Where
/// `SCHED_IDLE` is refused the thread runs at nice +10. One thread per process serves every store; it is
/// started on first use and lives as long as the process.
final class FanOutThread: Sendable {
    static let shared = FanOutThread()

    /// How long queued work may wait for this thread before a request's thread does it.
    static let starvationLimit: UInt64 = 20_000_000

    private struct Work {
        /// Stores with changes to hand to their watchers (`RegistryStore.deliverPendingChanges`).
        var stores: [RegistryStore] = []
        var subscriptions: [WatchSubscription] = []
        var isEmpty: Bool { stores.isEmpty && subscriptions.isEmpty }
    }
    private let queue = Mutex(Work())
    /// When the oldest queued work was queued (`DispatchTime` nanoseconds); 0 while none is.
    private let queuedSince = Atomic<UInt64>(0)
    private let signal = DispatchSemaphore(value: 0)

    /// - Parameter startThread: false only in tests, to play a starved thread.
    init(startThread: Bool = true) {
        guard startThread else { return }
        let thread = Thread { [self] in run() }
        thread.name = "roster-fan-out"
        thread.start()
    }

    /// Hands subscriptions over to be woken; returns at once.
    func wake(_ subscriptions: [WatchSubscription]) {
        guard !subscriptions.isEmpty else { return }
        enqueue { $0.subscriptions += subscriptions }
    }

    /// Hands `store`'s pending changes to its watchers and wakes them, on this thread; returns at once.
    func deliver(for store: RegistryStore) {
        enqueue { $0.stores.append(store) }
    }

    /// Runs the queued work on the calling thread if it has waited longer than `starvationLimit`.
    func runIfStarved() {
        let since = queuedSince.load(ordering: .relaxed)
        guard since != 0 else { return }
        let now = DispatchTime.now().uptimeNanoseconds
        guard now > since, now - since > Self.starvationLimit else { return }
        perform(take())
    }

    private func enqueue(_ add: (inout Work) -> Void) {
        queue.withLock { work in
            if work.isEmpty { queuedSince.store(DispatchTime.now().uptimeNanoseconds, ordering: .relaxed) }
            add(&work)
        }
        signal.signal()
    }

    private func take() -> Work {
        queue.withLock { work in
            defer {
                work = Work()
                queuedSince.store(0, ordering: .relaxed)
            }
            return work
        }
    }

    private func perform(_ work: Work) {
        var subscriptions = work.subscriptions
        // A store queued twice before the work ran has nothing left the second time.
        for store in work.stores { subscriptions += store.deliverPendingChanges() }
        for subscription in subscriptions { subscription.wake() }
    }

    private func run() {
        // On Linux the policy and the nice value are per thread, and 0 names the calling thread.
        var parameters = sched_param(sched_priority: 0)
        if sched_setscheduler(0, Self.idlePolicy, &parameters) != 0 {
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
        }
        while true {
            signal.wait()
            perform(take())
        }
    }

    /// `SCHED_IDLE` (Linux, <sched.h>); Glibc's module does not export it.
    private static let idlePolicy: Int32 = 5
}
