/// How a batch of per-row losses becomes one number, as in PyTorch.
public enum Reduction: String, Sendable, Codable, CaseIterable {
    /// One loss per row; the gradient is that of their sum.
    case none
    case sum
    /// Divided by the summed class weights of the non-ignored rows (the row count without weights);
    /// with probability targets, by the row count. The z part is divided by the count of
    /// non-ignored rows, whatever the weights.
    case mean
}

/// The options of `torch.nn.functional.cross_entropy`, with the same defaults, and those of
/// Liger-Kernel and Cut Cross-Entropy beyond them (softcap, z-loss), applied in this order:
/// softcap first (every other option sees f' = s·tanh(f/s)), then the targets, then the z part.
public struct CrossEntropyOptions: Sendable, Codable, Equatable {
    public var reduction: Reduction
    /// Rows whose label equals this contribute no loss, no weight and a zero gradient row.
    public var ignoreIndex: Int32
    /// One weight per class, or nil for all ones.
    public var classWeights: [Float]?
    /// ε in [0, 1): the target becomes (1 − ε)·onehot + ε/C.
    public var labelSmoothing: Float
    /// s > 0 (Gemma 2): the logits become f' = s·tanh(f/s) before everything else; nil for none.
    public var softcap: Float?
    /// λ ≥ 0 (PaLM; Liger's `lse_square_scale`): each counted row adds λ·lse², lse of f'.
    public var zLoss: Float

    public static let defaultIgnoreIndex: Int32 = -100

    public init(
        reduction: Reduction = .mean,
        ignoreIndex: Int32 = CrossEntropyOptions.defaultIgnoreIndex,
        classWeights: [Float]? = nil,
        labelSmoothing: Float = 0,
        softcap: Float? = nil,
        zLoss: Float = 0
    ) {
        self.reduction = reduction
        self.ignoreIndex = ignoreIndex
        self.classWeights = classWeights
        self.labelSmoothing = labelSmoothing
        self.softcap = softcap
        self.zLoss = zLoss
    }

    // Written by hand so that a config stored before softcap and z-loss existed still decodes.
    enum CodingKeys: String, CodingKey { case reduction, ignoreIndex, classWeights, labelSmoothing, softcap, zLoss }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            reduction: try c.decodeIfPresent(Reduction.self, forKey: .reduction) ?? .mean,
            ignoreIndex: try c.decodeIfPresent(Int32.self, forKey: .ignoreIndex) ?? Self.defaultIgnoreIndex,
            classWeights: try c.decodeIfPresent([Float].self, forKey: .classWeights),
            labelSmoothing: try c.decodeIfPresent(Float.self, forKey: .labelSmoothing) ?? 0,
            softcap: try c.decodeIfPresent(Float.self, forKey: .softcap),
            zLoss: try c.decodeIfPresent(Float.self, forKey: .zLoss) ?? 0)
    }

    /// Checks the options against the number of classes.
    public func validate(classes: Int) throws(SoftmaxError) {
        guard labelSmoothing.isFinite, labelSmoothing >= 0, labelSmoothing < 1 else {
            throw .labelSmoothingOutOfRange(labelSmoothing)
        }
        if let s = softcap, !(s.isFinite && s > 0) { throw .softcapOutOfRange(s) }
        guard zLoss.isFinite, zLoss >= 0 else { throw .zLossOutOfRange(zLoss) }
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
