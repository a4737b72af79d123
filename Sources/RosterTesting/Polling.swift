/// Waits, yielding in 1 ms steps for at most `limit`, until `condition` holds; returns whether it did.
/// For state another task changes soon (a sweep after a manual clock advance), never for leases.
public func eventually(within limit: Duration = .seconds(5), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(1))
    }
    return try await condition()
}
