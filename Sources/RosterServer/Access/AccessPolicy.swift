import RosterAPI

/// One pattern of service names in an ACL: an exact name (`api`) or a prefix followed by `*`
/// (`web*`; `*` alone matches every service).
public enum ServicePattern: Sendable, Hashable, CustomStringConvertible {
    case exact(String)
    case prefix(String)

    /// Parses `api`, `web*` or `*`.
    /// - Returns: nil for text that is neither a valid service name nor a prefix of one followed by `*`.
    public init?(parsing text: String) {
        if text.hasSuffix("*") {
            let prefix = String(text.dropLast())
            // A prefix is a service name cut anywhere: letters, digits, '.', '_' or '-', at most 62 bytes.
            guard prefix.utf8.count < 63,
                  prefix.utf8.allSatisfy({ $0.isASCIIAlphanumeric || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }),
                  prefix.utf8.first.map(\.isASCIIAlphanumeric) ?? true
            else { return nil }
            self = .prefix(prefix)
        } else {
            guard RegistrationRequest.isValidServiceName(text) else { return nil }
            self = .exact(text)
        }
    }

    public func matches(_ service: String) -> Bool {
        switch self {
        case .exact(let name): service == name
        case .prefix(let prefix): service.utf8.starts(with: prefix.utf8)
        }
    }

    /// The pattern as written in the ACL file.
    public var description: String {
        switch self {
        case .exact(let name): name
        case .prefix(let prefix): prefix + "*"
        }
    }
}

extension UInt8 {
    fileprivate var isASCIIAlphanumeric: Bool {
        (self >= 0x30 && self <= 0x39) || (self | 0x20 >= 0x61 && self | 0x20 <= 0x7A)
    }
}

/// A set of service patterns; a service is in it when any pattern matches.
public struct ServicePatterns: Sendable, Hashable {
    public var patterns: [ServicePattern]

    public init(_ patterns: [ServicePattern]) {
        self.patterns = patterns
    }

    /// Every service.
    public static let everything = ServicePatterns([.prefix("")])
    /// No service.
    public static let nothing = ServicePatterns([])

    public func matches(_ service: String) -> Bool {
        patterns.contains { $0.matches(service) }
    }

    public var isEmpty: Bool { patterns.isEmpty }
}

/// What a request may do: the rights of the token it presented, or everything when access control is off.
public struct AccessGrant: Sendable, Hashable {
    /// The token's name from the ACL file, or nil when access control is off.
    public var tokenName: String?
    /// Services whose instances, health and changes may be read.
    public var read: ServicePatterns
    /// Services that may be registered, renewed and deregistered.
    public var write: ServicePatterns
    /// Everything is allowed, including routes that concern no one service (`/metrics`).
    public var admin: Bool

    public init(tokenName: String?, read: ServicePatterns, write: ServicePatterns, admin: Bool = false) {
        self.tokenName = tokenName
        self.read = admin ? .everything : read
        self.write = admin ? .everything : write
        self.admin = admin
    }

    /// Everything is allowed (access control off).
    public static let unrestricted = AccessGrant(tokenName: nil, read: .everything, write: .everything, admin: true)
    /// Nothing is allowed: what a handler sees if it runs outside the access gate.
    public static let none = AccessGrant(tokenName: nil, read: .nothing, write: .nothing)

    public func canRead(_ service: String) -> Bool { read.matches(service) }
    public func canWrite(_ service: String) -> Bool { write.matches(service) }

    /// The grant of the request being handled, set by the access gate for the handler's task.
    /// Fails closed: outside the gate nothing is allowed.
    @TaskLocal public static var current: AccessGrant = .none
}
