import Curl
import Logging
import RosterAPI
import Synchronization

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A client of the Roster HTTP API (`docs/openapi.yaml`), over libcurl.
///
/// Requests go to the first registry address that answers; a connection failure (refused, reset, timeout,
/// DNS, TLS) moves on to the next address in order, and the address that answered is preferred from then
/// on. A call fails with `.unreachable` only when every address failed. HTTP error statuses never fail
/// over: they are answers (`.problem`).
///
/// ```swift
/// let client = RosterClient(settings: try ClientSettings.load(...).settings)
/// let handle = try await client.register(Registration(service: "web", host: "10.0.0.5", port: 8080, ttl: .seconds(30)))
/// let web = try await client.instances(of: "web")
/// for try await event in client.watch(service: "web") { … }
/// ```
public final class RosterClient: Sendable {
    /// The resolved settings this client uses.
    public let settings: ClientSettings
    /// Limit for each request, connecting included.
    public let requestTimeout: Duration
    /// Retry schedule for heartbeats and watch reconnects.
    public let backoff: Backoff
    let clock: any Clock<Duration>
    let logger: Logger
    let http: CurlHTTPClient
    private let ownsHTTP: Bool
    private let preferred = Mutex(0)
    private let caches = Mutex<[WatchCache]>([])

    /// Creates a client.
    /// - Parameters:
    ///   - settings: Registry addresses and token.
    ///   - requestTimeout: Limit for each request (default 5 s).
    ///   - backoff: Retry schedule for heartbeats and watch reconnects (default base 0.5 s, cap 30 s).
    ///   - clock: The clock heartbeats and backoff sleep on; injected so tests can drive it.
    ///   - http: A libcurl client to share; by default the client makes its own and shuts it down on deinit.
    public init(
        settings: ClientSettings,
        requestTimeout: Duration = .seconds(5),
        backoff: Backoff = Backoff(),
        clock: any Clock<Duration> = ContinuousClock(),
        logger: Logger = Logger(label: "roster.client"),
        http: CurlHTTPClient? = nil
    ) {
        self.settings = settings
        self.requestTimeout = requestTimeout
        self.backoff = backoff
        self.clock = clock
        self.logger = logger
        self.http = http ?? CurlHTTPClient()
        self.ownsHTTP = http == nil
    }

    /// A client for one address with default settings otherwise.
    public convenience init(registry: RegistryAddress, token: String? = nil) {
        self.init(settings: ClientSettings(registry: [registry], token: token))
    }

    deinit {
        if ownsHTTP { http.shutdown() }
    }

    // MARK: Registry calls

    /// Registers an instance once and returns it as the registry stored it (no heartbeats; see `register(_:)`).
    /// - Throws: `.problem` 400 (`invalid_field`, naming `field`), 409 `instance_exists`, …; `.unreachable`.
    public func registerOnce(_ registration: Registration) async throws(RosterClientError) -> RegisteredInstance {
        let response = try await send("POST", "/services", body: JSONWriter.bytes(registration.json))
        return try RegisteredInstance(json: decode(response))
    }

    /// Renews an instance's lease.
    /// - Throws: `.problem` 404 `instance_not_found` once the lease has expired or the registry restarted.
    @discardableResult
    public func heartbeat(service: String, id: String) async throws(RosterClientError) -> LeaseRenewal {
        let response = try await send("PUT", "/services/\(segment(service))/\(segment(id))/heartbeat")
        let json = try decode(response)
        guard let ttl = json["ttl"]?.numberValue?.doubleValue else { throw .decoding("heartbeat response lacks ttl") }
        return LeaseRenewal(id: id, ttl: .milliseconds(Int64((ttl * 1000).rounded())))
    }

    /// Deregisters an instance.
    /// - Throws: `.problem` 404 `instance_not_found` if it is not registered.
    public func deregister(service: String, id: String) async throws(RosterClientError) {
        _ = try await send("DELETE", "/services/\(segment(service))/\(segment(id))")
    }

    /// Every service with its instance counts, by name.
    public func services() async throws(RosterClientError) -> [ServiceSummary] {
        let json = try decode(try await send("GET", "/services"))
        guard let object = json.objectValue else { throw .decoding("GET /services must answer an object") }
        return object.map { name, value in
            ServiceSummary(
                name: name, instances: value["instances"]?.numberValue?.intValue ?? 0,
                healthy: value["healthy"]?.numberValue?.intValue ?? 0)
        }.sorted { $0.name < $1.name }
    }

    /// The instances of `service` that lookups serve (healthy and suspect), or all of them.
    ///
    /// When no registry answers and a watch of this client covers `service`, the watch's last known
    /// instances answer instead, with `staleness` set to how long ago the watch last heard from the registry.
    /// - Throws: `.unreachable` when no registry answers and no watch covers the service.
    public func instances(of service: String, includeUnhealthy: Bool = false) async throws(RosterClientError) -> InstanceList {
        do throws(RosterClientError) {
            let path = "/services/\(segment(service))" + (includeUnhealthy ? "?include_unhealthy=true" : "")
            let response = try await send("GET", path)
            guard let array = try decode(response).arrayValue else { throw RosterClientError.decoding("GET /services/{name} must answer an array") }
            var instances: [RegisteredInstance] = []
            for item in array { instances.append(try RegisteredInstance(json: item)) }
            return InstanceList(instances: instances, index: response.header(RosterHeader.index).flatMap { UInt64($0) }, staleness: nil)
        } catch .unreachable(let attempts) {
            guard let cached = cachedInstances(of: service, includeUnhealthy: includeUnhealthy) else {
                throw .unreachable(attempts: attempts)
            }
            return cached
        }
    }

