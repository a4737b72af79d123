import Foundation
import RosterAPI
import RosterServer
import RosterTesting
import Testing

/// `roster` as users run it: a child process, real signals, real sockets.
@Suite(.timeLimit(.minutes(2))) struct ExecutableTests {
    @Test func `--version prints the version`() async throws {
        let outcome = try await RosterExecutable.run(["--version"])
        #expect(outcome.status == 0)
        #expect(outcome.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == RosterVersion.current)
    }

    @Test func `serve --help lists a flag for every setting`() async throws {
        let outcome = try await RosterExecutable.run(["serve", "--help"])
        #expect(outcome.status == 0)
        for key in ServerSettings.keys {
            #expect(outcome.stdout.contains(key.flag), "missing \(key.flag)")
        }
        #expect(outcome.stdout.contains("--config"))
    }

    @Test(arguments: [
        (["serve"], ["ROSTER_LISTEN": "nonsense"], "`listen` from environment variable ROSTER_LISTEN"),
        (["serve", "--sweep-interval", "-1"], [:], "`sweep_interval` from flag --sweep-interval"),
        (["serve", "--http-max-body", "lots"], [:], "`http.max_body` from flag --http-max-body"),
        (["serve", "--config", "/nonexistent/roster.yaml"], [:], "`config` from flag --config"),
        (["serve"], ["ROSTER_LOG_FORMAT": "xml"], "`log_format` from environment variable ROSTER_LOG_FORMAT"),
    ] as [([String], [String: String], String)])
    func `a bad setting stops startup naming the key and its source`(arguments: [String], environment: [String: String], message: String) async throws {
        let outcome = try await RosterExecutable.run(arguments, environment: environment)
        #expect(outcome.status != 0)
        #expect(outcome.stderr.contains(message), "stderr: \(outcome.stderr)")
    }

    @Test func `an unknown flag is a usage error`() async throws {
        let outcome = try await RosterExecutable.run(["serve", "--no-such-flag"])
        #expect(outcome.status == 64)
    }

    @Test func `serve logs its address, serves, and exits 0 on SIGTERM`() async throws {
        let process = try RosterProcess(["serve", "--listen", "127.0.0.1:0"], environment: ["ROSTER_LOG_FORMAT": "json"])
        let log = try await process.waitForLog("roster listening")
        let line = try #require(log.split(separator: "\n").first { $0.contains("roster listening") })
        let json = try JSONReader.read(String(line))
        #expect(json["level"] == "notice")
        let listen = try #require(json["listen"]?.stringValue)
        let port = try #require(UInt16(listen.split(separator: ":").last!))
        #expect(json["setting.sweep_interval"] == "1s (default)")
        #expect(json["setting.log_format"] == "json (environment variable ROSTER_LOG_FORMAT)")

        let client = try await RawHTTPConnection(port: port)
        #expect(try await client.request("POST", "/services", body: #"{"name":"web","host":"10.0.0.5","port":8080}"#).status == 201)
        _ = try await process.waitForLog("instance registered")

        process.signal(SIGTERM)
        #expect(try await process.wait() == 0)
        #expect(process.stderr.contains("roster stopped"))
    }

    @Test func `a port already in use fails startup with a clear message`() async throws {
        try await withRosterServer { app in
            let outcome = try await RosterExecutable.run(["serve", "--listen", "127.0.0.1:\(app.port)"])
            #expect(outcome.status == 1)
            #expect(outcome.stderr.contains("cannot listen on 127.0.0.1:\(app.port)"), "stderr: \(outcome.stderr)")
        }
    }

    @Test func `the config file and environment feed settings with flags winning`() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("roster-cfg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent("roster.yaml")
        try "listen: \"127.0.0.1:1\"\nsweep_interval: 250ms\nhttp:\n  max_body: 2KiB\nregistry: http://ignored\n".write(to: file, atomically: true, encoding: .utf8)
        let process = try RosterProcess(
            ["serve", "--listen", "127.0.0.1:0"],
            environment: ["ROSTER_CONFIG": file.path, "ROSTER_LOG_FORMAT": "json", "ROSTER_HTTP_MAX_BODY": "3KiB"])
        let log = try await process.waitForLog("roster listening")
        let line = try #require(log.split(separator: "\n").first { $0.contains("roster listening") })
        let json = try JSONReader.read(String(line))
        #expect(json["setting.sweep_interval"]?.stringValue == "250ms (config file \(file.path))")
        #expect(json["setting.http.max_body"] == "3KiB (environment variable ROSTER_HTTP_MAX_BODY)")
        #expect(json["setting.listen"] == "127.0.0.1:0 (flag --listen)")
        process.signal(SIGINT)
        #expect(try await process.wait() == 0)
    }

    @Test func `running out of file descriptors does not end the accept loop`() async throws {
        // A hard limit of 64 descriptors: the server cannot raise it, so accepts fail with EMFILE.
        let process = try RosterProcess(
            ["serve", "--listen", "127.0.0.1:0", "--log-format", "json"], shellPrefix: "ulimit -n 64")
        let log = try await process.waitForLog("roster listening")
        let line = try #require(log.split(separator: "\n").first { $0.contains("roster listening") })
        let listen = try #require(try JSONReader.read(String(line))["listen"]?.stringValue)
        let port = try #require(UInt16(listen.split(separator: ":").last!))

        var flood: [RawHTTPConnection] = []
        for _ in 0..<80 { flood.append(try await RawHTTPConnection(port: port)) }
        _ = try await process.waitForLog("accept failed, backing off")
        for connection in flood { await connection.close() }
        flood.removeAll()

        let served = await eventually(within: .seconds(10)) {
            guard let client = try? await RawHTTPConnection(port: port),
                  let response = try? await client.request("GET", "/services", timeout: .seconds(1))
            else { return false }
            await client.close()
            return response.status == 200
        }
        #expect(served)
        #expect(process.isRunning)
        process.signal(SIGTERM)
        #expect(try await process.wait() == 0)
    }

    /// The port from the `roster listening` line of a server started with `--log-format json`.
    func listeningPort(_ process: RosterProcess) async throws -> UInt16 {
        let log = try await process.waitForLog("roster listening")
        let line = try #require(log.split(separator: "\n").first { $0.contains("roster listening") })
        let listen = try #require(try JSONReader.read(String(line))["listen"]?.stringValue)
        return try #require(UInt16(listen.split(separator: ":").last!))
    }

    @Test func `SIGTERM with 50 watchers and registrations in flight ends every stream cleanly, cuts no response and exits 0`() async throws {
        let process = try RosterProcess(
            ["serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--shutdown-timeout", "5s"])
        let port = try await listeningPort(process)
        var watchers: [SSEWatcher] = []
        for _ in 0..<50 {
            let watcher = try await SSEWatcher(port: port, path: "/watch")
            #expect(try await watcher.next().type == "snapshot")
            watchers.append(watcher)
        }
        #expect(try await RawHTTPConnection(port: port).request("GET", "/readyz").status == 200)
        // Every watcher reads all along, until its stream ends (true: with the terminating chunk).
        let streams = watchers
        let endings = Task {
            await withTaskGroup(of: Bool.self) { group in
                for watcher in streams { group.addTask { await watcher.waitForEnd(timeout: .seconds(60)) } }
                return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
        }

        /// Per writer: complete 201s, responses cut after some bytes arrived, and other failures.
        struct Tally: Sendable { var complete = 0, cut = 0, other = 0 }
        let started = ContinuousClock.now
        let tallies = try await withThrowingTaskGroup(of: Tally.self) { group in
            for writer in 0..<4 {
                group.addTask {
                    var tally = Tally()
                    var next = writer * 10_000
                    // Keep registering over keep-alive connections until the server refuses new ones.
                    connections: while let client = try? await RawHTTPConnection(port: port) {
                        while true {
                            next += 1
                            let response: RawHTTPResponse
                            do {
                                response = try await client.request(
                                    "POST", "/services", body: #"{"name":"load","host":"10.1.0.1","port":\#(next % 60_000 + 1),"ttl":60}"#)
                            } catch RawHTTPError.endOfStream(let received) {
                                // Closed before any byte of a response: the request was never taken (keep-alive race).
                                if received.isEmpty { tally.other += 1 } else { tally.cut += 1 }
                                await client.close()
                                continue connections
                            } catch {
                                tally.other += 1
                                await client.close()
                                continue connections
                            }
                            if response.status == 201 && response.json?["id"] != nil { tally.complete += 1 } else { tally.cut += 1 }
                            if response.closes {
                                await client.close()
                                continue connections
                            }
                        }
                    }
                    return tally
                }
            }
            _ = try await process.waitForLog("instance registered")
            #expect(await eventually(within: .seconds(10)) { process.stderr.components(separatedBy: "instance registered").count > 200 })
            process.signal(SIGTERM)
            return try await group.reduce(into: Tally()) { total, tally in
                total.complete += tally.complete
                total.cut += tally.cut
                total.other += tally.other
            }
        }
        #expect(try await process.wait(timeout: .seconds(10)) == 0)
        let elapsed = ContinuousClock.now - started
        let ended = await endings.value
        #expect(ended == 50)
        #expect(tallies.cut == 0)
        #expect(tallies.complete >= 200)
        #expect(process.stderr.contains("http server draining"))
        #expect(process.stderr.contains("roster stopped"))
        // Recorded in the test log for the closing note, not asserted as a limit.
        print("shutdown under load: \(tallies.complete) registrations answered, \(tallies.other) refused or reset before a response, \(ended)/50 streams ended cleanly, \(elapsed) from first registration to exit")
    }

    @Test func `a second signal during a graceful shutdown exits at once`() async throws {
        let process = try RosterProcess(
            ["serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--shutdown-timeout", "60s", "--http-head-timeout", "60s"])
        let port = try await listeningPort(process)
        // A request whose head never completes keeps the drain waiting for up to the shutdown timeout.
        let stalled = try await RawHTTPConnection(port: port)
        try await stalled.send("GET /services HTTP/1.1\r\n")
        _ = try await RawHTTPConnection(port: port).request("GET", "/healthz")
        process.signal(SIGTERM)
        _ = try await process.waitForLog("http server draining")
        #expect(process.isRunning)
        process.signal(SIGTERM)
        #expect(try await process.wait(timeout: .seconds(5)) == 128 + SIGTERM)
        #expect(process.stderr.contains("second signal, exiting now"))
        await stalled.close()
    }

    @Test func `roster ready exits 0 for a ready registry and 1 otherwise`() async throws {
        try await withRosterServer { app in
            #expect(await eventually { app.readiness.isReady })
            let ready = try await RosterExecutable.run(["ready", "--url", "http://127.0.0.1:\(app.port)"])
            #expect(ready.status == 0, "stderr: \(ready.stderr)")
            #expect(ready.stderr.isEmpty)
        }
        // Nothing listens on a port just freed by a stopped server.
        let app = try RosterApplication(settings: .testing, logger: .silent)
        let port = app.port
        try await withRosterServer(app) { _ in }
        let refused = try await RosterExecutable.run(["ready", "--url", "http://127.0.0.1:\(port)"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("connection_refused"), "stderr: \(refused.stderr)")
    }
}
