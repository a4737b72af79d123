/// The tokens that may use the registry, each stored as the SHA-256 of its text, with a name and a policy.
///
/// Read from the YAML file named by the `acl_file` setting (see `load(path:)`):
/// ```yaml
/// tokens:
///   - name: deployer
///     sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
///     read: ["*"]
///     write: ["web*", "api"]
///   - name: ops
///     sha256: 60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752
///     admin: true
/// ```
public struct AccessControlList: Sendable, Equatable {
    /// One token: its name (for logs and 403 details), the SHA-256 of its text, and its rights.
    public struct Token: Sendable, Equatable {
        public var name: String
        /// The SHA-256 digest of the token's UTF-8 text: 32 bytes.
        public var sha256: [UInt8]
        public var read: ServicePatterns
        public var write: ServicePatterns
        /// Allows everything, whatever `read` and `write` say.
        public var admin: Bool

        public init(name: String, sha256: [UInt8], read: ServicePatterns = .nothing, write: ServicePatterns = .nothing, admin: Bool = false) {
            self.name = name
            self.sha256 = sha256
            self.read = read
            self.write = write
            self.admin = admin
        }

        /// What a request presenting this token may do.
        public var grant: AccessGrant {
            AccessGrant(tokenName: name, read: read, write: write, admin: admin)
        }
    }

    public var tokens: [Token]

    public init(tokens: [Token]) {
        self.tokens = tokens
    }

    /// The token whose digest is `digest`, comparing against every stored digest in constant time
    /// (the time depends on the number of tokens only, never on where the digests differ).
    public func token(withDigest digest: [UInt8]) -> Token? {
        var found: Int?
        for (index, token) in tokens.enumerated() {
            // Every token is compared; no early exit.
            if AccessToken.constantTimeEquals(token.sha256, digest) && found == nil { found = index }
        }
        return found.map { tokens[$0] }
    }
}
