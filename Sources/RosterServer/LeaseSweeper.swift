import Logging
import ServiceLifecycle

/// Expires leases every `interval` (the `sweep_interval` setting).
///
/// Readers already treat an instance as gone at its deadline; the sweeper frees it and records
/// the expiry within one interval. Each pass costs O(expired · log n).
public struct LeaseSweeper: Service {
    let store: RegistryStore
    let interval: Duration

    public init(store: RegistryStore, interval: Duration) {
        self.store = store
        self.interval = interval
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown { try await self.loop() }
    }

    private func loop() async throws {
        var next = store.clock.now + interval
        while !Task.isCancelled {
            do {
                try await store.clock.sleep(until: next)
            } catch {
                return
            }
            store.sweep()
            next = next + interval
            let now = store.clock.now
            if next <= now { next = now + interval }
        }
    }
}
