import ArgumentParser
import RosterAPI
import RosterClient

/// `roster health NAME ID`: an instance's health status and last probe.
struct Health: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show an instance's health status and last probe.")

    @OptionGroup var client: ClientOptions
    @Argument(help: "Service name.")
    var name: String
    @Argument(help: "Instance ID.")
    var id: String
    @Option(help: "table or json.")
    var output: OutputFormat = .table

    func run() async throws {
        let client = try self.client.makeClient()
        let report = try await runClientCall { () async throws(RosterClientError) in try await client.health(service: name, id: id) }
        switch output {
        case .json:
            printLine(JSONWriter.string(report.json))
        case .table:
            printTable([
                ["FIELD", "VALUE"],
                ["status", report.status],
                ["check", report.checkURL ?? "-"],
                ["last_check_at", report.lastCheckAt ?? "-"],
                ["last_result", report.lastOutcome.map { "\($0) (\(report.lastReason ?? ""))" } ?? "-"],
                ["consecutive_failures", String(report.consecutiveFailures)],
                ["consecutive_successes", String(report.consecutiveSuccesses)],
            ])
        }
    }
}
