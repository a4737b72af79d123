import ArgumentParser
import RosterClient

/// `roster heartbeat NAME ID`: renews an instance's lease once and prints its TTL.
struct Heartbeat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Renew an instance's lease once.")

    @OptionGroup var client: ClientOptions
    @Argument(help: "Service name.")
    var name: String
    @Argument(help: "Instance ID.")
    var id: String

    func run() async throws {
        let client = try self.client.makeClient()
        let renewal = try await runClientCall { () async throws(RosterClientError) in try await client.heartbeat(service: name, id: id) }
        printLine("renewed \(renewal.id) ttl=\(describe(renewal.ttl))")
    }
}
