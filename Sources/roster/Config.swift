import ArgumentParser
import Curl
import RosterAPI
import RosterClient
import RosterSettings

/// `roster config` (alias `doctor`): where the client finds the registry, where each setting came from, and
/// whether each address answers. Exits 0 if one answers, 3 if none does.
struct Config: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the resolved registry address and token, their sources, and whether the registry answers.",
        aliases: ["doctor"])

    @OptionGroup var client: ClientOptions

    func run() async throws {
        let (settings, sources, configFile) = try client.load()
        ClientLog.bootstrap(level: .error)
        let fileSource: (ConfigFileLocation) -> String = { location in
            if case .file = location.source { return "found in a default location" }
            return "\(location.source)"
        }
        printLine("config file: \(configFile.map { "\($0.path) (\(fileSource($0)))" } ?? "none")")
        printLine("registry:    \(settings.registry.map(\.url).joined(separator: ",")) (\(sources["registry"] ?? .defaultValue))")
        printLine("token:       \(settings.token == nil ? "not set" : "set") (\(sources["token"] ?? .defaultValue))")
        let http = CurlHTTPClient()
        defer { http.shutdown() }
        var answered = false
        for address in settings.registry {
            var headers: [(name: String, value: String)] = [("Accept", "application/json")]
            if let token = settings.token { headers.append(("Authorization", "Bearer \(token)")) }
            do {
                let response = try await http.perform(
                    CurlRequest(url: address.url + "/services", headers: headers, timeout: .seconds(3), maxBodyBytes: 1 << 20))
                answered = true
                let epoch = response.header(RosterHeader.epoch).map { " epoch=\($0)" } ?? ""
                let index = response.header(RosterHeader.index).map { " index=\($0)" } ?? ""
                let verdict = switch response.status {
                case 200: "answers"
                case 401: "answers, but the token is missing or unknown"
                case 403: "answers, but the token may not list services"
                default: "answers with status \(response.status)"
                }
                printLine("  \(address.url): \(verdict) (HTTP \(response.status)\(epoch)\(index), \(response.duration.components.attoseconds / 1_000_000_000_000_000 + response.duration.components.seconds * 1000) ms)")
            } catch {
                printLine("  \(address.url): unreachable (\(error.reason))")
            }
        }
        if !answered { throw ExitCode(ClientExit.unreachable) }
    }
}
