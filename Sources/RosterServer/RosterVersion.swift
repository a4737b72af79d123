/// The version of this build of Roster.
public enum RosterVersion {
    public static let current = "0.1.0"
}
