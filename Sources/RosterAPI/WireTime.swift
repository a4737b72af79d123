#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Times on the wire: RFC 3339 in UTC with milliseconds; durations as seconds.
public enum WireTime {
    /// `2026-11-29T09:00:00.123Z` (RFC 3339 §5.6, UTC, millisecond precision).
    public static func rfc3339(_ date: Date) -> String {
        let interval = date.timeIntervalSince1970
        var seconds = time_t(interval.rounded(.down))
        var millis = Int(((interval - interval.rounded(.down)) * 1000).rounded(.down))
        if millis > 999 { millis = 999 }
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ v: Int, _ width: Int) -> String {
            let s = String(v)
            return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
        }
        return "\(pad(Int(parts.tm_year) + 1900, 4))-\(pad(Int(parts.tm_mon) + 1, 2))-\(pad(Int(parts.tm_mday), 2))"
            + "T\(pad(Int(parts.tm_hour), 2)):\(pad(Int(parts.tm_min), 2)):\(pad(Int(parts.tm_sec), 2))"
            + ".\(pad(millis, 3))Z"
    }

    /// A duration as a JSON number of seconds with at most millisecond precision
    /// (`30` for 30 s, `1.5` for 1500 ms, `0.001` for 1 ms).
    public static func seconds(_ duration: Duration) -> JSONNumber {
        let (s, attos) = duration.components
        let millis = s * 1000 + attos / 1_000_000_000_000_000
        if millis % 1000 == 0 { return JSONNumber(Int(millis / 1000)) }
        return JSONNumber(Double(millis) / 1000)!
    }
}
