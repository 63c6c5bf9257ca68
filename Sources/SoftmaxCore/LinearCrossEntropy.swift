/// How the classifier W of the fused linear cross-entropy is stored: D×V (this project's layout,
/// f = H·W), or V×D (PyTorch's `nn.Linear.weight`, f = H·Wᵀ). ∂W is written in the same layout.
public enum ClassifierLayout: String, Sendable, CaseIterable {
    case dv
    case vd
}

/// Where the fused linear cross-entropy writes besides returning the reduced loss; each is optional.
/// Shapes: hidden H N×D, classifier W D×V, bias 1×V; the logits f = H·W + b are never stored.
public struct LinearCrossEntropyOutputs<Buffer: BackendBuffer, Indices: AnyObject> {
    /// N×D: ∂(reduced loss)/∂H = G·Wᵀ, G the logits' gradient.
    public var hiddenGradient: Buffer?
    /// D×V: ∂(reduced loss)/∂W = Hᵀ·G.
    public var classifierGradient: Buffer?
    /// 1×V: ∂(reduced loss)/∂b = Σ_rows G.
    public var biasGradient: Buffer?
    /// N×1: each row's loss before reduction, z part included (0 for ignored rows).
    public var rowLosses: Buffer?
    /// N×1: log Σ_j exp(f'_ij).
    public var logSumExp: Buffer?
    /// N: each row's predicted class, argmax of f' (the first on ties). Implies `accuracy`.
    public var predictions: Indices?
    /// Count the correct predictions (`CrossEntropyValue.correct`) even without `predictions`.
    public var accuracy: Bool
    /// Cut Cross-Entropy's gradient filtering: a tile of the logits' gradient whose every entry is
    /// below ε in magnitude, before the reduction's scale (|∂L_i/∂f_ij| < ε, L_i the row's loss),
    /// is left out of ∂H, ∂W and ∂b, and its products skipped. 0 (the default): exact. The loss,
    /// lse and predictions are never filtered. Each left-out entry moves ∂H_ik by less than
    /// ε·scale·|W_kj| and ∂W_kj by less than ε·scale·|H_ik| (scale: 1/Σw for mean, else 1).
    public var filterEpsilon: Float

    public init(hiddenGradient: Buffer? = nil, classifierGradient: Buffer? = nil, biasGradient: Buffer? = nil,
                rowLosses: Buffer? = nil, logSumExp: Buffer? = nil, predictions: Indices? = nil, accuracy: Bool = false,
                filterEpsilon: Float = 0) {
        self.hiddenGradient = hiddenGradient
        self.classifierGradient = classifierGradient
        self.biasGradient = biasGradient
        self.rowLosses = rowLosses
        self.logSumExp = logSumExp
        self.predictions = predictions
        self.accuracy = accuracy || predictions != nil
        self.filterEpsilon = filterEpsilon
    }
}

extension LinearCrossEntropyOutputs {
    /// V, from the classifier's shape in its layout.
    public static func vocabulary(_ classifier: Buffer, _ layout: ClassifierLayout) -> Int {
        layout == .dv ? classifier.cols : classifier.rows
    }

    /// The checks every backend makes before a fused linear call: non-empty float32 operands of
    /// agreeing shapes, options that fit V, outputs of the right shapes (a backend checks the
    /// length of `predictions` and the targets itself).
    public func validate(hidden: Buffer, classifier: Buffer, layout: ClassifierLayout, bias: Buffer?,
                         options: CrossEntropyOptions) throws(SoftmaxError) {
        let n = hidden.rows, d = hidden.cols, v = Self.vocabulary(classifier, layout)
        guard n > 0, d > 0 else { throw .empty(what: "hidden states (\(n)x\(d))") }
        guard v > 0 else { throw .empty(what: "classifier (\(classifier.rows)x\(classifier.cols))") }
        switch layout {
        case .dv where classifier.rows != d:
            throw .shapeMismatch(what: "classifier", expected: "\(d) rows (one per hidden feature, D×V)", got: "\(classifier.rows)x\(classifier.cols)")
        case .vd where classifier.cols != d:
            throw .shapeMismatch(what: "classifier", expected: "\(d) columns (one per hidden feature, V×D)", got: "\(classifier.rows)x\(classifier.cols)")
        default: break
        }
        try bias?.requireShape(1, v, "bias")
        try options.validate(classes: v)
        guard filterEpsilon >= 0, filterEpsilon.isFinite else {
            throw .invalidOption("the gradient filter's ε must be a finite number ≥ 0 (0 = exact), got \(filterEpsilon)")
        }
        for (buffer, what) in [(hidden, "hidden states"), (classifier, "classifier"), (bias, "bias"), (hiddenGradient, "hidden gradient"),
                               (classifierGradient, "classifier gradient"), (biasGradient, "bias gradient"), (rowLosses, "row losses"),
                               (logSumExp, "log-sum-exp")] {
            try buffer?.requireFloat32(what)
        }
        try hiddenGradient?.requireShape(n, d, "hidden gradient")
        try classifierGradient?.requireShape(classifier.rows, classifier.cols, "classifier gradient")
        try biasGradient?.requireShape(1, v, "bias gradient")
        try rowLosses?.requireShape(n, 1, "row losses")
        try logSumExp?.requireShape(n, 1, "log-sum-exp")
    }
}

/// The host-side result of one fused linear cross-entropy call.
public struct LinearCrossEntropyResult: Sendable {
    public var value: CrossEntropyValue
    public var rowLosses: [Float]
    public var logSumExp: [Float]
    public var predictions: [Int32]
    /// N×D, D×V (or V×D, the classifier's layout) and V; nil when not asked for.
    public var hiddenGradient: Matrix?
    public var classifierGradient: Matrix?
    public var biasGradient: [Float]?
}

/// What every backend's fused linear call says about inputs it cannot take.
public enum LinearCrossEntropyFault {
    /// Probability targets are refused.
    public static let probabilityTargets = SoftmaxError.invalidOption(
        "the fused linear cross-entropy takes class-index targets only: probability targets are an N×V matrix themselves, the size it exists to avoid")

    /// The first non-finite entry of an input (`cols` wide), as the error that names it; nil when all are finite.
    public static func nonFinite(_ values: UnsafeBufferPointer<Float>, cols: Int, what: String) -> SoftmaxError? {
        guard let i = values.firstIndex(where: { !$0.isFinite }) else { return nil }
        return .nonFinite(source: what, row: i / cols, column: i % cols, value: values[i])
    }

    /// Finite inputs whose logits in `row` are not finite.
    public static func overflow(row: Int) -> SoftmaxError {
        .invalidOption("the logits of row \(row) overflow float32 (H·W + b is beyond ±3.4e38)")
    }
}
