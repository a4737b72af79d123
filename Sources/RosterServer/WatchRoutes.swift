import RosterAPI
import RosterCore
import RosterHTTP
import Synchronization

/// The watch endpoints: Server-Sent Events (WHATWG HTML, "Server-sent events") of every change.
///
/// A stream starts with a `retry:` hint, then either a `snapshot` (no resume point), exactly the
/// changes after the resume point (`Last-Event-ID` or `?index=`, both `<epoch>-<index>`), or a
/// `reset` with a full snapshot when the resume point cannot be honoured. Then live changes.
/// Each event's `id:` is `<epoch>-<index>`. A `: keepalive` comment follows every `watch.keepalive`
/// of silence. Graceful shutdown ends streams with the terminating chunk.
struct WatchRoutes: Sendable {
    let store: RegistryStore
    let settings: WatchSettings
    let metrics: WatchMetrics
    /// Each change is framed once and the bytes shared by every watcher that sends it.
    let frames = FrameCache()
    /// Reconnection time suggested to clients (`retry:`).
    static let retryMilliseconds = 3000
    /// Most events written in one chunk when a watcher has several queued.
    static let batch = 64
    /// Answers and counts refusals of watches the grant does not allow.
    let denials: AccessDenials

    /// What each route needs from the request's `AccessGrant`, by `"METHOD template"`.
    static let access: [String: RouteAccess] = [
        "GET /services/{name}/watch": .readService,
        "GET /watch": .anyToken,
    ]

    func install(in router: inout Router) {
        router.add("GET", "/services/{name}/watch") { request in
            if let invalid = RegistryRoutes.invalidName(request) { return problem(invalid) }
            return watch(request, scope: .services([request.pathParameters["name"]!]))
        }
        router.add("GET", "/watch") { request in
            let names = request.queryItems.filter { $0.name == "service" }.map(\.value)
            for name in names where !RegistrationRequest.isValidServiceName(name) {
                return problem(.badRequest("invalid_query", "service must be a valid service name", field: "service"))
            }
            let grant = AccessGrant.current
            // Named services must each be readable; without names, the watch follows what the grant may read.
            for name in names where !grant.canRead(name) {
                return denials.forbidden(request, detail: "may not read service \"\(name)\"")
            }
            let scope: WatchScope =
                if !names.isEmpty { .services(Set(names)) }
                else if grant.read == .everything { .all }
                else { .matching(grant.read) }
            return watch(request, scope: scope)
        }
    }

    /// Parses a resume point: nil without one, `.some(nil)` if unusable here, `.some(k)` otherwise.
    func resumePoint(_ request: HTTPRequest) -> UInt64?? {
        let text = request.headers["last-event-id"] ?? request.queryItems.last { $0.name == "index" }?.value
        guard let text else { return nil }
        guard let dash = text.lastIndex(of: "-"), text[..<dash] == store.epoch,
              let index = UInt64(text[text.index(after: dash)...])
        else { return .some(nil) }
        return .some(index)
    }

    private func watch(_ request: HTTPRequest, scope: WatchScope) -> HTTPResponse {
        let resume = resumePoint(request)
        let store = self.store, settings = self.settings, frames = self.frames, metrics = self.metrics
        var headers: HTTPHeaders = [
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        ]
        headers.add(RosterHeader.epoch, store.epoch)
        return HTTPResponse(status: .ok, headers: headers, body: .stream { writer in
            let (subscription, start) = store.watch(scope: scope, resumeAfter: resume, queueSize: settings.queueSize)
            defer {
                // First take the socket back from the immediate writer, then leave the store.
                subscription.setImmediateWriter(nil)
                store.unwatch(subscription)
            }
            subscription.setOverflowHandler { writer.abort() }
            var out: [UInt8] = Array("retry: \(Self.retryMilliseconds)\n\n".utf8)
            switch start {
            case .snapshot(let instances, let index):
                Self.appendSnapshot("snapshot", instances, index: index, epoch: store.epoch, to: &out)
                metrics.sent("snapshot")
            case .reset(let instances, let index):
                Self.appendSnapshot("reset", instances, index: index, epoch: store.epoch, to: &out)
                metrics.sent("reset")
            case .resume(let changes):
                frames.append(changes, epoch: store.epoch, to: &out)
                for change in changes { metrics.sent(change.kind) }
            }
            try await writer.write(out)
            // While this task is parked, the store's wake-up sends new changes straight to the socket.
            subscription.setImmediateWriter { changes in
                let written: HTTPBodyWriter.ImmediateWrite
                if changes.count == 1, let change = changes.first {
                    // The cached frame itself: the common case costs no copy.
                    written = writer.writeNow(frames.frame(for: change, epoch: store.epoch))
                } else {
                    var bytes: [UInt8] = []
                    frames.append(changes, epoch: store.epoch, to: &bytes)
                    written = writer.writeNow(bytes)
                }
                if written == .wouldBlock { return .notSent }
                for change in changes { metrics.sent(change.kind) }
                return written == .complete ? .sent : .partiallySent
            }
            while true {
                switch await subscription.next() {
                case .change(let change):
                    let more = subscription.takeAvailable(max: Self.batch - 1)
                    if more.isEmpty {
                        try await writer.write(frames.frame(for: change, epoch: store.epoch))
                    } else {
                        out.removeAll(keepingCapacity: true)
                        frames.append([change] + more, epoch: store.epoch, to: &out)
                        try await writer.write(out)
                    }
                    metrics.sent(change.kind)
                    for next in more { metrics.sent(next.kind) }
                case .idle:
                    try await writer.write(Array(": keepalive\n\n".utf8))
                case .flush:
                    try await writer.flush()
                case .closed:
                    return
                }
            }
        })
    }

