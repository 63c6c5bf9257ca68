import SoftmaxCore

/// Loss and accuracy after an epoch, on the whole training and validation sets.
public struct EpochMetrics: Sendable, Codable, Equatable {
    public var epoch: Int
    /// Steps taken so far.
    public var step: Int
    public var trainLoss: Double
    public var trainAccuracy: Double
    public var validationLoss: Double?
    public var validationAccuracy: Double?
    public var learningRate: Float
    /// Wall time since training started.
    public var seconds: Double
}

/// Hears about training as it goes (the command line records it in the store and draws progress).
/// A thrown error stops training.
public protocol TrainingObserver: AnyObject {
    /// The minibatch loss, every `logEvery` steps.
    func trainingDidFinishStep(_ step: Int, epoch: Int, loss: Double) throws
    func trainingDidFinishEpoch(_ metrics: EpochMetrics) throws
}

/// What a finished training run produced.
public struct TrainingResult: Sendable {
    public var history: [EpochMetrics]
    public var steps: Int
    public var weights: Matrix
    public var bias: [Float]
    public var final: EpochMetrics { history.last! }
}
