/// A problem with the store, in one sentence naming the file.
public struct StoreError: Error, CustomStringConvertible, Equatable {
    /// What a writer may wait out (`locked`) or must stop for.
    public enum Reason: Sendable, Equatable { case locked, full }

    public let description: String
    public let reason: Reason?
    /// The hub's SQLSTATE code, for a statement PostgreSQL refused.
    public let sqlState: String?
    public init(_ description: String, reason: Reason? = nil, sqlState: String? = nil) {
        self.description = description
        self.reason = reason
        self.sqlState = sqlState
    }
}
