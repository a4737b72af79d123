import ServiceLifecycle
import Synchronization

/// What `GET /readyz` reports: ready once the sweeper and the prober run and the listener
/// accepts; not ready while starting, and again from the moment a graceful shutdown begins.
public final class Readiness: Sendable {
    /// The background loops readiness waits for.
    public enum Component: String, Sendable, CaseIterable {
        case sweeper
        case prober
    }

    private struct State {
        var running: Set<Component> = []
        var draining = false
    }

    private let state = Mutex(State())
    private let listener = Mutex<(@Sendable () -> Bool)?>(nil)

    init() {}

    /// Sets how to tell whether the HTTP listener accepts connections now (the server is built
    /// after the routes that report readiness).
    func watchListener(_ isAccepting: @escaping @Sendable () -> Bool) {
        listener.withLock { $0 = isAccepting }
    }

    func started(_ component: Component) { state.withLock { _ = $0.running.insert(component) } }
    func stopped(_ component: Component) { state.withLock { _ = $0.running.remove(component) } }
    func beginDraining() { state.withLock { $0.draining = true } }

    /// Why the server is not ready (`shutting down`, `sweeper not running`, …); empty when ready.
    public var problems: [String] {
        let (running, draining) = state.withLock { ($0.running, $0.draining) }
        var problems: [String] = []
        if draining { problems.append("shutting down") }
        for component in Component.allCases where !running.contains(component) {
            problems.append("\(component.rawValue) not running")
        }
        let isAccepting = listener.withLock { $0 }
        if !draining && !(isAccepting?() ?? false) { problems.append("listener not accepting") }
        return problems
    }

    public var isReady: Bool { problems.isEmpty }
}

/// Runs a service and marks its component running in `Readiness` for as long as it runs.
struct ReadinessTracked: Service {
    let service: any Service
    let component: Readiness.Component
    let readiness: Readiness

    func run() async throws {
        readiness.started(component)
        defer { readiness.stopped(component) }
        try await service.run()
    }
}
