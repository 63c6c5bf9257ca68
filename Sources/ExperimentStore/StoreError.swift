/// A problem with the store, in one sentence naming the file.
public struct StoreError: Error, CustomStringConvertible, Equatable {
    /// What a writer may wait out (`locked`) or must stop for.
    public enum Reason: Sendable, Equatable { case locked, full }

    public let description: String
    public let reason: Reason?
    public init(_ description: String, reason: Reason? = nil) {
        self.description = description
        self.reason = reason
    }
}
