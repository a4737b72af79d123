import ArgumentParser
import Logging
import RosterClient
import UnixSignals

/// `roster watch [NAME…]`: prints one line per event as it happens, starting with the event type; SIGINT or
/// SIGTERM ends it with status 0. Reconnects (with `Last-Event-ID`) on its own when the registry goes away.
struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Follow changes: one line per event (snapshot, register, deregister, health_change, reset).",
        discussion: """
            Lines: `register web <id> 127.0.0.1:9001 index=5`, `deregister expired web <id> 127.0.0.1:9001 index=9`,
            `health_change web <id> 127.0.0.1:9001 healthy->suspect (http_500) index=7`,
            `snapshot index=4 instances=2 [web <id> 127.0.0.1:9001 healthy, …]`, and `reset …` like snapshot.
            """)

    @OptionGroup var client: ClientOptions
    @Argument(help: "Services to watch; none watches every service.")
    var names: [String] = []

    func run() async throws {
        let client = try self.client.makeClient(logLevel: .notice)
        let watch = names.count == 1 ? client.watch(service: names[0]) : client.watch(services: names)
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
        let outcome: RosterClientError? = try await withThrowingTaskGroup(of: RosterClientError?.self) { group in
            group.addTask {
                do {
                    for try await event in watch { printLine(Self.line(for: event)) }
                    return nil
                } catch let error as RosterClientError {
                    return error
                }
            }
            group.addTask {
                for await _ in signals { return nil }
                return nil
            }
            defer { group.cancelAll() }
            do {
                return try await group.next() ?? nil
            } catch is CancellationError {
                return nil
            }
        }
        if let outcome { throw ClientExit.report(outcome) }
    }

    static func line(for event: WatchEvent) -> String {
        func describe(_ instance: RegisteredInstance) -> String {
            let host = instance.host.contains(":") ? "[\(instance.host)]" : instance.host
            return "\(instance.service) \(instance.id) \(host):\(instance.port)"
        }
        switch event {
        case .snapshot(let index, let instances), .reset(let index, let instances):
            let list = instances.map { "\(describe($0)) \($0.status)" }.joined(separator: ", ")
            return "\(event.type) index=\(index) instances=\(instances.count) [\(list)]"
        case .register(let index, let instance):
            return "register \(describe(instance)) index=\(index)"
        case .deregister(let index, let instance, let reason):
            return "deregister \(reason) \(describe(instance)) index=\(index)"
        case .healthChange(let index, let instance, let from, let to, let reason):
            return "health_change \(describe(instance)) \(from)->\(to) (\(reason)) index=\(index)"
        }
    }
}
