/// Header names of the Roster API.
public enum RosterHeader {
    /// The index of the last change a response reflects (a `UInt64` in decimal).
    public static let index = "Roster-Index"
    /// An identifier of this run of the registry (16 hex digits); indexes restart with the process.
    public static let epoch = "Roster-Epoch"
}
