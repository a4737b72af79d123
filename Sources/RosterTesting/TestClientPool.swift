import FlyingSocks

/// The socket pool of every test client in this process, started exactly once.
///
/// FlyingSocks' own shared client pool (`AsyncSocket.connected(to:)`) can be prepared twice by
/// concurrent first callers, leaving its run loop on a stale epoll descriptor so that sockets
/// are never woken; this loader sets its task before suspending, so concurrent callers share it.
actor TestClientPool {
    static let shared = TestClientPool()
    private var starting: Task<SocketPool<ePoll>, any Error>?

    func pool() async throws -> SocketPool<ePoll> {
        if let starting { return try await starting.value }
        let task = Task<SocketPool<ePoll>, any Error> {
            let pool: SocketPool<ePoll> = .ePoll(maxEvents: 256)
            try await pool.prepare()
            Task.detached { try? await pool.run() }
            return pool
        }
        starting = task
        return try await task.value
    }
}
