// libFuzzer target: the strict JSON reader and registration validation (what `POST /services`
// does with a body).
//
// Built by scripts/fuzz with swiftc into one module together with Sources/RosterAPI. Oracles,
// besides "never crashes": an accepted document written back out reads back equal; an error's
// offset lies within the input; an accepted registration satisfies every documented constraint.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRegistrationJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))

    for maxDepth in [JSONReader.defaultMaxDepth, 512] {
        do {
            let value = try JSONReader.read(bytes, maxDepth: maxDepth)
            let written = JSONWriter.bytes(value)
            let again: JSONValue
            do {
                again = try JSONReader.read(written, maxDepth: maxDepth)
            } catch {
                preconditionFailure("written JSON does not read back: \(error)")
            }
            precondition(again == value, "JSON round trip changed the value")
        } catch {
            precondition(error.offset >= 0 && error.offset <= size, "error offset \(error.offset) outside the input of \(size)")
            if error.code == .tooDeep || error.code == .duplicateKey { precondition(error.path != nil, "\(error.code) without a path") }
        }
    }

    do {
        let registration = try RegistrationRequest(body: bytes)
        precondition(RegistrationRequest.isValidServiceName(registration.name), "accepted an invalid name")
        precondition((1...65_535).contains(registration.port), "accepted port \(registration.port)")
        precondition(registration.metadata.count <= RegistrationRequest.maxMetadataKeys, "too many metadata keys accepted")
        for (key, value) in registration.metadata {
            precondition(key.utf8.count <= RegistrationRequest.maxMetadataKeyBytes, "metadata key too long accepted")
            precondition(value.utf8.count <= RegistrationRequest.maxMetadataValueBytes, "metadata value too long accepted")
        }
        if let ttl = registration.ttl {
            precondition(ttl >= .seconds(1) && ttl <= .seconds(86_400), "accepted ttl \(ttl)")
        }
        precondition(!registration.host.isEmpty && registration.host.utf8.count <= 253, "accepted host \(registration.host)")
    } catch {
        precondition(error.status == 400, "registration refused with \(error.status)")
        precondition(!error.code.isEmpty, "problem without a code")
    }
    return 0
}
