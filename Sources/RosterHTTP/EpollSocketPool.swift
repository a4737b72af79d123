#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation
import FlyingSocks
#if os(Linux)
import CSystemLinux
#endif
import Synchronization

#if os(Linux)
/// A FlyingSocks `AsyncSocketPool` whose one epoll thread resumes waiting tasks itself.
///
/// FlyingSocks' own `SocketPool` waits in `epoll_wait` on a dispatch queue and resumes waiters
/// through an actor, so a request that reaches an idle server wakes about four threads before its
/// handler runs. On the 2-core VM this project is measured on, that was ~4 context switches and
/// ~575 µs of CPU per request at 100 requests/s, most of it in wake-ups. Here a request wakes two
/// threads: this pool's thread, then a cooperative-pool thread for the task it resumes.
///
/// Each file descriptor is registered one-shot (`EPOLLONESHOT`, epoll(7)) for the union of its
/// waiters' events: a suspending task arms it (`EPOLL_CTL_MOD`, or `EPOLL_CTL_ADD` the first time
/// and after the descriptor was closed and its number reused), and the kernel disarms it when it
/// fires. Waiters whose event fired, and every waiter on an error or hang-up, are resumed without
/// error: the read or write they retry reports what happened. Cancelling a waiting task resumes it
/// with `CancellationError`; so does stopping the pool (cancelling `run()`).
///
/// Use: `prepare()`, then `run()` in a task that lives as long as the sockets; then
/// `AsyncSocket(socket:pool:)`.
public final class EpollSocketPool: AsyncSocketPool {
    private struct Waiter {
        let id: UInt64
        let events: UInt32
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var waiters: [Int32: [Waiter]] = [:]
        var epoll: Int32 = -1
        var wakeup: Int32 = -1
        var started = false
        var stopped = false
        var run: CheckedContinuation<Void, any Error>?
    }

    private let state = Mutex(State())
    private let nextID = Atomic<UInt64>(0)
    private let maxEvents: Int

    /// - Parameter maxEvents: most events taken from the kernel per `epoll_wait`.
    public init(maxEvents: Int = 256) {
        self.maxEvents = maxEvents
    }

    /// Creates the epoll instance and the eventfd that stops its thread.
    /// - Throws: `SocketError.makeFailed` if either cannot be created.
    public func prepare() async throws {
        let epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epoll >= 0 else { throw SocketError.makeFailed("epoll_create1") }
        let wakeup = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard wakeup >= 0 else {
            close(epoll)
            throw SocketError.makeFailed("eventfd")
        }
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.fd = wakeup
        guard epoll_ctl(epoll, EPOLL_CTL_ADD, wakeup, &event) == 0 else {
            close(epoll)
            close(wakeup)
            throw SocketError.makeFailed("epoll_ctl")
        }
        state.withLock { s in
            s.epoll = epoll
            s.wakeup = wakeup
        }
    }

