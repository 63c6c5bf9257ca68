import SoftmaxCore

/// Everything that determines a training run; the command line fills it, the store saves it as
/// JSON and flattened into `params`.
public struct TrainingConfig: Codable, Sendable, Equatable {
    public enum Initialization: String, Codable, Sendable, CaseIterable {
        case zeros
        /// N(0, initScale²)
        case normal
    }

    /// digits | iris | blobs | spiral | a CSV path.
    public var dataset = "digits"
    /// Synthetic data (blobs, spiral).
    public var samples = 1000
    public var features = 2
    public var classes = 3
    /// CSV data: the label column, 0-based; negative counts from the end.
    public var labelColumn = -1
    /// CSV data: whether the first line is a header (auto: when its features are not numbers).
    public var csvHeader = CSVDataset.Header.auto
    /// CSV data: how labels read (auto: integers 0…K−1 as classes, names as names, else refused).
    public var labelKind = CSVDataset.LabelKind.auto
    public var standardize = false

    public var epochs = 40
    /// Rows per step; 0 = the whole training set (full-batch gradient descent).
    public var batchSize = 32
    public var learningRate: Float = 0.1
    public var momentum: Float = 0.9
    /// λ of (λ/2)‖W‖² (the bias is not regularized).
    public var l2: Float = 1e-4
    public var initialization = Initialization.zeros
    public var initScale: Float = 0.01
    /// The learning rate is multiplied by this after every epoch.
    public var learningRateDecay: Float = 1
    public var seed: UInt64 = 0
    public var validationFraction = 0.2
    /// Record the minibatch loss every this many steps (0: per epoch only).
    public var logEvery = 0
    /// The loss's softcap s (f' = s·tanh(f/s)), or nil for none.
    public var softcap: Float?
    /// The loss's z-loss λ (each row adds λ·lse²); 0 for none.
    public var zLoss: Float = 0
    /// Each step and evaluation through the fused linear cross-entropy (the scores never stored)
    /// instead of the linear layer, the fused loss and the layer's backward.
    public var fused = false

    /// The options of the loss minimized (and reported): the mean, with softcap and z-loss.
    public var lossOptions: CrossEntropyOptions {
        CrossEntropyOptions(reduction: .mean, softcap: softcap, zLoss: zLoss)
    }

    public init() {}

    /// Checks the values a user can get wrong, naming the flag.
    public func validate() throws {
        func check(_ ok: Bool, _ message: String) throws { if !ok { throw InputError(message) } }
        try check(epochs >= 1, "--epochs must be at least 1, got \(epochs)")
        try check(batchSize >= 0, "--batch-size must be 0 (full batch) or positive, got \(batchSize)")
        try check(learningRate.isFinite && learningRate > 0, "--lr must be a positive number, got \(learningRate)")
        try check(momentum.isFinite && momentum >= 0 && momentum < 1, "--momentum must be in [0, 1), got \(momentum)")
        try check(l2.isFinite && l2 >= 0, "--l2 must be a non-negative number, got \(l2)")
        try check(initScale.isFinite && initScale >= 0, "--init-scale must be a non-negative number, got \(initScale)")
        try check(learningRateDecay.isFinite && learningRateDecay > 0 && learningRateDecay <= 1,
                  "--lr-decay must be in (0, 1], got \(learningRateDecay)")
        try check(validationFraction >= 0 && validationFraction < 1, "--val-fraction must be in [0, 1), got \(validationFraction)")
        try check(logEvery >= 0, "--log-every must be non-negative, got \(logEvery)")
        if let softcap { try check(softcap.isFinite && softcap > 0, "--softcap must be a finite number above 0, got \(softcap)") }
        try check(zLoss.isFinite && zLoss >= 0, "--z-loss must be a finite number of at least 0, got \(zLoss)")
    }
}
