/// A test operation that did not finish in time.
public struct TimeoutError: Error, CustomStringConvertible {
    public var description: String
}

/// Runs `operation`, failing with `TimeoutError` after `limit`.
public func withTimeout<T: Sendable>(
    _ limit: Duration, _ what: String = "operation", _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw TimeoutError(description: "\(what) did not finish within \(limit)")
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}