    /// Starts the epoll thread and returns when the task is cancelled (throwing `CancellationError`);
    /// then every waiting task is resumed with `CancellationError`.
    public func run() async throws {
        let (epoll, wakeup) = try state.withLock { s throws -> (Int32, Int32) in
            guard s.epoll >= 0, !s.started else { throw SocketError.makeFailed("run() without prepare(), or twice") }
            s.started = true
            return (s.epoll, s.wakeup)
        }
        let thread = Thread { [self] in loop(epoll: epoll, wakeup: wakeup) }
        thread.name = "roster-epoll"
        thread.start()
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let stopped = state.withLock { s -> Bool in
                    if s.stopped || Task.isCancelled { return true }
                    s.run = continuation
                    return false
                }
                if stopped { continuation.resume(throwing: CancellationError()) }
            }
        } onCancel: {
            stop()
        }
    }

    /// Suspends the calling task until `socket` is ready for one of `events`.
    /// - Throws: `CancellationError` if the task is cancelled or the pool stops;
    ///   `SocketError.makeFailed` if the kernel refuses to watch the descriptor.
    public func suspendSocket(_ socket: Socket, untilReadyFor events: Socket.Events) async throws {
        let fd = socket.file.rawValue
        var mask: UInt32 = 0
        if events.contains(.read) { mask |= EPOLLIN.rawValue }
        if events.contains(.write) { mask |= EPOLLOUT.rawValue }
        let id = nextID.add(1, ordering: .relaxed).newValue
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let failure = state.withLock { s -> (any Error)? in
                    // `Task.isCancelled` is set before `onCancel` runs, and `onCancel` takes this lock:
                    // a cancellation is seen either here or there.
                    if s.stopped || Task.isCancelled { return CancellationError() }
                    let union = (s.waiters[fd] ?? []).reduce(mask) { $0 | $1.events }
                    if let error = Self.arm(fd, union, epoll: s.epoll) { return error }
                    s.waiters[fd, default: []].append(Waiter(id: id, events: mask, continuation: continuation))
                    return nil
                }
                if let failure { continuation.resume(throwing: failure) }
            }
        } onCancel: {
            let cancelled = state.withLock { s -> CheckedContinuation<Void, any Error>? in
                guard var list = s.waiters[fd], let at = list.firstIndex(where: { $0.id == id }) else { return nil }
                let waiter = list.remove(at: at)
                if list.isEmpty {
                    // Left armed: should it fire, it finds no waiter and is not re-armed.
                    s.waiters[fd] = nil
                } else {
                    s.waiters[fd] = list
                    _ = Self.arm(fd, list.reduce(0) { $0 | $1.events }, epoll: s.epoll)
                }
                return waiter.continuation
            }
            cancelled?.resume(throwing: CancellationError())
        }
    }

    /// Arms `fd` one-shot for `events`; returns the error if the kernel refuses.
    private static func arm(_ fd: Int32, _ events: UInt32, epoll: Int32) -> (any Error)? {
        var event = epoll_event()
        event.events = events | EPOLLONESHOT.rawValue
        event.data.fd = fd
        if epoll_ctl(epoll, EPOLL_CTL_MOD, fd, &event) == 0 { return nil }
        if errno == ENOENT, epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) == 0 { return nil }
        return SocketError.makeFailed("epoll_ctl")
    }

    /// Marks the pool stopped, wakes its thread, and resumes every waiter with `CancellationError`.
    private func stop() {
        let (waiters, run) = state.withLock { s -> ([Waiter], CheckedContinuation<Void, any Error>?) in
            guard !s.stopped else { return ([], nil) }
            s.stopped = true
            if s.wakeup >= 0 { _ = eventfd_write(s.wakeup, 1) }
            defer {
                s.waiters = [:]
                s.run = nil
            }
            return (s.waiters.values.flatMap { $0 }, s.run)
        }
        for waiter in waiters { waiter.continuation.resume(throwing: CancellationError()) }
        run?.resume(throwing: CancellationError())
    }

    private func loop(epoll: Int32, wakeup: Int32) {
        var events = [epoll_event](repeating: epoll_event(), count: maxEvents)
        var ready: [CheckedContinuation<Void, any Error>] = []
        let failure = EPOLLERR.rawValue | EPOLLHUP.rawValue
        var running = true
        while running {
            let count = epoll_wait(epoll, &events, Int32(maxEvents), -1)
            if count < 0 {
                if errno == EINTR { continue }
                break
            }
            state.withLock { s in
                for event in events.prefix(Int(count)) {
                    let fd = event.data.fd
                    if fd == wakeup {
                        running = false
                        continue
                    }
                    guard var list = s.waiters[fd] else { continue }
                    let fired = event.events
                    var remaining: UInt32 = 0
                    list.removeAll { waiter in
                        if fired & failure != 0 || fired & waiter.events != 0 {
                            ready.append(waiter.continuation)
                            return true
                        }
                        remaining |= waiter.events
                        return false
                    }
                    if list.isEmpty {
                        s.waiters[fd] = nil
                    } else {
                        s.waiters[fd] = list
                        _ = Self.arm(fd, remaining, epoll: s.epoll)
                    }
                }
            }
            for continuation in ready { continuation.resume() }
            ready.removeAll(keepingCapacity: true)
        }
        // Only this thread uses the descriptors once it runs; `stop()` writes `wakeup` under the lock.
        state.withLock { s in
            close(s.epoll)
            close(s.wakeup)
            s.epoll = -1
            s.wakeup = -1
        }
    }
}
#endif
