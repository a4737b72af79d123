import ArgumentParser
import RosterServer

@main
struct Roster: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "roster",
        abstract: "A service registry: TTL leases, health checks and watches over HTTP/JSON.",
        version: RosterVersion.current,
        subcommands: [
            Serve.self, Register.self, Deregister.self, Heartbeat.self, Services.self, Instances.self, Health.self,
            Watch.self, Config.self, Ready.self, ACL.self,
        ],
        defaultSubcommand: nil
    )
}
