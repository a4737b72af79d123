import ArgumentParser
import RosterAPI
import RosterClient

/// `roster services`: every service with its instance counts.
struct Services: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List services with their instance counts.")

    @OptionGroup var client: ClientOptions
    @Option(help: "table or json.")
    var output: OutputFormat = .table

    func run() async throws {
        let client = try self.client.makeClient()
        let services = try await runClientCall { () async throws(RosterClientError) in try await client.services() }
        switch output {
        case .json:
            printLine(JSONWriter.string(.object(JSONObject(services.map {
                ($0.name, .object(JSONObject([("instances", .number(JSONNumber($0.instances))), ("healthy", .number(JSONNumber($0.healthy)))])))
            }))))
        case .table:
            printTable([["SERVICE", "INSTANCES", "HEALTHY"]] + services.map { [$0.name, String($0.instances), String($0.healthy)] })
        }
    }
}
