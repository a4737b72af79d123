import ArgumentParser
import RosterAPI
import RosterClient

/// `roster instances NAME [--all]`: the instances lookups serve (healthy and suspect), or all of them.
struct Instances: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List a service's instances.")

    @OptionGroup var client: ClientOptions
    @Argument(help: "Service name.")
    var name: String
    @Flag(help: "Include unhealthy and recovering instances.")
    var all = false
    @Option(help: "table or json.")
    var output: OutputFormat = .table

    func run() async throws {
        let client = try self.client.makeClient()
        let list = try await runClientCall { () async throws(RosterClientError) in
            try await client.instances(of: name, includeUnhealthy: all)
        }
        switch output {
        case .json:
            printLine(JSONWriter.string(.array(list.instances.map(\.json))))
        case .table:
            let rows = list.instances.map { instance in
                [instance.id, instance.host, String(instance.port), instance.status, describe(instance.ttl),
                 instance.metadata.keys.sorted().map { "\($0)=\(instance.metadata[$0]!)" }.joined(separator: ",")]
            }
            printTable([["ID", "HOST", "PORT", "STATUS", "TTL", "METADATA"]] + rows)
        }
    }
}
