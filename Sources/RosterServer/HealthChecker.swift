#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Curl
import HeapModule
import Logging
import RosterCore
import ServiceLifecycle
import Synchronization

/// Schedules and runs the active health probes of every instance that has a check.
///
/// Each instance's first probe starts at a random offset within its interval, later ones every
/// interval ±10 % (so many instances never fire together). Probes run concurrently up to
/// `health.max_concurrent_probes`; a probe never overlaps the previous probe of its instance.
/// Deregistered or expired instances are dropped at once and their in-flight probe cancelled.
/// Scheduling uses the injected clock; probes themselves are real HTTP with real timeouts.
public final class HealthChecker: Service, Sendable {
    /// Randomization of probe times (tests turn it off to count probes exactly).
    public struct Scheduling: Sendable {
        /// ± fraction of the interval applied to each next probe time.
        public var jitter: Double = 0.1
        /// Start each first probe at a random offset within the interval (else after one interval).
        public var randomizeFirstProbe = true
        public init(jitter: Double = 0.1, randomizeFirstProbe: Bool = true) {
            self.jitter = jitter
            self.randomizeFirstProbe = randomizeFirstProbe
        }
    }

    /// The `User-Agent` of every probe.
    public static let userAgent = "roster-health/\(RosterVersion.current)"
    /// Most body bytes a probe reads.
    public static let maxBodyBytes = 4096

    private struct Entry {
        var service: String
        var check: HealthCheck
        var due: ContinuousClock.Instant
        var inFlight: ProbeCancellation?
    }

    private struct Due: Comparable {
        var at: ContinuousClock.Instant
        var id: UUID
        static func < (a: Due, b: Due) -> Bool { a.at < b.at }
    }

    private struct State {
        var entries: [UUID: Entry] = [:]
        var queue = Heap<Due>()
        var inFlight = 0
        var stopped = false
    }

    private let state = Mutex(State())
    private let wake = WakeSignal()
    private let probesStarted = Atomic<Int>(0)
    let store: RegistryStore
    let client: CurlHTTPClient
    let maxConcurrentProbes: Int
    let scheduling: Scheduling
    let logger: Logger
    let metrics: HealthMetrics

    public init(
        store: RegistryStore, client: CurlHTTPClient, maxConcurrentProbes: Int, scheduling: Scheduling = .init(),
        logger: Logger, metrics: HealthMetrics = .none
    ) {
        self.metrics = metrics
        self.store = store
        self.client = client
        self.maxConcurrentProbes = maxConcurrentProbes
        self.scheduling = scheduling
        self.logger = logger
        store.observe { [weak self] changes in self?.handle(changes) }
    }

    /// Instances with a check that are scheduled (for tests and metrics).
    public var scheduledCount: Int { state.withLock { $0.entries.count } }
    /// Probes running now.
    public var inFlightCount: Int { state.withLock { $0.inFlight } }
    /// Probes started since the checker was created.
    public var startedCount: Int { probesStarted.load(ordering: .relaxed) }

