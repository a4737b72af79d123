#if canImport(FoundationEssentials)
import FoundationEssentials
#endif
import Foundation
import RosterClient
import RosterServer
import RosterSettings
import Testing

@Suite(.timeLimit(.minutes(2))) struct RegistryAddressTests {
    @Test(arguments: [
        ("http://127.0.0.1:8700", "http://127.0.0.1:8700"),
        ("127.0.0.1:8700", "http://127.0.0.1:8700"),
        ("https://Registry.Internal:8700/", "https://registry.internal:8700"),
        ("http://[::1]:8700", "http://[::1]:8700"),
        ("http://registry", "http://registry"),
        ("  http://10.0.0.5:8700 ", "http://10.0.0.5:8700"),
    ])
    func `valid addresses normalise`(text: String, url: String) throws {
        #expect(try RegistryAddress(parsing: text).url == url)
    }

    @Test(arguments: [
        ("", "expected a registry URL"),
        ("ftp://host:21", "scheme must be http or https"),
        ("http://host:8700/v1", "no path"),
        ("http://user@host:8700", "no path"),
        ("http://host:0", "port must be a number from 1 to 65535"),
        ("http://host:99999", "port must be a number from 1 to 65535"),
        ("host", "expected http://HOST:PORT"),
        ("http://::1:8700", "IPv6 address needs brackets"),
        ("http://", "missing host"),
        ("http://[]:80", "not an IPv6 address"),
        ("http://a\r\nb:80", "no path"),
    ])
    func `bad addresses are refused with a reason`(text: String, reason: String) {
        #expect(throws: SettingValueError.self) { try RegistryAddress(parsing: text) }
        do {
            _ = try RegistryAddress(parsing: text)
        } catch {
            #expect(error.message.contains(reason), "\(error.message)")
        }
    }

    @Test func `a list keeps order and drops repeats`() throws {
        let list = try RegistryAddress.parseList("http://a:1,b:2, http://a:1")
        #expect(list.map(\.url) == ["http://a:1", "http://b:2"])
    }
}

