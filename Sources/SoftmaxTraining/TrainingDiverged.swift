/// Training stopped because the loss or the scores stopped being finite: not bad input, a learning
/// rate too large for the data.
public struct TrainingDiverged: Error, CustomStringConvertible, Equatable {
    public var epoch: Int
    public var step: Int
    /// What stopped being finite, in words ("the loss is nan", "the scores are no longer finite").
    public var symptom: String
    public var learningRate: Float

    public var description: String {
        "training diverged at epoch \(epoch), step \(step): \(symptom); lower --lr (now \(learningRate))"
    }
}
