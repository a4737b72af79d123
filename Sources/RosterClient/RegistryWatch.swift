import Curl
import RosterAPI
import Synchronization

/// One event of a watch (`docs/openapi.yaml`, "Watch events").
public enum WatchEvent: Sendable, Equatable {
    /// The instances in scope when the stream started without a resume point.
    case snapshot(index: UInt64, instances: [RegisteredInstance])
    /// The resume point could not be honoured (too old, from another run of the registry, …): here is the
    /// full state again. Replace what you know with it.
    case reset(index: UInt64, instances: [RegisteredInstance])
    case register(index: UInt64, instance: RegisteredInstance)
    /// `reason` is `deregistered` (someone asked) or `expired` (the lease ran out).
    case deregister(index: UInt64, instance: RegisteredInstance, reason: String)
    /// The instance's health status changed `from` → `to` (`healthy`, `suspect`, `unhealthy`, `recovering`).
    case healthChange(index: UInt64, instance: RegisteredInstance, from: String, to: String, reason: String)

    /// The registry index of the event.
    public var index: UInt64 {
        switch self {
        case .snapshot(let index, _), .reset(let index, _), .register(let index, _),
            .deregister(let index, _, _), .healthChange(let index, _, _, _, _):
            index
        }
    }

    /// The SSE event type: `snapshot`, `reset`, `register`, `deregister` or `health_change`.
    public var type: String {
        switch self {
        case .snapshot: "snapshot"
        case .reset: "reset"
        case .register: "register"
        case .deregister: "deregister"
        case .healthChange: "health_change"
        }
    }

    /// Decodes the `data` of an event of SSE type `type`; `nil` for a type this client does not know.
    static func decode(type: String, data: String) throws(RosterClientError) -> WatchEvent? {
        let json: JSONValue
        do {
            json = try JSONReader.read(data, maxDepth: 64)
        } catch {
            throw .decoding("event \(type): \(error.message)")
        }
        guard let index = json["index"]?.numberValue.flatMap({ UInt64($0.literal) }) else {
            throw .decoding("event \(type) lacks an index")
        }
        func instances() throws(RosterClientError) -> [RegisteredInstance] {
            guard let array = json["instances"]?.arrayValue else { throw .decoding("event \(type) lacks instances") }
            var result: [RegisteredInstance] = []
            for item in array { result.append(try RegisteredInstance(json: item)) }
            return result
        }
        func instance() throws(RosterClientError) -> RegisteredInstance {
            guard let value = json["instance"] else { throw .decoding("event \(type) lacks an instance") }
            return try RegisteredInstance(json: value)
        }
        func text(_ key: String) -> String { json[key]?.stringValue ?? "" }
        switch type {
        case "snapshot": return .snapshot(index: index, instances: try instances())
        case "reset": return .reset(index: index, instances: try instances())
        case "register": return .register(index: index, instance: try instance())
        case "deregister": return .deregister(index: index, instance: try instance(), reason: text("reason"))
        case "health_change":
            return .healthChange(index: index, instance: try instance(), from: text("from"), to: text("to"), reason: text("reason"))
        default: return nil
        }
    }
}

/// What a watch last knew: the instances in scope, the index, and whether it is connected.
final class WatchCache: Sendable {
    struct State {
        var instances: [String: RegisteredInstance] = [:]
        var index: UInt64?
        var connected = false
        var lastHeard: ContinuousClock.Instant?
        /// `<epoch>-<index>` of the last event, sent as `Last-Event-ID` on reconnect.
        var lastEventID = ""
    }

    /// The services watched, or `nil` for all.
    let services: Set<String>?
    private let state = Mutex(State())

    init(services: Set<String>?) {
        self.services = services
    }

    func covers(_ service: String) -> Bool {
        services?.contains(service) ?? true
    }

    var lastEventID: String { state.withLock { $0.lastEventID } }

    func apply(_ event: WatchEvent, eventID: String) {
        state.withLock { state in
            switch event {
            case .snapshot(_, let instances), .reset(_, let instances):
                state.instances = Dictionary(instances.map { ($0.id, $0) }, uniquingKeysWith: { $1 })
            case .register(_, let instance), .healthChange(_, let instance, _, _, _):
                state.instances[instance.id] = instance
            case .deregister(_, let instance, _):
                state.instances[instance.id] = nil
            }
            state.index = event.index
            state.lastEventID = eventID
            state.lastHeard = .now
        }
    }

