import Logging
import UnixSignals

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Makes a second SIGTERM or SIGINT end the process at once, while the first one's graceful
/// shutdown (run by the `ServiceGroup`) is still draining. Exits with 128 + the signal number.
struct SecondSignalExit {
    let logger: Logger

    /// Starts listening; the first signal is only counted (the service group handles it).
    func install() async {
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        let logger = self.logger
        Task.detached {
            var seen = 0
            for await signal in signals {
                seen += 1
                guard seen >= 2 else { continue }
                logger.warning("second signal, exiting now", metadata: ["signal": "\(signal)"])
                _exit(128 + signal.rawValue)
            }
        }
    }
}