@Suite(.timeLimit(.minutes(2))) struct ClientSettingsTests {
    let directory: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("roster-client-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory + "/home/.config/roster", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: directory + "/work", withIntermediateDirectories: true)
    }

    func write(_ text: String, to path: String) throws {
        try text.write(toFile: directory + path, atomically: true, encoding: .utf8)
    }

    func load(
        registry: [RegistryAddress]? = nil, flags: [String: String] = [:], environment: [String: String] = [:],
        configFile: String? = nil
    ) throws -> (settings: ClientSettings, sources: [String: SettingSource], configFile: ConfigFileLocation?) {
        try ClientSettings.load(
            registry: registry, flags: flags, environment: environment, configFile: configFile,
            currentDirectory: directory + "/work", homeDirectory: directory + "/home")
    }

    @Test func `nothing set gives the default address and no token`() throws {
        let (settings, sources, file) = try load()
        #expect(settings.registry.map(\.url) == ["http://127.0.0.1:8700"])
        #expect(settings.token == nil)
        #expect(sources["registry"] == .defaultValue)
        #expect(file == nil)
    }

    @Test func `precedence is code, flag, environment, file, default`() throws {
        try write("registry: http://file:1\ntoken: file-token\n", to: "/work/roster.yaml")
        let environment = ["ROSTER_ADDR": "http://env:1", "ROSTER_TOKEN": "env-token"]
        let flags = ["registry": "http://flag:1", "token": "flag-token"]

        var loaded = try load()
        #expect(loaded.settings.registry.map(\.url) == ["http://file:1"])
        #expect(loaded.sources["registry"] == .file(directory + "/work/roster.yaml"))
        #expect(loaded.settings.token == "file-token")

        loaded = try load(environment: environment)
        #expect(loaded.settings.registry.map(\.url) == ["http://env:1"])
        #expect(loaded.sources["registry"] == .environment("ROSTER_ADDR"))
        #expect(loaded.settings.token == "env-token")
        #expect(loaded.sources["token"] == .environment("ROSTER_TOKEN"))

        loaded = try load(flags: flags, environment: environment)
        #expect(loaded.settings.registry.map(\.url) == ["http://flag:1"])
        #expect(loaded.sources["registry"] == .flag("--registry"))
        #expect(loaded.settings.token == "flag-token")

        loaded = try load(registry: [try RegistryAddress(parsing: "http://code:1")], flags: flags, environment: environment)
        #expect(loaded.settings.registry.map(\.url) == ["http://code:1"])
        #expect(loaded.sources["registry"] == .explicit)
        #expect(loaded.settings.token == "flag-token")
    }

    @Test func `config file is --config, then ROSTER_CONFIG, then ./roster.yaml, then the home file`() throws {
        try write("registry: http://home:1\n", to: "/home/.config/roster/config.yaml")
        #expect(try load().settings.registry.map(\.url) == ["http://home:1"])
        try write("registry: http://cwd:1\n", to: "/work/roster.yaml")
        #expect(try load().settings.registry.map(\.url) == ["http://cwd:1"])
        try write("{\"registry\": [\"http://json:1\", \"http://json:2\"]}", to: "/named.json")
        let named = try load(environment: ["ROSTER_CONFIG": directory + "/named.json"])
        #expect(named.settings.registry.map(\.url) == ["http://json:1", "http://json:2"])
        #expect(named.configFile == ConfigFileLocation(path: directory + "/named.json", source: .environment("ROSTER_CONFIG")))
        try write("registry:\n  - http://flagfile:1\n  - http://flagfile:2\n", to: "/flag.yaml")
        let flagged = try load(environment: ["ROSTER_CONFIG": directory + "/named.json"], configFile: directory + "/flag.yaml")
        #expect(flagged.settings.registry.map(\.url) == ["http://flagfile:1", "http://flagfile:2"])
    }

    @Test func `server and client share one file, each reading its own keys`() throws {
        try write("listen: 127.0.0.1:9999\nregistry: http://127.0.0.1:9999\nsweep_interval: 2s\n", to: "/shared.yaml")
        let client = try load(configFile: directory + "/shared.yaml")
        #expect(client.settings.registry.map(\.url) == ["http://127.0.0.1:9999"])
        let server = try ServerSettings.load(flags: [:], environment: ["ROSTER_ADDR": "x"], configFile: directory + "/shared.yaml")
        #expect(server.settings.listen == ListenAddress(host: "127.0.0.1", port: 9999))
        #expect(server.settings.sweepInterval == .seconds(2))
    }

    @Test func `a bad value names key and source`() throws {
        #expect(throws: SettingsError(
            key: "registry", source: .environment("ROSTER_ADDR"),
            message: "the scheme must be http or https, got \"ftp://x:1\"")
        ) {
            try load(environment: ["ROSTER_ADDR": "ftp://x:1"])
        }
        #expect(throws: SettingsError(key: "config", source: .flag("--config"), message: "config file not found: /nonexistent/roster.yaml")) {
            try load(configFile: "/nonexistent/roster.yaml")
        }
    }
}

@Suite(.timeLimit(.minutes(2))) struct BackoffTests {
    @Test func `ceilings double from the base up to the cap`() {
        let backoff = Backoff(base: .milliseconds(500), cap: .seconds(30), random: { 1 })
        let ceilings = (1...9).map { backoff.ceiling(attempt: $0) }
        #expect(ceilings == [
            .milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(16), .seconds(30),
            .seconds(30), .seconds(30),
        ])
    }

    @Test func `each delay is the random fraction of its ceiling`() {
        let fractions = [0.0, 0.25, 0.5, 0.75, 0.5]
        let position = Counter()
        let backoff = Backoff(random: { fractions[position.next() % fractions.count] })
        let delays = (1...5).map { backoff.delay(attempt: $0) }
        #expect(delays == [.zero, .milliseconds(250), .seconds(1), .seconds(3), .seconds(4)])
    }
}

/// A thread-safe counter for injected random sources.
final class Counter: Sendable {
    private let value = Mutex(0)
    func next() -> Int {
        value.withLock { value in
            defer { value += 1 }
            return value
        }
    }
}

import Synchronization
