import Logging
import Synchronization

/// Records log events so tests can assert on what was logged.
public final class LogCapture: Sendable {
    public struct Entry: Sendable {
        public var level: Logger.Level
        public var message: String
        public var metadata: [String: String]
    }

    private let entries = Mutex<[Entry]>([])

    public init() {}

    /// A logger that records into this capture (at `level` and above).
    public func logger(level: Logger.Level = .info) -> Logger {
        var logger = Logger(label: "roster.test") { _ in Handler(capture: self) }
        logger.logLevel = level
        return logger
    }

    public var all: [Entry] { entries.withLock { $0 } }

    public func entries(withMessage message: String) -> [Entry] { all.filter { $0.message == message } }

    fileprivate func append(_ entry: Entry) { entries.withLock { $0.append(entry) } }

    struct Handler: LogHandler {
        let capture: LogCapture
        var logLevel: Logger.Level = .info
        var metadata: Logger.Metadata = [:]

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            var merged = metadata
            if let extra = event.metadata { merged.merge(extra) { _, new in new } }
            capture.append(Entry(
                level: event.level, message: "\(event.message)",
                metadata: merged.mapValues { "\($0)" }))
        }
    }
}
