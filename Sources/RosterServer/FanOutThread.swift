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

/// The one thread that delivers committed changes to parked watchers, at a lower CPU priority
/// (nice +10) than the threads that answer requests.
///
/// A change to a service with many watchers costs a system call per watcher (an immediate write, see
/// `WatchSubscription.wake()`). Done on the committing request's task, those calls delay that connection's
/// next request; done on the cooperative pool, they queue ahead of other requests. On this thread the kernel
/// scheduler interleaves them with request work and favours the latter, so watchers cost registrations little
/// while events still go out within milliseconds. One thread per process serves every store; it is started
/// on first use and lives as long as the process.
final class FanOutThread: Sendable {
    static let shared = FanOutThread()

    private struct Work {
        /// Stores with changes to hand to their watchers (`RegistryStore.deliverPendingChanges`).
        var stores: [RegistryStore] = []
        var subscriptions: [WatchSubscription] = []
    }
    private let queue = Mutex(Work())
    private let signal = DispatchSemaphore(value: 0)

    private init() {
        let thread = Thread { [self] in run() }
        thread.name = "roster-fan-out"
        thread.start()
    }

    /// Hands subscriptions over to be woken; returns at once.
    func wake(_ subscriptions: [WatchSubscription]) {
        guard !subscriptions.isEmpty else { return }
        queue.withLock { $0.subscriptions += subscriptions }
        signal.signal()
    }

    /// Hands `store`'s pending changes to its watchers and wakes them, on this thread; returns at once.
    func deliver(for store: RegistryStore) {
        queue.withLock { $0.stores.append(store) }
        signal.signal()
    }

    private func run() {
        // On Linux the nice value is per thread, and `who == 0` names the calling thread.
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
        while true {
            signal.wait()
            var work = queue.withLock { pending in
                defer { pending = Work() }
                return pending
            }
            // A store queued twice before this thread ran has nothing left the second time.
            for store in work.stores { work.subscriptions += store.deliverPendingChanges() }
            for subscription in work.subscriptions { subscription.wake() }
        }
    }
}
