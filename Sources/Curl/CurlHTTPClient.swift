#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CCurl
import Foundation
import Synchronization

/// An async HTTP client over one libcurl multi handle, driven by one dedicated thread.
///
/// Callers enqueue a transfer and await its result; only the loop thread touches libcurl
/// handles. Other threads enqueue and call `curl_multi_wakeup`. Each caller is resumed exactly
/// once; cancelling the awaiting task removes the transfer on the loop thread promptly.
/// Redirects are never followed, only `http` and `https` are allowed, proxies are bypassed,
/// and `CURLOPT_NOSIGNAL` is set (SIGPIPE is ignored process-wide instead).
public final class CurlHTTPClient: Sendable {
    private let loop: CurlLoop

    /// Starts the loop thread.
    public init() {
        CurlGlobal.initializeOnce()
        loop = CurlLoop()
        loop.start()
    }

    deinit {
        loop.stop()
    }

    /// Stops the loop thread; transfers still running fail with `.shutdown`.
    public func shutdown() {
        loop.stop()
    }

    /// Transfers queued or running (for leak checks).
    public var activeTransfers: Int { loop.activeCount }

    /// Performs a request and returns its response (any status, 3xx included).
    /// - Throws: `CurlError` for failures below HTTP (timeout, refused, DNS, TLS, …) and `.cancelled`.
    public func perform(_ request: CurlRequest) async throws(CurlError) -> CurlResponse {
        let transfer = CurlTransfer(request: request, mode: .collect)
        let result: Result<CurlResponse, CurlError> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                transfer.onComplete = { continuation.resume(returning: $0) }
                loop.enqueue(transfer)
            }
        } onCancel: {
            loop.cancel(transfer.id)
        }
        return try result.get()
    }

    /// Streams a response: the head, then body bytes as they arrive, then the end (or an error).
    /// Ending the iteration (or cancelling its task) stops the transfer.
    public func stream(_ request: CurlRequest) -> AsyncThrowingStream<CurlStreamEvent, any Error> {
        AsyncThrowingStream { continuation in
            let transfer = CurlTransfer(request: request, mode: .stream(continuation))
            transfer.onComplete = { result in
                switch result {
                case .success: continuation.finish()
                case .failure(let error): continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { [loop] _ in loop.cancel(transfer.id) }
            loop.enqueue(transfer)
        }
    }
}

enum CurlGlobal {
    private static let initialized: Bool = {
        _ = signal(SIGPIPE, SIG_IGN)
        return curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK
    }()

    static func initializeOnce() { _ = initialized }
}

/// The multi handle and its thread.
final class CurlLoop: @unchecked Sendable {
    // Safe: `multi` and `running` are touched only on the loop thread (after `start`), except
    // `curl_multi_wakeup`, which libcurl documents as callable from any thread; everything
    // shared with other threads is in `state`.
    private let multi: UnsafeMutableRawPointer
    private var running: [UInt64: CurlTransfer] = [:]

    private struct State {
        var queued: [CurlTransfer] = []
        var cancelled: [UInt64] = []
        /// Every transfer not yet completed, by id.
        var live: [UInt64: CurlTransfer] = [:]
        var stopping = false
        var stopped = false
    }
    private let state = Mutex(State())
    private let finished = Mutex(false)

    init() {
        multi = curl_multi_init()
        _ = roster_curl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, 64)
    }

    var activeCount: Int { state.withLock { $0.live.count } }

    func start() {
        let thread = Thread { [self] in self.run() }
        thread.name = "roster-curl"
        thread.start()
    }

    func stop() {
        let wake = state.withLock { s -> Bool in
            guard !s.stopping else { return false }
            s.stopping = true
            return true
        }
        if wake { curl_multi_wakeup(multi) }
    }

    func enqueue(_ transfer: CurlTransfer) {
        let accepted = state.withLock { s -> Bool in
            guard !s.stopping else { return false }
            s.live[transfer.id] = transfer
            s.queued.append(transfer)
            return true
        }
        if accepted {
            curl_multi_wakeup(multi)
        } else {
            transfer.complete(.failure(CurlError(.shutdown, message: "the HTTP client is shut down")))
        }
    }

    func cancel(_ id: UInt64) {
        let known = state.withLock { s -> Bool in
            guard s.live[id] != nil else { return false }
            s.cancelled.append(id)
            return true
        }
        if known { curl_multi_wakeup(multi) }
    }

    private func run() {
        while true {
            let (queued, cancelled, stopping) = state.withLock { s in
                defer { s.queued.removeAll(); s.cancelled.removeAll() }
                return (s.queued, s.cancelled, s.stopping)
            }
            for transfer in queued { start(transfer) }
            for id in cancelled { finish(id, .failure(CurlError(.cancelled, message: "cancelled"))) }
            if stopping {
                for id in Array(running.keys) { finish(id, .failure(CurlError(.shutdown, message: "the HTTP client is shut down"))) }
                let leftovers = state.withLock { s -> [CurlTransfer] in
                    s.stopped = true
                    defer { s.live.removeAll(); s.queued.removeAll() }
                    return Array(s.live.values)
                }
                for transfer in leftovers { transfer.complete(.failure(CurlError(.shutdown, message: "the HTTP client is shut down"))) }
                curl_multi_cleanup(multi)
                return
            }
            var stillRunning: Int32 = 0
            _ = curl_multi_perform(multi, &stillRunning)
            var remaining: Int32 = 0
            while let message = curl_multi_info_read(multi, &remaining) {
                guard roster_curl_msg_kind(message) == CURLMSG_DONE, let easy = roster_curl_msg_easy(message) else { continue }
                var pointer: UnsafeMutableRawPointer?
                _ = roster_curl_easy_getinfo_pointer(easy, CURLINFO_PRIVATE, &pointer)
                guard let pointer else { continue }
                let transfer = Unmanaged<CurlTransfer>.fromOpaque(pointer).takeUnretainedValue()
                finish(transfer.id, transfer.outcome(code: roster_curl_msg_result(message)))
            }
            _ = curl_multi_poll(multi, nil, 0, 1000, nil)
        }
    }

    private func start(_ transfer: CurlTransfer) {
        do {
            try transfer.configure()
        } catch {
            finish(transfer.id, .failure(error))
            return
        }
        guard let easy = transfer.easy, curl_multi_add_handle(multi, easy) == CURLM_OK else {
            finish(transfer.id, .failure(CurlError(.other, message: "could not start the transfer")))
            return
        }
        running[transfer.id] = transfer
    }

    /// Ends a transfer exactly once: removes its handle and resumes its caller.
    private func finish(_ id: UInt64, _ result: Result<CurlResponse, CurlError>) {
        if let transfer = running.removeValue(forKey: id), let easy = transfer.easy {
            curl_multi_remove_handle(multi, easy)
        }
        let transfer = state.withLock { $0.live.removeValue(forKey: id) }
        transfer?.cleanup()
        transfer?.complete(result)
    }
}