    func markConnected(_ connected: Bool) {
        state.withLock { state in
            state.connected = connected
            if connected { state.lastHeard = .now }
        }
    }

    func heardFromRegistry() {
        state.withLock { $0.lastHeard = .now }
    }

    /// The cached instances of `service` (all services for `nil`), or `nil` before the first snapshot.
    func state(of service: String?) -> (instances: [RegisteredInstance], index: UInt64?, staleness: Duration?)? {
        state.withLock { state in
            guard state.index != nil else { return nil }
            let instances = state.instances.values
                .filter { service == nil || $0.service == service }
                .sorted { ($0.service, $0.registeredAt, $0.id) < ($1.service, $1.registeredAt, $1.id) }
            let staleness: Duration? = state.connected ? nil : state.lastHeard.map { ContinuousClock.now - $0 }
            return (instances, state.index, staleness)
        }
    }
}

/// A watch of one service (`GET /services/{name}/watch`) or of several or all (`GET /watch`), as an
/// `AsyncSequence` of `WatchEvent`s.
///
/// Iterating connects and yields a `snapshot` first. When the stream breaks (the registry restarts, the
/// network drops, no byte arrives for `idleTimeout`), it reconnects with `Last-Event-ID`, waiting
/// `client.backoff` (exponential, full jitter) between tries, failing over between registry addresses, and
/// carries on with exactly the missed events, or with a `reset` when the registry cannot replay them (it
/// restarted, or the history is gone). Errors that retrying cannot fix (401, 403, 404, 400) end the sequence
/// by throwing `.problem`; cancelling the iterating task ends it by throwing `CancellationError`.
///
/// While it is iterated, the watch keeps the last known instances (`instances`, `staleness`), and
/// `RosterClient.instances(of:)` answers from them when no registry can be reached.
public struct RegistryWatch: AsyncSequence, Sendable {
    public typealias Element = WatchEvent
    public typealias Failure = any Error

    let client: RosterClient
    let path: String
    let cache: WatchCache
    /// A stream with no byte (not even a keepalive comment) for this long is treated as broken.
    public let idleTimeout: Duration

    /// The last known instances in scope, sorted by service, registration time and ID.
    public var instances: [RegisteredInstance] { cache.state(of: nil)?.instances ?? [] }
    /// `nil` while connected (or before the first event); otherwise the time since the registry was last heard.
    public var staleness: Duration? { cache.state(of: nil)?.staleness }

    public func makeAsyncIterator() -> Iterator {
        Iterator(driver: WatchDriver(client: client, path: path, cache: cache, idleTimeout: idleTimeout))
    }

    public struct Iterator: AsyncIteratorProtocol {
        let driver: WatchDriver

        public mutating func next() async throws -> WatchEvent? {
            try await driver.next()
        }
    }
}

extension RosterClient {
    /// Watches one service; see `RegistryWatch`.
    /// - Parameter idleTimeout: Silence after which the stream counts as broken; keep it above the registry's
    ///   `watch.keepalive` (15 s by default).
    public func watch(service: String, idleTimeout: Duration = .seconds(45)) -> RegistryWatch {
        RegistryWatch(
            client: self, path: "/services/\(segment(service))/watch", cache: WatchCache(services: [service]),
            idleTimeout: idleTimeout)
    }

    /// Watches the given services, or every service when `services` is empty; see `RegistryWatch`.
    public func watch(services: [String] = [], idleTimeout: Duration = .seconds(45)) -> RegistryWatch {
        let query = services.map { "service=\(segment($0))" }.joined(separator: "&")
        return RegistryWatch(
            client: self, path: "/watch" + (query.isEmpty ? "" : "?" + query),
            cache: WatchCache(services: services.isEmpty ? nil : Set(services)), idleTimeout: idleTimeout)
    }
}

/// The connection state machine behind a `RegistryWatch` iterator. Not shared between tasks.
final class WatchDriver {
    let client: RosterClient
    let path: String
    let cache: WatchCache
    let idleTimeout: Duration
    private var body: AsyncThrowingStream<CurlStreamEvent, any Error>.AsyncIterator?
    private var parser = SSEParser()
    private var pending: [WatchEvent] = []
    private var pendingStart = 0
    /// Failed connection rounds since the last event; drives the backoff.
    private var failures = 0

