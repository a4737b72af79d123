import ServiceLifecycle

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
