import HeapModule

/// Lease deadlines in a min-heap, so finding what expired costs O(expired · log n).
///
/// Renewals push a new entry instead of updating in place; an entry whose deadline no longer
/// matches the instance's current deadline is stale and skipped when popped. The heap is
/// rebuilt when stale entries outnumber live leases, so memory stays O(live leases).
public struct LeaseTable<ID: Hashable & Sendable>: Sendable {
    struct Entry: Comparable, Sendable {
        var deadline: ContinuousClock.Instant
        var id: ID
        static func < (a: Entry, b: Entry) -> Bool { a.deadline < b.deadline }
        static func == (a: Entry, b: Entry) -> Bool { a.deadline == b.deadline && a.id == b.id }
    }

    private var heap = Heap<Entry>()
    private var deadlines: [ID: ContinuousClock.Instant] = [:]

    public init() {}

    /// Number of live leases.
    public var count: Int { deadlines.count }

    /// Number of heap entries, live and stale (for tests and benchmarks).
    public var heapCount: Int { heap.count }

    /// The lease's current deadline.
    public func deadline(of id: ID) -> ContinuousClock.Instant? { deadlines[id] }

    /// Starts or moves a lease. O(log n) amortized.
    public mutating func set(_ id: ID, deadline: ContinuousClock.Instant) {
        deadlines[id] = deadline
        heap.insert(Entry(deadline: deadline, id: id))
        if heap.count > 2 * deadlines.count + 1024 { compact() }
    }

    /// Ends a lease. Its heap entries become stale. O(1).
    public mutating func remove(_ id: ID) {
        deadlines[id] = nil
    }

    /// Removes and returns every lease whose deadline is at or before `now`, earliest first.
    /// - Complexity: O((expired + stale popped) · log n).
    public mutating func popExpired(at now: ContinuousClock.Instant) -> [(id: ID, deadline: ContinuousClock.Instant)] {
        var expired: [(ID, ContinuousClock.Instant)] = []
        while let top = heap.min, top.deadline <= now {
            heap.removeMin()
            if deadlines[top.id] == top.deadline {
                deadlines[top.id] = nil
                expired.append((top.id, top.deadline))
            }
        }
        return expired
    }

    /// The earliest live deadline, if any.
    public mutating func nextDeadline() -> ContinuousClock.Instant? {
        while let top = heap.min {
            if deadlines[top.id] == top.deadline { return top.deadline }
            heap.removeMin()
        }
        return nil
    }

    private mutating func compact() {
        heap = Heap(deadlines.map { Entry(deadline: $0.value, id: $0.key) })
    }
}
