import RosterAPI

/// What to register: the body of `POST /services` (`docs/openapi.yaml`, `RegistrationRequest`).
///
/// ```json
/// {"name": "web", "host": "10.0.0.5", "port": 8080, "metadata": {"version": "1.4.2"}, "ttl": 30,
///  "health_check": {"url": "http://10.0.0.5:8080/health", "interval": 10}}
/// ```
public struct Registration: Sendable, Equatable {
    /// Service name: 1–63 letters, digits, `.`, `_`, `-`.
    public var service: String
    /// IP address or host name clients connect to.
    public var host: String
    /// TCP port, 1–65535.
    public var port: Int
    /// Free-form string pairs (`version`, `zone`, …).
    public var metadata: [String: String]
    /// Lease TTL, from 1 s to 24 h at millisecond precision; `nil` takes the registry's `default_ttl`.
    public var ttl: Duration?
    /// Active health check, or `nil` for none.
    public var healthCheck: HealthCheckSpec?

    public init(
        service: String, host: String, port: Int, metadata: [String: String] = [:], ttl: Duration? = nil,
        healthCheck: HealthCheckSpec? = nil
    ) {
        self.service = service
        self.host = host
        self.port = port
        self.metadata = metadata
        self.ttl = ttl
        self.healthCheck = healthCheck
    }

    var json: JSONValue {
        var object = JSONObject()
        object["name"] = .string(service)
        object["host"] = .string(host)
        object["port"] = .number(JSONNumber(port))
        var metadataObject = JSONObject()
        for key in metadata.keys.sorted() { metadataObject[key] = .string(metadata[key]!) }
        object["metadata"] = .object(metadataObject)
        if let ttl { object["ttl"] = .number(WireTime.seconds(ttl)) }
        if let healthCheck { object["health_check"] = healthCheck.json }
        return .object(object)
    }
}

/// An active health check to ask for; unset members take the registry's `health.*` defaults.
public struct HealthCheckSpec: Sendable, Equatable {
    /// `http` or `https` URL probed with GET; 2xx passes.
    public var url: String
    public var interval: Duration?
    public var timeout: Duration?
    public var unhealthyThreshold: Int?
    public var healthyThreshold: Int?

    public init(
        url: String, interval: Duration? = nil, timeout: Duration? = nil, unhealthyThreshold: Int? = nil,
        healthyThreshold: Int? = nil
    ) {
        self.url = url
        self.interval = interval
        self.timeout = timeout
        self.unhealthyThreshold = unhealthyThreshold
        self.healthyThreshold = healthyThreshold
    }

    var json: JSONValue {
        var object = JSONObject()
        object["url"] = .string(url)
        if let interval { object["interval"] = .number(WireTime.seconds(interval)) }
        if let timeout { object["timeout"] = .number(WireTime.seconds(timeout)) }
        if let unhealthyThreshold { object["unhealthy_threshold"] = .number(JSONNumber(unhealthyThreshold)) }
        if let healthyThreshold { object["healthy_threshold"] = .number(JSONNumber(healthyThreshold)) }
        return .object(object)
    }
}

/// An instance as the registry shows it (`docs/openapi.yaml`, schema `Instance`).
public struct RegisteredInstance: Sendable, Equatable {
    /// Instance ID, a lower-case UUID.
    public var id: String
    public var service: String
    public var host: String
    public var port: Int
    public var metadata: [String: String]
    /// Lease TTL.
    public var ttl: Duration
    /// `healthy`, `suspect`, `unhealthy` or `recovering`.
    public var status: String
    /// RFC 3339 time of registration, as sent.
    public var registeredAt: String
    /// The health check URL, if the instance has a check.
    public var healthCheckURL: String?
    /// The object as the registry sent it.
    public var json: JSONValue

    /// Whether lookups include the instance by default (`healthy` and `suspect` are served).
    public var isServed: Bool { status == "healthy" || status == "suspect" }

    init(json: JSONValue) throws(RosterClientError) {
        guard let object = json.objectValue else { throw .decoding("an instance must be an object") }
        func string(_ key: String) throws(RosterClientError) -> String {
            guard let value = object[key]?.stringValue else { throw .decoding("instance.\(key) must be a string") }
            return value
        }
        id = try string("id")
        service = try string("name")
        host = try string("host")
        guard let port = object["port"]?.numberValue?.intValue else { throw .decoding("instance.port must be an integer") }
        self.port = port
        guard let ttlSeconds = object["ttl"]?.numberValue?.doubleValue else { throw .decoding("instance.ttl must be a number") }
        ttl = .milliseconds(Int64((ttlSeconds * 1000).rounded()))
        status = try string("status")
        registeredAt = try string("registered_at")
        var metadata: [String: String] = [:]
        for (key, value) in object["metadata"]?.objectValue ?? JSONObject() {
            guard let text = value.stringValue else { throw .decoding("instance.metadata.\(key) must be a string") }
            metadata[key] = text
        }
        self.metadata = metadata
        healthCheckURL = object["health_check"]?["url"]?.stringValue
        self.json = json
    }
}

/// One service in `GET /services`: how many instances it has and how many are healthy.
public struct ServiceSummary: Sendable, Equatable {
    public var name: String
    public var instances: Int
    public var healthy: Int

    public init(name: String, instances: Int, healthy: Int) {
        self.name = name
        self.instances = instances
        self.healthy = healthy
    }
}

/// `GET /services/{name}/{id}/health`: the instance's health state and its last probe.
public struct HealthReport: Sendable, Equatable {
    public var id: String
    /// `healthy`, `suspect`, `unhealthy` or `recovering`.
    public var status: String
    public var consecutiveFailures: Int
    public var consecutiveSuccesses: Int
    /// RFC 3339 time of the last probe, or `nil` before the first (or without a check).
    public var lastCheckAt: String?
    /// `pass` or `fail` of the last probe.
    public var lastOutcome: String?
    /// `ok`, `http_500`, `timeout`, `connection_refused`, …
    public var lastReason: String?
    /// The probed URL, or `nil` without a check.
    public var checkURL: String?
    /// The object as the registry sent it.
    public var json: JSONValue

    init(json: JSONValue) throws(RosterClientError) {
        guard let object = json.objectValue, let id = object["id"]?.stringValue, let status = object["status"]?.stringValue
        else { throw .decoding("a health report needs id and status") }
        self.id = id
        self.status = status
        consecutiveFailures = object["consecutive_failures"]?.numberValue?.intValue ?? 0
        consecutiveSuccesses = object["consecutive_successes"]?.numberValue?.intValue ?? 0
        lastCheckAt = object["last_check_at"]?.stringValue
        lastOutcome = object["last_result"]?["outcome"]?.stringValue
        lastReason = object["last_result"]?["reason"]?.stringValue
        checkURL = object["check"]?["url"]?.stringValue
        self.json = json
    }
}

/// A lease renewal's answer: the TTL and the seconds left (`{"id": …, "ttl": 30, "expires_in": 30}`).
public struct LeaseRenewal: Sendable, Equatable {
    public var id: String
    public var ttl: Duration
}

/// Instances of one service, from the registry or, when it cannot be reached, from a watch's cache.
public struct InstanceList: Sendable, Equatable {
    public var instances: [RegisteredInstance]
    /// The `Roster-Index` the list reflects.
    public var index: UInt64?
    /// `nil` when the list came from the registry just now; otherwise how long ago the cache that answered
    /// last heard from the registry.
    public var staleness: Duration?
}