    private func handle(_ changes: [RegistryChange]) {
        var cancelled: [ProbeCancellation] = []
        var scheduled = false
        let now = store.clock.now
        state.withLock { s in
            guard !s.stopped else { return }
            for change in changes {
                let id = change.instance.id
                switch change.kind {
                case .registered:
                    guard let check = change.instance.healthCheck else { continue }
                    let offset = scheduling.randomizeFirstProbe ? check.interval * Double.random(in: 0..<1) : check.interval
                    let due = now + offset
                    s.entries[id] = Entry(service: change.instance.service, check: check, due: due)
                    s.queue.insert(Due(at: due, id: id))
                    scheduled = true
                case .deregistered:
                    if let entry = s.entries.removeValue(forKey: id), let inFlight = entry.inFlight { cancelled.append(inFlight) }
                case .healthChanged:
                    continue
                }
            }
        }
        for cancellation in cancelled { cancellation.cancel() }
        if scheduled { wake.signal() }
    }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            await withGracefulShutdownHandler {
                while !Task.isCancelled && !state.withLock({ $0.stopped }) {
                    for (id, entry, cancellation) in takeDue() {
                        group.addTask { await self.probe(id, entry, cancellation) }
                    }
                    await sleepUntilNextDue()
                }
            } onGracefulShutdown: {
                self.stop()
            }
            stop()
        }
    }

    /// Stops scheduling and cancels probes in flight.
    func stop() {
        let inFlight = state.withLock { s -> [ProbeCancellation] in
            s.stopped = true
            return s.entries.values.compactMap(\.inFlight)
        }
        for cancellation in inFlight { cancellation.cancel() }
        wake.signal()
    }

    /// Pops every due entry while there is room under the concurrency cap and marks it in flight.
    private func takeDue() -> [(UUID, Entry, ProbeCancellation)] {
        let now = store.clock.now
        return state.withLock { s in
            var ready: [(UUID, Entry, ProbeCancellation)] = []
            while s.inFlight < maxConcurrentProbes, let top = s.queue.min, top.at <= now {
                s.queue.removeMin()
                guard var entry = s.entries[top.id], entry.due == top.at, entry.inFlight == nil else { continue }
                let cancellation = ProbeCancellation()
                entry.inFlight = cancellation
                s.entries[top.id] = entry
                s.inFlight += 1
                ready.append((top.id, entry, cancellation))
            }
            return ready
        }
    }

    private func sleepUntilNextDue() async {
        let next: ContinuousClock.Instant? = state.withLock { s in
            guard s.inFlight < maxConcurrentProbes else { return nil }
            while let top = s.queue.min {
                if let entry = s.entries[top.id], entry.due == top.at, entry.inFlight == nil { return top.at }
                s.queue.removeMin()
            }
            return nil
        }
        let clock = store.clock
        let wake = self.wake
        await withTaskGroup(of: Void.self) { group in
            if let next {
                group.addTask { try? await clock.sleep(until: next) }
            }
            group.addTask { await wake.wait() }
            await group.next()
            group.cancelAll()
        }
    }

    private func probe(_ id: UUID, _ entry: Entry, _ cancellation: ProbeCancellation) async {
        // An instance whose lease just ended is not probed (reading the store also expires it,
        // which drops its schedule through the observer).
        guard store.instance(id, service: entry.service).0 != nil else {
            state.withLock { $0.inFlight -= 1 }
            wake.signal()
            return
        }
        probesStarted.add(1, ordering: .relaxed)
        let check = entry.check
        let client = self.client
        let wallClock = store.clock
        let result: ProbeResult? = await withTaskGroup(of: ProbeResult?.self) { group in
            group.addTask { await Self.run(check, client: client, clock: wallClock) }
            group.addTask {
                await cancellation.wait()
                return nil
            }
            let first = await group.next()!
            group.cancelAll()
            return first
        }
        if let result {
            metrics.record(result)
            store.recordProbe(result, for: id, service: entry.service)
            logger.debug("probe finished", metadata: [
                "instance.id": "\(id.uuidString.lowercased())", "probe.reason": "\(result.reason)",
            ])
        }
        let now = store.clock.now
        state.withLock { s in
            s.inFlight -= 1
            guard var current = s.entries[id], current.inFlight === cancellation else { return }
            current.inFlight = nil
            let jitter = scheduling.jitter > 0 ? Double.random(in: -scheduling.jitter...scheduling.jitter) : 0
            current.due = max(current.due + current.check.interval * (1 + jitter), now)
            s.entries[id] = current
            s.queue.insert(Due(at: current.due, id: id))
        }
        wake.signal()
    }

    /// Runs one probe: a GET with its own timeout; 2xx passes, anything else fails with a reason.
    static func run(_ check: HealthCheck, client: CurlHTTPClient, clock: any RosterClock) async -> ProbeResult? {
        let started = ContinuousClock.now
        let request = CurlRequest(url: check.url, timeout: check.timeout, userAgent: userAgent, maxBodyBytes: maxBodyBytes)
        do throws(CurlError) {
            let response = try await client.perform(request)
            let passed = (200..<300).contains(response.status)
            let reason = passed ? "ok" : (300..<400).contains(response.status) ? "redirect" : "http_\(response.status)"
            return ProbeResult(passed: passed, reason: reason, httpStatus: response.status, duration: response.duration, at: clock.wallNow)
        } catch {
            if error.kind == .cancelled || error.kind == .shutdown { return nil }
            return ProbeResult(passed: false, reason: error.reason, httpStatus: nil, duration: ContinuousClock.now - started, at: clock.wallNow)
        }
    }
}

/// Lets the checker cancel one probe in flight.
final class ProbeCancellation: Sendable {
    private let signal = WakeSignal()
    func cancel() { signal.signal() }
    func wait() async { await signal.wait() }
}
