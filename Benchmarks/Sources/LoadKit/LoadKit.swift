import Foundation
import CSystemLinux
import Glibc
import Synchronization

/// Load-generation helpers for the server benchmarks: blocking HTTP/1.1 clients on their own threads,
/// SSE watchers on one epoll thread, and process readings (RSS, CPU time). All loopback.

/// Runs blocking work on a thread of its own and returns its result, so that the caller's task never
/// holds one of the few cooperative threads the in-process server needs (2 on this machine).
public func offPool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        let thread = Thread { continuation.resume(returning: work()) }
        thread.stackSize = 1 << 20
        thread.start()
    }
}

/// Monotonic nanoseconds.
public func nowNanoseconds() -> Int64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
}

/// Resident set size of this process in bytes (`/proc/self/statm`).
public func residentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    return (Int(fields[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE)))
}

/// User + system CPU time of this process in nanoseconds.
public func processCPUNanoseconds() -> Int64 {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    func ns(_ t: timeval) -> Int64 { Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_usec) * 1000 }
    return ns(usage.ru_utime) + ns(usage.ru_stime)
}

/// Raises the soft open-files limit to the hard limit (watcher fleets need thousands of sockets).
public func raiseOpenFileLimit() {
    var limit = rlimit()
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    limit.rlim_cur = limit.rlim_max
    setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
}

/// A connected loopback TCP socket with TCP_NODELAY.
public func connectLoopback(port: UInt16) -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    precondition(fd >= 0, "socket failed")
    var one: Int32 = 1
    setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
    let result = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    precondition(result == 0, "connect to 127.0.0.1:\(port) failed: errno \(errno)")
    return fd
}

/// A blocking keep-alive HTTP/1.1 client for `Content-Length` responses. One per thread.
public final class BlockingHTTPConnection {
    let fd: Int32
    private var buffer = [UInt8](repeating: 0, count: 1 << 16)
    private var pending: [UInt8] = []

    public init(port: UInt16) {
        fd = connectLoopback(port: port)
    }

    deinit { close(fd) }

    /// Sends one request and reads the response; returns the status and the `Roster-Index` header.
    @discardableResult
    public func exchange(_ request: [UInt8]) -> (status: Int, index: UInt64?) {
        let (status, index, _) = exchangeWithBody(request)
        return (status, index)
    }

    /// Sends one request and reads the response; returns the status, the `Roster-Index` header and the body.
    public func exchangeWithBody(_ request: [UInt8]) -> (status: Int, index: UInt64?, body: [UInt8]) {
        request.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                precondition(n > 0, "send failed")
                offset += n
            }
        }
        while true {
            if let end = headEnd() {
                let head = String(decoding: pending[..<end], as: UTF8.self)
                var length = 0
                var index: UInt64?
                for line in head.split(separator: "\r\n").dropFirst() {
                    let lower = line.lowercased()
                    if lower.hasPrefix("content-length:") { length = Int(lower.dropFirst(15).trimmingCharacters(in: .whitespaces)) ?? 0 }
                    if lower.hasPrefix("roster-index:") { index = UInt64(lower.dropFirst(13).trimmingCharacters(in: .whitespaces)) }
                }
                let status = Int(head.split(separator: " ")[1]) ?? 0
                while pending.count < end + 4 + length { fill() }
                let body = Array(pending[(end + 4)..<(end + 4 + length)])
                pending.removeFirst(end + 4 + length)
                return (status, index, body)
            }
            fill()
        }
    }

    private func headEnd() -> Int? {
        guard pending.count >= 4 else { return nil }
        for i in 0...(pending.count - 4) where pending[i] == 13 && pending[i + 1] == 10 && pending[i + 2] == 13 && pending[i + 3] == 10 {
            return i
        }
        return nil
    }

    private func fill() {
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        precondition(n > 0, "connection closed by the server")
        pending.append(contentsOf: buffer[..<n])
    }
}

