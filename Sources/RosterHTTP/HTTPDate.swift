#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// The `Date` header value in IMF-fixdate form (RFC 9110 §5.6.7), cached for the current second.
final class HTTPDateCache: Sendable {
    private let cache = Mutex<(second: Int, value: String)>((-1, ""))

    /// The IMF-fixdate of the current wall-clock second, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
    func current() -> String {
        var now = time(nil)
        let second = Int(now)
        if let hit = cache.withLock({ $0.second == second ? $0.value : nil }) { return hit }
        var parts = tm()
        gmtime_r(&now, &parts)
        let value = Self.format(parts)
        cache.withLock { $0 = (second, value) }
        return value
    }

    static func format(_ t: tm) -> String {
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(days[Int(t.tm_wday)]), \(two(t.tm_mday)) \(months[Int(t.tm_mon)]) \(t.tm_year + 1900) "
            + "\(two(t.tm_hour)):\(two(t.tm_min)):\(two(t.tm_sec)) GMT"
    }
}