    init(client: RosterClient, path: String, cache: WatchCache, idleTimeout: Duration) {
        self.client = client
        self.path = path
        self.cache = cache
        self.idleTimeout = idleTimeout
        client.addCache(cache)
    }

    deinit {
        client.removeCache(cache)
    }

    func next() async throws -> WatchEvent? {
        while true {
            if pendingStart < pending.count {
                defer { pendingStart += 1 }
                return pending[pendingStart]
            }
            pending.removeAll(keepingCapacity: true)
            pendingStart = 0
            try Task.checkCancellation()
            guard body != nil else {
                if failures > 0 {
                    let wait = client.backoff.delay(attempt: failures)
                    client.logger.debug("watch reconnecting", metadata: ["watch.path": "\(path)", "backoff.ms": "\(wait.components.seconds * 1000 + wait.components.attoseconds / 1_000_000_000_000_000)"])
                    try await client.clock.sleep(for: wait)
                }
                try await connect()
                continue
            }
            do {
                guard let chunk = try await body!.next() else {
                    disconnected(reason: "stream ended")
                    continue
                }
                guard case .body(let bytes) = chunk else { continue }
                cache.heardFromRegistry()
                let events = parser.feed(bytes)
                if parser.bufferedByteCount > Self.maxEventBytes {
                    disconnected(reason: "an event longer than \(Self.maxEventBytes) bytes")
                    continue
                }
                for event in events {
                    guard let decoded = try WatchEvent.decode(type: event.type, data: event.data) else { continue }
                    cache.apply(decoded, eventID: event.lastEventID)
                    pending.append(decoded)
                    failures = 0
                }
            } catch let error as RosterClientError {
                throw error
            } catch {
                if Task.isCancelled { throw CancellationError() }
                disconnected(reason: "\(error)")
            }
        }
    }

    /// Most bytes one event may take before the stream counts as broken (a snapshot of ~100,000 instances).
    static let maxEventBytes = 64 << 20

    private func disconnected(reason: String) {
        body = nil
        failures += 1
        cache.markConnected(false)
        client.logger.info("watch disconnected", metadata: ["watch.path": "\(path)", "error": "\(reason)"])
    }

    /// Opens the stream at the first address that answers 200; on failure counts a failed round.
    /// - Throws: `.problem` for an error status that retrying cannot fix.
    private func connect() async throws {
        var attempts: [String] = []
        for address in client.addressesInPreferenceOrder() {
            var headers = client.headers(json: false)
            headers[0] = ("Accept", "text/event-stream")
            let lastEventID = cache.lastEventID
            if !lastEventID.isEmpty { headers.append(("Last-Event-ID", lastEventID)) }
            let request = CurlRequest(
                url: address.url + path, headers: headers, timeout: client.requestTimeout, idleTimeout: idleTimeout)
            var iterator = client.http.stream(request).makeAsyncIterator()
            let first: CurlStreamEvent?
            do {
                first = try await iterator.next()
            } catch {
                if Task.isCancelled { throw CancellationError() }
                attempts.append("\(address.url) (\((error as? CurlError)?.reason ?? "\(error)"))")
                continue
            }
            guard case .head(let status, _)? = first else {
                attempts.append("\(address.url) (empty_response)")
                continue
            }
            if status == 200 {
                body = iterator
                parser = SSEParser()
                client.prefer(address)
                cache.markConnected(true)
                return
            }
            // The problem body, but no more than 64 KiB and no longer than 2 s (a trickling body must not
            // hold the watch); nothing arriving at all is bounded by the idle timeout.
            var bytes: [UInt8] = []
            let deadline = ContinuousClock.now + .seconds(2)
            while bytes.count < 65_536, ContinuousClock.now < deadline, case .body(let chunk)? = try? await iterator.next() {
                bytes += chunk
            }
            let problem = RosterClient.problem(status: status, body: bytes)
            if status == 429 || status >= 500 {
                attempts.append("\(address.url) (\(status))")
                continue
            }
            throw problem
        }
        failures += 1
        cache.markConnected(false)
        client.logger.info("watch cannot connect", metadata: ["watch.path": "\(path)", "attempts": "\(attempts.joined(separator: ", "))"])
    }
}