/// Request bytes for the Roster API.
public enum RosterRequests {
    public static func register(service: String, number: Int, ttl: Int = 600) -> [UInt8] {
        let host = "10.\((number >> 16) & 255).\((number >> 8) & 255).\(number & 255)"
        let body = #"{"name":"\#(service)","host":"\#(host)","port":\#(1000 + number % 60_000),"ttl":\#(ttl)}"#
        return Array("POST /services HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8)
    }

    public static func get(_ path: String) -> [UInt8] {
        Array("GET \(path) HTTP/1.1\r\nHost: bench\r\n\r\n".utf8)
    }

    public static func heartbeat(service: String, id: String) -> [UInt8] {
        Array("PUT /services/\(service)/\(id)/heartbeat HTTP/1.1\r\nHost: bench\r\nContent-Length: 0\r\n\r\n".utf8)
    }
}

/// Registers `count` instances of `service` (numbers `first`…) one at a time on one connection, calling
/// `afterEach` after each response and then pausing `gap` microseconds; returns the latencies and, per
/// change index, when its response arrived (`nowNanoseconds`). Blocking: call it off the cooperative pool.
public func registerSeries(
    port: UInt16, service: String, first: Int, count: Int, gap: useconds_t, afterEach: (() -> Void)? = nil
) -> (latencies: LatencySamples, answered: [UInt64: Int64]) {
    let connection = BlockingHTTPConnection(port: port)
    var latencies: [Int64] = []
    latencies.reserveCapacity(count)
    var answered: [UInt64: Int64] = [:]
    for i in 0..<count {
        let request = RosterRequests.register(service: service, number: first + i)
        let t0 = nowNanoseconds()
        let (status, index) = connection.exchange(request)
        let t1 = nowNanoseconds()
        precondition(status == 201, "registration answered \(status)")
        latencies.append(t1 - t0)
        if let index { answered[index] = t1 }
        afterEach?()
        if gap > 0 { usleep(gap) }
    }
    return (LatencySamples(latencies), answered)
}

/// Latency samples in nanoseconds with percentiles.
public struct LatencySamples: Sendable {
    public var nanoseconds: [Int64]

    public init(_ nanoseconds: [Int64]) {
        self.nanoseconds = nanoseconds.sorted()
    }

    /// The `p`-quantile (0…1), nearest rank.
    public func percentile(_ p: Double) -> Int64 {
        guard !nanoseconds.isEmpty else { return 0 }
        return nanoseconds[min(nanoseconds.count - 1, Int(Double(nanoseconds.count) * p))]
    }
}

/// Runs `threads` blocking clients, each sending `requestsPerThread` requests made by `request(thread, i)`;
/// returns every latency and the wall time of the whole run.
public func runClosedLoop(
    port: UInt16, threads: Int, requestsPerThread: Int, request: @escaping @Sendable (Int, Int) -> [UInt8]
) -> (latencies: LatencySamples, elapsedNanoseconds: Int64, failures: Int) {
    let results = Mutex<([Int64], Int)>(([], 0))
    let start = nowNanoseconds()
    let group = DispatchGroup()
    for thread in 0..<threads {
        group.enter()
        let worker = Thread {
            let connection = BlockingHTTPConnection(port: port)
            var local: [Int64] = []
            local.reserveCapacity(requestsPerThread)
            var failures = 0
            for i in 0..<requestsPerThread {
                let bytes = request(thread, i)
                let t0 = nowNanoseconds()
                let (status, _) = connection.exchange(bytes)
                local.append(nowNanoseconds() - t0)
                if status >= 400 { failures += 1 }
            }
            results.withLock {
                $0.0.append(contentsOf: local)
                $0.1 += failures
            }
            group.leave()
        }
        worker.start()
    }
    group.wait()
    let elapsed = nowNanoseconds() - start
    let (all, failures) = results.withLock { $0 }
    return (LatencySamples(all), elapsed, failures)
}

/// SSE watchers of one service on one epoll thread, recording per index when each watcher had it.
public final class WatcherFleet: @unchecked Sendable {
    // Safe: `arrivals`/`counts` are written by the epoll thread and read only after `stop()` joined it,
    // or through the `seen` Mutex.
    private var fds: [Int32] = []
    private var arrivals: [UInt64: Int64] = [:]
    private var counts: [UInt64: Int] = [:]
    private let seen = Mutex<[UInt64: Int]>([:])
    private let running = Atomic<Bool>(true)
    private let streaming = Atomic<Int>(0)
    private let paused = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    public let count: Int

    /// Opens `count` watches of `service`; `waitUntilStreaming` waits until each is subscribed.
    public init(port: UInt16, service: String, count: Int) {
        self.count = count
        let request = Array("GET /services/\(service)/watch HTTP/1.1\r\nHost: bench\r\n\r\n".utf8)
        for i in 0..<count {
            let fd = connectLoopback(port: port)
            _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            fds.append(fd)
            _ = i
        }
        let thread = Thread { [self] in loop() }
        thread.start()
    }

    /// Waits (polling, bounded by `timeout`) until every watcher has had its first bytes: the response
    /// head and the `snapshot` event, so each is subscribed. Returns false on timeout.
    public func waitUntilStreaming(timeout: Duration = .seconds(10)) -> Bool {
        let deadline = nowNanoseconds() + Int64(timeout.components.seconds) * 1_000_000_000
        while streaming.load(ordering: .relaxed) < count {
            if nowNanoseconds() > deadline { return false }
            usleep(1_000)
        }
        return true
    }

