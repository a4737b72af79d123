/// The last `capacity` changes in a ring buffer keyed by index, for watchers that resume.
///
/// Indexes are consecutive, so the change with index `i` lives at slot `i % capacity`.
/// Memory is bounded by `capacity` changes.
public struct EventLog: Sendable {
    public let capacity: Int
    private var ring: [RegistryChange?]
    /// The index of the newest change held; 0 before the first.
    public private(set) var lastIndex: UInt64 = 0

    /// - Precondition: `capacity` ≥ 1.
    public init(capacity: Int) {
        precondition(capacity >= 1, "event log capacity must be at least 1")
        self.capacity = capacity
        self.ring = Array(repeating: nil, count: capacity)
    }

    /// The oldest index still held (`lastIndex + 1` when empty).
    public var oldestIndex: UInt64 {
        lastIndex < UInt64(capacity) ? 1 : lastIndex - UInt64(capacity) + 1
    }

    /// Appends the next change. - Precondition: its index is `lastIndex + 1`.
    public mutating func append(_ change: RegistryChange) {
        precondition(change.index == lastIndex + 1, "changes must be appended in index order without gaps")
        ring[Int(change.index % UInt64(capacity))] = change
        lastIndex = change.index
    }

    /// Every change after index `k`, in order; nil if `k` is newer than `lastIndex` or some of the
    /// changes after it are no longer held. `k == lastIndex` gives `[]`.
    /// - Complexity: O(lastIndex - k).
    public func changes(after k: UInt64) -> [RegistryChange]? {
        guard k <= lastIndex, k + 1 >= oldestIndex else { return nil }
        guard k < lastIndex else { return [] }
        return (k + 1...lastIndex).map { ring[Int($0 % UInt64(capacity))]! }
    }
}
