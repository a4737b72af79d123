#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A validated request to register one instance of a service.
public struct Registration: Sendable, Equatable {
    /// The service name clients look up.
    public var service: String
    public var host: String
    public var port: Int
    public var metadata: [String: String]
    /// The lease's time to live; each heartbeat moves the deadline to `now + ttl`.
    public var ttl: Duration
    /// The active health check, if any.
    public var healthCheck: HealthCheck?

    public init(
        service: String, host: String, port: Int, metadata: [String: String] = [:], ttl: Duration,
        healthCheck: HealthCheck? = nil
    ) {
        self.service = service
        self.host = host
        self.port = port
        self.metadata = metadata
        self.ttl = ttl
        self.healthCheck = healthCheck
    }
}

/// One addressable copy of a service, with its lease.
public struct Instance: Sendable, Equatable, Identifiable {
    public let id: UUID
    public var service: String
    public var host: String
    public var port: Int
    public var metadata: [String: String]
    public var ttl: Duration
    /// Wall-clock time of registration, for display only.
    public var registeredAt: Date
    /// When the lease expires, on the monotonic clock. The instance is live while `now < deadline`.
    public var deadline: ContinuousClock.Instant
    /// The active health check, if any; without one the instance stays `healthy`.
    public var healthCheck: HealthCheck?
    /// Health status, streaks and the last probe result.
    public var health = HealthState()

    public init(id: UUID, registration: Registration, registeredAt: Date, now: ContinuousClock.Instant) {
        self.id = id
        self.service = registration.service
        self.host = registration.host
        self.port = registration.port
        self.metadata = registration.metadata
        self.ttl = registration.ttl
        self.registeredAt = registeredAt
        self.deadline = now + registration.ttl
        self.healthCheck = registration.healthCheck
    }

    /// Whether the lease is still running at `now` (the deadline itself is already expired).
    public func isLive(at now: ContinuousClock.Instant) -> Bool { now < deadline }
}

/// Why an instance left the registry.
public enum DeregistrationReason: String, Sendable, Equatable {
    /// Someone asked (`DELETE`).
    case deregistered
    /// Its lease ran out.
    case expired
}

/// One committed change of the registry, with the index it took.
public struct RegistryChange: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case registered
        case deregistered(DeregistrationReason)
        /// The health status changed; `reason` is the probe's (`ok`, `http_500`, `timeout`, …).
        case healthChanged(from: HealthStatus, to: HealthStatus, reason: String)
    }

    /// The change's index: 1 for the first change, then one more for each change.
    public var index: UInt64
    public var kind: Kind
    /// The instance as it was when the change happened.
    public var instance: Instance
    /// Wall-clock time of the change, for display only.
    public var at: Date

    public init(index: UInt64, kind: Kind, instance: Instance, at: Date) {
        self.index = index
        self.kind = kind
        self.instance = instance
        self.at = at
    }
}

/// Errors of registry operations; `code` is stable for JSON and metrics.
public enum RegistryError: Error, Sendable, Equatable {
    /// A live instance of the same service already has this host and port.
    case instanceExists(UUID)
    /// No live instance with this id in this service (never was, deregistered, or expired).
    case instanceNotFound

    public var code: String {
        switch self {
        case .instanceExists: "instance_exists"
        case .instanceNotFound: "instance_not_found"
        }
    }
}
