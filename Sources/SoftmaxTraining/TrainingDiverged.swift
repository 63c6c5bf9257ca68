/// Training stopped because the loss or the scores stopped being finite: not bad input, a learning
/// rate too large for the data (the sentence says which step and what to lower).
public struct TrainingDiverged: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
