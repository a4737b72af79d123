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

/// Wakes watch streams after writers queued changes for them, so a registration's request
/// path does one wake-up however many watchers follow the service.
public struct WatchFanOut: Service {
    let store: RegistryStore

    public init(store: RegistryStore) {
        self.store = store
    }

    public func run() async throws {
        store.setFanOutRunning(true)
        defer { store.setFanOutRunning(false) }
        await withGracefulShutdownHandler {
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                await store.fanOut.wait()
                store.wakeWatchers()
            }
        } onGracefulShutdown: {
            store.fanOut.signal()
        }
    }
}

/// Sends keepalives on silent watches: every `keepalive / 4` it wakes each watch that has been
/// silent for `keepalive` (one loop for all watchers, instead of a timer per watcher).
public struct WatchKeepalive: Service {
    let store: RegistryStore
    let keepalive: Duration

    public init(store: RegistryStore, keepalive: Duration) {
        self.store = store
        self.keepalive = keepalive
    }

    public func run() async throws {
        let tick = max(.milliseconds(10), keepalive / 4)
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: tick)
                store.pokeSilentWatches(silence: keepalive)
            }
        }
    }
}
