import Logging
import RosterAPI
import ServiceLifecycle
import Synchronization

/// A registration kept alive by heartbeats at about a third of its TTL.
///
/// Made by `RosterClient.register(_:)`. Heartbeats run until `deregister()` or `stop()`, or until the handle
/// is released. When a heartbeat gets 404 (the lease lapsed, or the registry restarted and lost its state),
/// the handle registers the same `registration` again and carries on under the new instance ID. Failed
/// heartbeats (registry unreachable) are retried with the client's backoff, at most one period apart.
///
/// As a swift-service-lifecycle `Service`, `run()` waits for graceful shutdown and then deregisters.
public final class RegistrationHandle: Sendable {
    /// What was registered; re-registrations send it again.
    public let registration: Registration
    private let box: Box
    private let task: Mutex<Task<Void, Never>?> = Mutex(nil)

    /// The state shared with the heartbeat task (which does not retain the handle).
    final class Box: Sendable {
        struct State {
            var instance: RegisteredInstance
            var heartbeats = 0
            var registrations = 1
            var stopped = false
        }
        let state: Mutex<State>
        init(_ instance: RegisteredInstance) { state = Mutex(State(instance: instance)) }
    }

    init(registration: Registration, instance: RegisteredInstance) {
        self.registration = registration
        self.box = Box(instance)
    }

    deinit {
        task.withLock { $0?.cancel() }
    }

    /// The current instance ID (it changes when the handle re-registers).
    public var instanceID: String { box.state.withLock { $0.instance.id } }
    /// The instance as last registered.
    public var instance: RegisteredInstance { box.state.withLock { $0.instance } }
    /// Heartbeats that renewed the lease so far.
    public var heartbeatCount: Int { box.state.withLock { $0.heartbeats } }
    /// Successful registrations so far: 1, plus one per re-registration after a 404.
    public var registrationCount: Int { box.state.withLock { $0.registrations } }

    /// Stops heartbeats without deregistering; the lease then lapses after its TTL.
    public func stop() async {
        let running = task.withLock { task -> Task<Void, Never>? in
            defer { task = nil }
            return task
        }
        box.state.withLock { $0.stopped = true }
        running?.cancel()
        await running?.value
    }

    /// Stops heartbeats and deregisters the instance. An instance already gone (404) counts as deregistered.
    /// - Throws: `.unreachable` if no registry answers; the lease then lapses after its TTL.
    public func deregister(using client: RosterClient) async throws(RosterClientError) {
        await stop()
        let instance = self.instance
        do {
            try await client.deregister(service: instance.service, id: instance.id)
        } catch .problem(404, _, _, _) {
            return
        }
    }

    func start(client: RosterClient) {
        let box = self.box
        let registration = self.registration
        let running = Task { await Self.heartbeatLoop(client: client, registration: registration, box: box) }
        task.withLock { $0 = running }
    }

    /// Heartbeats until cancelled: waits about `ttl / 3` (±10 % jitter), renews; on 404 registers again; on
    /// failure retries after the client's backoff, capped at one period.
    static func heartbeatLoop(client: RosterClient, registration: Registration, box: Box) async {
        var failures = 0
        while !Task.isCancelled {
            let instance = box.state.withLock { $0.instance }
            let period = instance.ttl / 3
            let wait = failures == 0
                ? period * (0.9 + 0.2 * client.backoff.random())
                : min(period, client.backoff.delay(attempt: failures))
            do {
                try await client.clock.sleep(for: wait)
            } catch {
                return
            }
            let metadata: Logger.Metadata = ["service.name": "\(instance.service)", "instance.id": "\(instance.id)"]
            do {
                try await client.heartbeat(service: instance.service, id: instance.id)
                box.state.withLock { $0.heartbeats += 1 }
                failures = 0
            } catch .problem(404, _, _, _) {
                if Task.isCancelled { return }
                do {
                    let fresh = try await client.registerReplacing(registration)
                    let stopped = box.state.withLock { state -> Bool in
                        state.instance = fresh
                        state.registrations += 1
                        return state.stopped
                    }
                    failures = 0
                    client.logger.notice(
                        "re-registered after lease was lost",
                        metadata: metadata.merging(["instance.new_id": "\(fresh.id)"]) { $1 })
                    if stopped { return }
                } catch {
                    failures += 1
                    client.logger.warning("re-registration failed", metadata: metadata.merging(["error": "\(error)"]) { $1 })
                }
            } catch {
                if Task.isCancelled { return }
                failures += 1
                client.logger.warning("heartbeat failed", metadata: metadata.merging(["error": "\(error)"]) { $1 })
            }
        }
    }
}

/// Runs a registration as a `Service`: waits for graceful shutdown (or cancellation), then deregisters.
public struct RegistrationService: Service {
    public let handle: RegistrationHandle
    public let client: RosterClient

    public init(handle: RegistrationHandle, client: RosterClient) {
        self.handle = handle
        self.client = client
    }

    public func run() async throws {
        try? await gracefulShutdown()
        try await handle.deregister(using: client)
    }
}

extension RosterClient {
    /// Registers an instance and keeps it registered with heartbeats; see `RegistrationHandle`.
    ///
    /// A 409 `instance_exists` (this host and port are already registered under the service, typically by an
    /// earlier run of the same process whose lease has not lapsed) is resolved by deregistering that instance
    /// and registering afresh, so the registry holds this registration's metadata, TTL and check.
    /// - Throws: `.problem` for a rejected registration (400 naming the field, 401, 403), `.unreachable`.
    public func register(_ registration: Registration) async throws(RosterClientError) -> RegistrationHandle {
        let instance = try await registerReplacing(registration)
        let handle = RegistrationHandle(registration: registration, instance: instance)
        handle.start(client: self)
        return handle
    }

    /// Registers; on 409 `instance_exists` deregisters the existing instance and registers once more.
    func registerReplacing(_ registration: Registration) async throws(RosterClientError) -> RegisteredInstance {
        do {
            return try await registerOnce(registration)
        } catch .problem(409, "instance_exists", let detail, let field) {
            guard let existing = try? await instances(of: registration.service, includeUnhealthy: true).instances
                .first(where: { $0.host == registration.host && $0.port == registration.port })
            else {
                throw .problem(status: 409, code: "instance_exists", detail: detail, field: field)
            }
            logger.notice(
                "replacing an instance registered at the same address",
                metadata: ["service.name": "\(registration.service)", "instance.id": "\(existing.id)"])
            do {
                try await deregister(service: registration.service, id: existing.id)
            } catch .problem(404, _, _, _) {
                // Gone meanwhile; register below.
            }
            return try await registerOnce(registration)
        }
    }
}