    /// Stops or resumes reading: a paused fleet leaves events in the sockets' receive buffers (arrival
    /// times are then those of the later reads).
    public func setPaused(_ value: Bool) { paused.store(value, ordering: .relaxed) }

    /// How many watchers have received the event with `index`.
    public func receivedCount(of index: UInt64) -> Int { seen.withLock { $0[index] ?? 0 } }

    /// Waits (polling, bounded by `timeout`) until every watcher has the event with `index`.
    public func waitForAll(_ index: UInt64, timeout: Duration = .seconds(10)) -> Bool {
        let deadline = nowNanoseconds() + Int64(timeout.components.seconds) * 1_000_000_000
        while receivedCount(of: index) < count {
            if nowNanoseconds() > deadline { return false }
            usleep(200)
        }
        return true
    }

    /// Stops the loop, closes the sockets, and returns, per index every watcher received, when the last one did.
    public func stop() -> [UInt64: Int64] {
        running.store(false, ordering: .relaxed)
        finished.wait()
        for fd in fds { close(fd) }
        return arrivals.filter { counts[$0.key] == count }
    }

    private func loop() {
        // epoll, so a wake-up costs the sockets that have bytes, not all of them (poll(2) scans every one).
        let epoll = epoll_create1(0)
        precondition(epoll >= 0, "epoll_create1 failed")
        for (i, fd) in fds.enumerated() {
            var event = epoll_event()
            event.events = EPOLLIN.rawValue
            event.data.u64 = UInt64(i)
            epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event)
        }
        defer { close(epoll) }
        var events = [epoll_event](repeating: epoll_event(), count: 256)
        // Each connection's unparsed tail (at most 63 bytes) is copied just before its new bytes.
        let slack = 64
        var buffer = [UInt8](repeating: 0, count: slack + (1 << 18))
        var tails = [[UInt8]](repeating: [], count: count)
        let needle = Array("\nid: ".utf8)
        var found: [UInt64] = []
        var started = [Bool](repeating: false, count: count)
        while running.load(ordering: .relaxed) {
            if paused.load(ordering: .relaxed) {
                usleep(10_000)
                continue
            }
            let n = epoll_wait(epoll, &events, Int32(events.count), 50)
            guard n > 0 else { continue }
            for event in events.prefix(Int(n)) {
                let i = Int(event.data.u64)
                let read = buffer.withUnsafeMutableBytes { recv(fds[i], $0.baseAddress! + slack, $0.count - slack, 0) }
                if read <= 0 {
                    epoll_ctl(epoll, EPOLL_CTL_DEL, fds[i], nil)
                    continue
                }
                let time = nowNanoseconds()
                if !started[i] {
                    started[i] = true
                    streaming.add(1, ordering: .relaxed)
                }
                found.removeAll(keepingCapacity: true)
                let tail = tails[i]
                buffer.withUnsafeMutableBytes { raw in
                    let base = raw.baseAddress!
                    let start = slack - tail.count
                    tail.withUnsafeBytes { if !tail.isEmpty { _ = memcpy(base + start, $0.baseAddress!, tail.count) } }
                    let end = slack + read
                    var position = start
                    // Each event has a line `id: <epoch>-<index>`.
                    while position < end, let newlineBefore = memchr(base + position, 10, end - position) {
                        let at = base.distance(to: newlineBefore)
                        guard at + needle.count <= end else { break }
                        guard raw[at + 1] == needle[1], raw[at + 2] == needle[2], raw[at + 3] == needle[3], raw[at + 4] == needle[4] else {
                            position = at + 1
                            continue
                        }
                        let lineStart = at + needle.count
                        guard let newline = memchr(base + lineStart, 10, end - lineStart) else { break }
                        let lineEnd = base.distance(to: newline)
                        var index: UInt64 = 0
                        var multiplier: UInt64 = 1
                        var cursor = lineEnd - 1
                        while cursor >= lineStart, raw[cursor] >= 48, raw[cursor] <= 57 {
                            index += UInt64(raw[cursor] - 48) * multiplier
                            multiplier *= 10
                            cursor -= 1
                        }
                        found.append(index)
                        position = lineEnd
                    }
                    let keep = min(63, end - max(position, start))
                    tails[i] = Array(raw[(end - keep)..<end])
                }
                for index in found {
                    counts[index, default: 0] += 1
                    if time > arrivals[index] ?? 0 { arrivals[index] = time }
                }
                if !found.isEmpty {
                    let batch = found
                    seen.withLock { seen in for index in batch { seen[index, default: 0] += 1 } }
                }
            }
        }
        finished.signal()
    }
}
