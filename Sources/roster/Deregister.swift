import ArgumentParser
import RosterClient

/// `roster deregister NAME ID`: removes an instance.
struct Deregister: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Deregister an instance.")

    @OptionGroup var client: ClientOptions
    @Argument(help: "Service name.")
    var name: String
    @Argument(help: "Instance ID.")
    var id: String

    func run() async throws {
        let client = try self.client.makeClient()
        try await runClientCall { () async throws(RosterClientError) in try await client.deregister(service: name, id: id) }
    }
}
