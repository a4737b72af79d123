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
        return .object(object)
    }
}
