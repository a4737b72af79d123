import ArgumentParser
import Curl
import RosterServer

/// `roster ready`: asks a registry's `/readyz` and exits 0 if it is ready, 1 otherwise. For
/// container health checks, where the runtime image has no curl.
struct Ready: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Exit 0 if the registry at --url is ready (GET /readyz answers 200), else 1.",
        discussion: "Prints nothing when ready; otherwise one line saying why. Meant for a container HEALTHCHECK.")

    @Option(help: "Base URL of the registry.")
    var url: String = "http://127.0.0.1:8700"

    @Option(help: "Seconds to wait for the answer.")
    var timeout: Double = 3

    func run() async throws {
        guard timeout > 0 else { throw ValidationError("--timeout must be greater than 0") }
        let base = url.hasSuffix("/") ? String(url.dropLast()) : url
        let client = CurlHTTPClient()
        defer { client.shutdown() }
        let request = CurlRequest(
            url: base + "/readyz", timeout: .milliseconds(Int(timeout * 1000)),
            userAgent: "roster-ready/\(RosterVersion.current)", maxBodyBytes: 4096)
        do {
            let response = try await client.perform(request)
            guard response.status == 200 else {
                printError("roster ready: \(base)/readyz answered \(response.status): \(String(decoding: response.body, as: UTF8.self))")
                throw ExitCode(1)
            }
        } catch let error as CurlError {
            printError("roster ready: \(base)/readyz: \(error.reason): \(error.message)")
            throw ExitCode(1)
        }
    }
}
