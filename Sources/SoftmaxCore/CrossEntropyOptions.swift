/// How a batch of per-row losses becomes one number, as in PyTorch.
public enum Reduction: String, Sendable, Codable, CaseIterable {
    /// One loss per row; the gradient is that of their sum.
    case none
    case sum
    /// Divided by the summed class weights of the non-ignored rows (the row count without weights);
    /// with probability targets, by the row count.
    case mean
}

/// The options of `torch.nn.functional.cross_entropy`, with the same defaults.
public struct CrossEntropyOptions: Sendable, Codable, Equatable {
    public var reduction: Reduction
    /// Rows whose label equals this contribute no loss, no weight and a zero gradient row.
    public var ignoreIndex: Int32
    /// One weight per class, or nil for all ones.
    public var classWeights: [Float]?
    /// ε in [0, 1): the target becomes (1 − ε)·onehot + ε/C.
    public var labelSmoothing: Float

    public static let defaultIgnoreIndex: Int32 = -100

    public init(
        reduction: Reduction = .mean,
        ignoreIndex: Int32 = CrossEntropyOptions.defaultIgnoreIndex,
        classWeights: [Float]? = nil,
        labelSmoothing: Float = 0
    ) {
        self.reduction = reduction
        self.ignoreIndex = ignoreIndex
        self.classWeights = classWeights
        self.labelSmoothing = labelSmoothing
    }

    /// Checks the options against the number of classes.
    public func validate(classes: Int) throws(SoftmaxError) {
        guard labelSmoothing.isFinite, labelSmoothing >= 0, labelSmoothing < 1 else {
            throw .labelSmoothingOutOfRange(labelSmoothing)
        }
        if let w = classWeights {
            guard w.count == classes else {
                throw .shapeMismatch(what: "class weights", expected: "\(classes) values (one per class)", got: "\(w.count)")
            }
            if let k = w.firstIndex(where: { !$0.isFinite || $0 < 0 }) {
                throw .invalidClassWeight(index: k, value: w[k])
            }
        }
    }
}
