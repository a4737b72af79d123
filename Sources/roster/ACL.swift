import ArgumentParser
import RosterServer

/// `roster acl`: helpers for access control.
struct ACL: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "acl",
        abstract: "Access control helpers.",
        subcommands: [Token.self])

    /// `roster acl token`: a new random token and the hash that goes in the ACL file.
    struct Token: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a new random bearer token (line 1) and its SHA-256 in hex for the ACL file (line 2).",
            discussion: """
                The token is 32 bytes from the system's secure random generator, base64url without padding.
                Give the token to the client (--token, ROSTER_TOKEN); put only the hash in the ACL file's sha256.
                """)

        func run() throws {
            let token = AccessToken.generate()
            print(token)
            print(AccessToken.sha256Hex(token))
        }
    }
}
