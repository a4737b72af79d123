import RosterAPI
import RosterCore

extension Instance {
    /// The wire form of an instance (`docs/openapi.yaml`, schema `Instance`):
    /// ```json
    /// {"id": "…uuid…", "name": "web", "host": "10.0.0.5", "port": 8080,
    ///  "metadata": {"version": "1.4.2"}, "ttl": 30, "registered_at": "2026-11-29T09:00:00.123Z"}
    /// ```
    var json: JSONValue {
        var metadataObject = JSONObject()
        for key in metadata.keys.sorted() { metadataObject[key] = .string(metadata[key]!) }
        var object = JSONObject()
        object["id"] = .string(id.uuidString.lowercased())
        object["name"] = .string(service)
        object["host"] = .string(host)
        object["port"] = .number(JSONNumber(port))
        object["metadata"] = .object(metadataObject)
        object["ttl"] = .number(WireTime.seconds(ttl))
        object["registered_at"] = .string(WireTime.rfc3339(registeredAt))
        object["status"] = .string(health.status.rawValue)
        if let healthCheck { object["health_check"] = healthCheck.json }
        return .object(object)
    }

    /// The wire form of `GET /services/{name}/{id}/health`:
    /// ```json
    /// {"status": "suspect", "last_check_at": "2026-11-29T09:00:10.004Z", "consecutive_failures": 1,
    ///  "consecutive_successes": 0, "last_result": {"outcome": "fail", "reason": "http_500",
    ///  "http_status": 500, "duration_ms": 3.1}, "check": {"url": "…", "interval": 10, …}}
    /// ```
    /// Without a check, `check`, `last_check_at` and `last_result` are null and the status is `healthy`.
    var healthJSON: JSONValue {
        var object = JSONObject()
        object["id"] = .string(id.uuidString.lowercased())
        object["status"] = .string(health.status.rawValue)
        object["last_check_at"] = health.lastResult.map { .string(WireTime.rfc3339($0.at)) } ?? .null
        object["consecutive_failures"] = .number(JSONNumber(health.consecutiveFailures))
        object["consecutive_successes"] = .number(JSONNumber(health.consecutiveSuccesses))
        if let result = health.lastResult {
            let millis = Double(result.duration.components.seconds) * 1000 + Double(result.duration.components.attoseconds) / 1e15
            object["last_result"] = .object(JSONObject([
                ("outcome", .string(result.passed ? "pass" : "fail")),
                ("reason", .string(result.reason)),
                ("http_status", result.httpStatus.map { .number(JSONNumber($0)) } ?? .null),
                ("duration_ms", .number(JSONNumber((millis * 10).rounded() / 10) ?? JSONNumber(0))),
            ]))
        } else {
            object["last_result"] = .null
        }
        object["check"] = healthCheck?.json ?? .null
        return .object(object)
    }
}

extension HealthCheck {
    /// `{"url": "…", "interval": 10, "timeout": 5, "unhealthy_threshold": 3, "healthy_threshold": 2}` (seconds).
    var json: JSONValue {
        .object(JSONObject([
            ("url", .string(url)),
            ("interval", .number(WireTime.seconds(interval))),
            ("timeout", .number(WireTime.seconds(timeout))),
            ("unhealthy_threshold", .number(JSONNumber(unhealthyThreshold))),
            ("healthy_threshold", .number(JSONNumber(healthyThreshold))),
        ]))
    }
}
