#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
import RosterAPI
import RosterServer
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Bootstraps swift-log once, for the executable only: text or JSON lines on stderr.
enum LogSetup {
    static func bootstrap(level: Logger.Level, format: LogFormat) {
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler = switch format {
            case .text: StreamLogHandler.standardError(label: label)
            case .json: JSONLogHandler(label: label)
            }
            handler.logLevel = level
            return handler
        }
    }
}

/// One JSON object per line on stderr:
/// `{"time":"2026-11-29T09:00:00.123Z","level":"info","label":"roster","message":"lease expired","service.name":"web",…}`.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    init(label: String) {
        self.label = label
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    private static let lock = Mutex(())

    func log(event: LogEvent) {
        var object = JSONObject()
        object["time"] = .string(WireTime.rfc3339(Date()))
        object["level"] = .string(event.level.rawValue)
        object["label"] = .string(label)
        object["message"] = .string("\(event.message)")
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        for key in merged.keys.sorted() where object[key] == nil {
            object[key] = .string("\(merged[key]!)")
        }
        var bytes = JSONWriter.bytes(.object(object))
        bytes.append(0x0A)
        Self.lock.withLock { _ in
            bytes.withUnsafeBytes { buffer in _ = write(2, buffer.baseAddress, buffer.count) }
        }
    }
}
