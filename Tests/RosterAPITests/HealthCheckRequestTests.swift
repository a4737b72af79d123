import RosterAPI
import Testing

@Suite(.timeLimit(.minutes(2))) struct HealthCheckURLTests {
    @Test(arguments: [
        ("http://10.0.0.5:8080/health", "http://10.0.0.5:8080/health", "10.0.0.5"),
        ("HTTPS://Web-1.Internal/health?deep=1", "https://web-1.internal/health?deep=1", "web-1.internal"),
        ("http://[::1]:9000/h", "http://[::1]:9000/h", "::1"),
        ("http://h", "http://h/", "h"),
        ("http://h?x=1", "http://h/?x=1", "h"),
    ])
    func `valid URLs are rebuilt canonically`(text: String, canonical: String, host: String) throws {
        let url = try HealthCheckURL.parse(text).get()
        #expect(url.canonical == canonical)
        #expect(url.host == host)
    }

    @Test(arguments: [
        "ftp://h/", "file:///etc/passwd", "http://user@h/", "http://h\\@evil/", "http://h/#frag", "http://h:0/",
        "http://h:65536/", "http://h:8o/", "http://[::1/", "http://[zz::1]/", "http://h /", "http://h/%zz",
        "http://a..b/", "http:///x", "gopher://h", "http://h:1:2/", "http://é/",
    ])
    func `unacceptable URLs are rejected`(text: String) {
        #expect(throws: HealthCheckURL.ParseError.self) { try HealthCheckURL.parse(text).get() }
    }

    @Test func `host matching ignores case and compares IPv6 by address`() throws {
        #expect(try HealthCheckURL.parse("http://WEB/h").get().hostMatches("web"))
        #expect(try HealthCheckURL.parse("http://[::0:1]/h").get().hostMatches("::1"))
        #expect(try !HealthCheckURL.parse("http://10.0.0.6/h").get().hostMatches("10.0.0.5"))
        #expect(try !HealthCheckURL.parse("http://127.0.0.1/h").get().hostMatches("localhost"))
    }
}

@Suite(.timeLimit(.minutes(2))) struct HealthCheckRequestTests {
    func problem(_ healthCheck: String) -> APIProblem? {
        do {
            _ = try RegistrationRequest(body: Array(#"{"name":"w","host":"10.0.0.5","port":1,"health_check":\#(healthCheck)}"#.utf8))
            return nil
        } catch {
            return error
        }
    }

    @Test func `a full check parses with seconds as durations`() throws {
        let request = try RegistrationRequest(body: Array(#"{"name":"w","host":"10.0.0.5","port":1,"health_check":{"url":"http://10.0.0.5:8080/health","interval":10,"timeout":0.5,"unhealthy_threshold":3,"healthy_threshold":2}}"#.utf8))
        let check = try #require(request.healthCheck)
        #expect(check.url.canonical == "http://10.0.0.5:8080/health")
        #expect(check.interval == .seconds(10))
        #expect(check.timeout == .milliseconds(500))
        #expect(check.unhealthyThreshold == 3)
        #expect(check.healthyThreshold == 2)
    }

    @Test(arguments: [
        (#"{}"#, "missing_field", "health_check.url"),
        (#""http://h""#, "invalid_field", "health_check"),
        (#"{"url":5}"#, "invalid_field", "health_check.url"),
        (#"{"url":"ftp://10.0.0.5/"}"#, "invalid_field", "health_check.url"),
        (#"{"url":"http://10.0.0.5/","interval":0.5}"#, "invalid_field", "health_check.interval"),
        (#"{"url":"http://10.0.0.5/","timeout":0.05}"#, "invalid_field", "health_check.timeout"),
        (#"{"url":"http://10.0.0.5/","interval":2,"timeout":2}"#, "invalid_field", "health_check.timeout"),
        (#"{"url":"http://10.0.0.5/","unhealthy_threshold":0}"#, "invalid_field", "health_check.unhealthy_threshold"),
        (#"{"url":"http://10.0.0.5/","healthy_threshold":1.5}"#, "invalid_field", "health_check.healthy_threshold"),
        (#"{"url":"http://10.0.0.5/","method":"POST"}"#, "unknown_field", "health_check.method"),
    ])
    func `invalid checks name the member`(healthCheck: String, code: String, field: String) {
        let problem = problem(healthCheck)
        #expect(problem?.code == code)
        #expect(problem?.field == field)
    }
}