    private func problem(_ problem: APIProblem) -> HTTPResponse {
        problem.response(epoch: store.epoch)
    }

    // MARK: Framing

    /// `id: <epoch>-<index>`, `event: <type>`, `data: <one-line JSON>`, blank line.
    static func appendEvent(type: String, id: String, data: JSONValue, to out: inout [UInt8]) {
        out.append(contentsOf: "id: \(id)\nevent: \(type)\ndata: ".utf8)
        JSONWriter.write(data, into: &out)
        out.append(contentsOf: "\n\n".utf8)
    }

    static func appendSnapshot(_ type: String, _ instances: [Instance], index: UInt64, epoch: String, to out: inout [UInt8]) {
        let data = JSONValue.object(JSONObject([
            ("index", .number(JSONNumber(Int(index)))),
            ("epoch", .string(epoch)),
            ("instances", .array(instances.map(\.json))),
        ]))
        appendEvent(type: type, id: "\(epoch)-\(index)", data: data, to: &out)
    }

    static func append(_ change: RegistryChange, epoch: String, to out: inout [UInt8]) {
        appendEvent(type: change.eventType, id: "\(epoch)-\(change.index)", data: change.json, to: &out)
    }
}

/// The SSE frames of recent changes, so a change is encoded once however many watchers send it.
/// Holds the last 1,024 (a slot per `index % 1024`); older ones are encoded again on demand.
final class FrameCache: Sendable {
    private static let slots = 1024
    private let storage = Mutex<[(index: UInt64, bytes: [UInt8])?]>(Array(repeating: nil, count: FrameCache.slots))

    /// Appends the frames of `changes`, in order, to `out`.
    func append(_ changes: some Sequence<RegistryChange>, epoch: String, to out: inout [UInt8]) {
        for change in changes { out.append(contentsOf: frame(for: change, epoch: epoch)) }
    }

    func frame(for change: RegistryChange, epoch: String) -> [UInt8] {
        let slot = Int(change.index % UInt64(Self.slots))
        if let hit = storage.withLock({ $0[slot] }), hit.index == change.index { return hit.bytes }
        var bytes: [UInt8] = []
        WatchRoutes.append(change, epoch: epoch, to: &bytes)
        storage.withLock { $0[slot] = (change.index, bytes) }
        return bytes
    }
}

extension RegistryChange {
    /// `register`, `deregister` or `health_change`.
    var eventType: String {
        switch kind {
        case .registered: "register"
        case .deregistered: "deregister"
        case .healthChanged: "health_change"
        }
    }

    /// The data of a change event:
    /// ```json
    /// {"index": 7, "type": "deregister", "service": "web", "instance": {…}, "at": "…Z", "reason": "expired"}
    /// ```
    /// `deregister` adds `reason` (`deregistered` or `expired`); `health_change` adds `from`, `to`, `reason`.
    var json: JSONValue {
        var object = JSONObject()
        object["index"] = .number(JSONNumber(Int(index)))
        object["type"] = .string(eventType)
        object["service"] = .string(instance.service)
        object["instance"] = instance.json
        object["at"] = .string(WireTime.rfc3339(at))
        switch kind {
        case .registered:
            break
        case .deregistered(let reason):
            object["reason"] = .string(reason.rawValue)
        case .healthChanged(let from, let to, let reason):
            object["from"] = .string(from.rawValue)
            object["to"] = .string(to.rawValue)
            object["reason"] = .string(reason)
        }
        return .object(object)
    }
}
