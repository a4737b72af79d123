import CCurl
import Foundation
import Synchronization

/// One transfer: its easy handle, what has been received, and how to report the end.
///
/// `@unchecked Sendable`: created on the caller's thread, then configured, fed by libcurl's
/// callbacks and cleaned up only on the loop thread; `onComplete` is set before it is enqueued
/// and called once, guarded by `completed`.
final class CurlTransfer: @unchecked Sendable {
    enum Mode {
        case collect
        case stream(AsyncThrowingStream<CurlStreamEvent, any Error>.Continuation)
    }

    private static let nextID = Atomic<UInt64>(1)

    let id: UInt64
    let request: CurlRequest
    let mode: Mode
    var onComplete: ((Result<CurlResponse, CurlError>) -> Void)?
    private let completed = Atomic<Bool>(false)

    private(set) var easy: UnsafeMutableRawPointer?
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private var status = 0
    private var headers: [(name: String, value: String)] = []
    private var headSent = false
    private var body: [UInt8] = []
    private var received = 0
    private var truncated = false
    private let started = ContinuousClock.now

    init(request: CurlRequest, mode: Mode) {
        self.id = Self.nextID.add(1, ordering: .relaxed).oldValue
        self.request = request
        self.mode = mode
    }

    /// Creates and configures the easy handle (loop thread).
    func configure() throws(CurlError) {
        let lower = request.url.lowercased()
        guard lower.hasPrefix("http://") || lower.hasPrefix("https://") else {
            throw CurlError(.invalidRequest, message: "only http and https URLs are supported")
        }
        guard let easy = curl_easy_init() else { throw CurlError(.other, message: "curl_easy_init failed") }
        self.easy = easy
        let context = Unmanaged.passUnretained(self).toOpaque()
        var ok = true
        func set(_ option: CURLoption, _ value: Int) { ok = ok && roster_curl_easy_setopt_long(easy, option, value) == CURLE_OK }
        func set(_ option: CURLoption, _ value: String) { ok = ok && roster_curl_easy_setopt_string(easy, option, value) == CURLE_OK }

        set(CURLOPT_URL, request.url)
        set(CURLOPT_PROTOCOLS_STR, "http,https")
        set(CURLOPT_NOSIGNAL, 1)
        set(CURLOPT_FOLLOWLOCATION, 0)
        set(CURLOPT_NOPROXY, "*")
        set(CURLOPT_TCP_NODELAY, 1)
        func millis(_ duration: Duration) -> Int {
            max(1, Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000))
        }
        if let idle = request.idleTimeout {
            // A stream: no limit on the whole transfer, but it fails once no byte arrived for `idle`.
            set(CURLOPT_CONNECTTIMEOUT_MS, millis(request.timeout))
            set(CURLOPT_LOW_SPEED_LIMIT, 1)
            set(CURLOPT_LOW_SPEED_TIME, max(1, Int(idle.components.seconds)))
        } else {
            set(CURLOPT_TIMEOUT_MS, millis(request.timeout))
            set(CURLOPT_CONNECTTIMEOUT_MS, millis(request.timeout))
        }
        if let userAgent = request.userAgent { set(CURLOPT_USERAGENT, userAgent) }
        ok = ok && roster_curl_easy_setopt_pointer(easy, CURLOPT_PRIVATE, context) == CURLE_OK
        ok = ok && roster_curl_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, context) == CURLE_OK
        ok = ok && roster_curl_easy_setopt_pointer(easy, CURLOPT_HEADERDATA, context) == CURLE_OK
        ok = ok && roster_curl_easy_setopt_callback(easy, CURLOPT_WRITEFUNCTION, curlWriteCallback) == CURLE_OK
        ok = ok && roster_curl_easy_setopt_callback(easy, CURLOPT_HEADERFUNCTION, curlHeaderCallback) == CURLE_OK

        switch request.method {
        case "GET": break
        case "HEAD": set(CURLOPT_NOBODY, 1)
        default: set(CURLOPT_CUSTOMREQUEST, request.method)
        }
        if let body = request.body {
            ok = ok && roster_curl_easy_setopt_off_t(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)) == CURLE_OK
            ok = ok && body.withUnsafeBufferPointer { buffer in
                // COPYPOSTFIELDS makes libcurl keep its own copy for the transfer's lifetime.
                roster_curl_easy_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: buffer.baseAddress ?? UnsafePointer(bitPattern: 1)!)) == CURLE_OK
            }
        }
        var list: UnsafeMutablePointer<curl_slist>?
        var fields = request.headers.map { "\($0.name): \($0.value)" }
        fields.append("Expect:")  // never wait for 100-continue
        if request.body != nil && !request.headers.contains(where: { $0.name.lowercased() == "content-type" }) {
            fields.append("Content-Type: application/json")
        }
        for field in fields {
            guard !field.contains("\r") && !field.contains("\n") else {
                throw CurlError(.invalidRequest, message: "header fields must not contain CR or LF")
            }
            list = curl_slist_append(list, field)
        }
        headerList = list
        ok = ok && roster_curl_easy_setopt_slist(easy, CURLOPT_HTTPHEADER, list) == CURLE_OK
        guard ok else { throw CurlError(.invalidRequest, message: "libcurl refused an option of this request") }
    }

    /// Body bytes from libcurl (loop thread). Returns the count consumed; less aborts the transfer.
    func receiveBody(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        sendHeadIfNeeded()
        var slice = bytes[...]
        if let limit = request.maxBodyBytes, received + bytes.count > limit {
            slice = bytes[0..<max(0, limit - received)]
            truncated = true
        }
        received += slice.count
        switch mode {
        case .collect: body.append(contentsOf: slice)
        case .stream(let continuation):
            if !slice.isEmpty { continuation.yield(.body(Array(slice))) }
        }
        return truncated ? 0 : bytes.count
    }

    /// One header line from libcurl (loop thread).
    func receiveHeader(_ line: String) {
        let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.hasPrefix("HTTP/") {
            // A new response head (after a 1xx, or the first): start over.
            headers.removeAll()
            status = Int(trimmed.split(separator: " ").dropFirst().first ?? "") ?? 0
        } else if trimmed.isEmpty {
            if status >= 200 { sendHeadIfNeeded() }
        } else if let colon = trimmed.firstIndex(of: ":") {
            headers.append((String(trimmed[..<colon]), trimmed[trimmed.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
    }

    private func sendHeadIfNeeded() {
        guard !headSent, case .stream(let continuation) = mode else { return }
        headSent = true
        continuation.yield(.head(status: status, headers: headers))
    }

    /// The result of a finished transfer (loop thread).
    func outcome(code: CURLcode) -> Result<CurlResponse, CurlError> {
        if code == CURLE_OK || (code == CURLE_WRITE_ERROR && truncated) {
            var responseCode = 0
            if let easy { _ = roster_curl_easy_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &responseCode) }
            sendHeadIfNeeded()
            return .success(CurlResponse(
                status: responseCode, headers: headers, body: body, truncated: truncated,
                duration: ContinuousClock.now - started))
        }
        return .failure(Self.error(for: code))
    }

    static func error(for code: CURLcode) -> CurlError {
        let message = String(cString: curl_easy_strerror(code))
        let kind: CurlError.Kind = switch code {
        case CURLE_OPERATION_TIMEDOUT: .timeout
        case CURLE_COULDNT_CONNECT: .connectionRefused
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY: .dnsFailure
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_ENGINE_NOTFOUND,
             CURLE_SSL_ENGINE_SETFAILED, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER, CURLE_SSL_ENGINE_INITFAILED,
             CURLE_SSL_CACERT_BADFILE, CURLE_SSL_SHUTDOWN_FAILED, CURLE_SSL_CRL_BADFILE, CURLE_SSL_ISSUER_ERROR,
             CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_CLIENTCERT:
            .tlsError
        case CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_PARTIAL_FILE: .connectionReset
        case CURLE_GOT_NOTHING: .emptyResponse
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL: .invalidRequest
        default: .other
        }
        return CurlError(kind, code: Int32(code.rawValue), message: message)
    }

    /// Frees the easy handle and header list (loop thread, after removal from the multi handle).
    func cleanup() {
        if let easy { curl_easy_cleanup(easy) }
        easy = nil
        if let headerList { curl_slist_free_all(headerList) }
        headerList = nil
    }

    /// Reports the result once.
    func complete(_ result: Result<CurlResponse, CurlError>) {
        guard !completed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        onComplete?(result)
        onComplete = nil
    }
}

private let curlWriteCallback: roster_curl_data_callback = { data, size, count, context in
    guard let data, let context else { return 0 }
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue()
    let bytes = UnsafeBufferPointer(start: UnsafeRawPointer(data).assumingMemoryBound(to: UInt8.self), count: size * count)
    return transfer.receiveBody(bytes)
}

private let curlHeaderCallback: roster_curl_data_callback = { data, size, count, context in
    guard let data, let context else { return 0 }
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue()
    let bytes = UnsafeBufferPointer(start: UnsafeRawPointer(data).assumingMemoryBound(to: UInt8.self), count: size * count)
    transfer.receiveHeader(String(decoding: bytes, as: UTF8.self))
    return size * count
}