    /// One instance.
    /// - Throws: `.problem` 404 `instance_not_found`.
    public func instance(service: String, id: String) async throws(RosterClientError) -> RegisteredInstance {
        try RegisteredInstance(json: decode(try await send("GET", "/services/\(segment(service))/\(segment(id))")))
    }

    /// An instance's health state and last probe.
    public func health(service: String, id: String) async throws(RosterClientError) -> HealthReport {
        try HealthReport(json: decode(try await send("GET", "/services/\(segment(service))/\(segment(id))/health")))
    }

    // MARK: Transport

    /// Sends a request to the first address that answers.
    /// - Throws: `.problem` for a status of 400 or more; `.unreachable` if every address failed below HTTP.
    func send(_ method: String, _ path: String, body: [UInt8]? = nil) async throws(RosterClientError) -> CurlResponse {
        let (response, _) = try await exchange { base in
            CurlRequest(
                method: method, url: base + path, headers: self.headers(json: body != nil), body: body,
                timeout: self.requestTimeout, maxBodyBytes: Self.maxResponseBytes)
        }
        guard response.status < 400 else { throw Self.problem(status: response.status, body: response.body) }
        guard !response.truncated else {
            throw .decoding("the response is larger than \(Self.maxResponseBytes) bytes")
        }
        return response
    }

    /// Most bytes of a response body read (a lookup of ~250,000 instances); more is a `.decoding` error.
    static let maxResponseBytes = 64 << 20

    /// Header fields of every request: the token and, with a body, its type.
    func headers(json: Bool) -> [(name: String, value: String)] {
        var headers: [(name: String, value: String)] = [("Accept", "application/json")]
        if json { headers.append(("Content-Type", "application/json")) }
        if let token = settings.token { headers.append(("Authorization", "Bearer \(token)")) }
        return headers
    }

    /// Runs `makeRequest` against each address in turn, starting with the preferred one, until one answers.
    private func exchange(
        _ makeRequest: (String) -> CurlRequest
    ) async throws(RosterClientError) -> (CurlResponse, RegistryAddress) {
        let addresses = settings.registry
        let start = preferred.withLock { $0 }
        var attempts: [RosterClientError.Attempt] = []
        for offset in 0..<addresses.count {
            let position = (start + offset) % addresses.count
            let address = addresses[position]
            do {
                let response = try await http.perform(makeRequest(address.url))
                if offset != 0 { preferred.withLock { $0 = position } }
                return (response, address)
            } catch {
                if error.kind == .cancelled { throw .unreachable(attempts: attempts + [.init(address: address.url, reason: "cancelled")]) }
                attempts.append(.init(address: address.url, reason: error.reason))
                logger.debug("registry address failed", metadata: ["registry.address": "\(address.url)", "error": "\(error)"])
            }
        }
        throw .unreachable(attempts: attempts)
    }

    /// The address order for a new stream: the preferred address first.
    func addressesInPreferenceOrder() -> [RegistryAddress] {
        let addresses = settings.registry
        let start = preferred.withLock { $0 }
        return (0..<addresses.count).map { addresses[(start + $0) % addresses.count] }
    }

    func prefer(_ address: RegistryAddress) {
        if let position = settings.registry.firstIndex(of: address) { preferred.withLock { $0 = position } }
    }

    func decode(_ response: CurlResponse) throws(RosterClientError) -> JSONValue {
        do {
            return try JSONReader.read(response.body, maxDepth: 64)
        } catch {
            throw .decoding("response of status \(response.status) is not JSON: \(error.message)")
        }
    }

    /// An error status as `.problem`, with the RFC 9457 body's `code`, `detail` and `field` when present.
    static func problem(status: Int, body: [UInt8]) -> RosterClientError {
        let json = try? JSONReader.read(body, maxDepth: 16)
        let code = json?["code"]?.stringValue ?? "http_\(status)"
        let detail = json?["detail"]?.stringValue ?? json?["title"]?.stringValue
            ?? String(decoding: body.prefix(200), as: UTF8.self)
        return .problem(status: status, code: code, detail: detail, field: json?["field"]?.stringValue)
    }

    /// A path segment with every byte outside RFC 3986's unreserved set percent-encoded, so that a name can
    /// never add a segment or a query.
    func segment(_ text: String) -> String {
        // `.` and `..` would be removed as dot-segments (RFC 3986 §5.2.4): send them encoded.
        if text == "." || text == ".." { return String(repeating: "%2E", count: text.count) }
        var out = ""
        for byte in text.utf8 {
            let scalar = Unicode.Scalar(byte)
            if (byte < 0x80) && (scalar.properties.isAlphabetic || ("0"..."9").contains(Character(scalar)) || "-._~".unicodeScalars.contains(scalar)) {
                out.unicodeScalars.append(scalar)
            } else {
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }

    // MARK: Watch caches

    func addCache(_ cache: WatchCache) {
        caches.withLock { $0.append(cache) }
    }

    func removeCache(_ cache: WatchCache) {
        caches.withLock { $0.removeAll { $0 === cache } }
    }

    private func cachedInstances(of service: String, includeUnhealthy: Bool) -> InstanceList? {
        let candidates = caches.withLock { $0 }
        for cache in candidates.reversed() where cache.covers(service) {
            guard let state = cache.state(of: service) else { continue }
            let served = state.instances.filter { includeUnhealthy || $0.isServed }
            return InstanceList(instances: served, index: state.index, staleness: state.staleness)
        }
        return nil
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
