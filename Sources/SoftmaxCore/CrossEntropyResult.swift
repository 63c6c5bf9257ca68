/// What a fused loss+gradient call returns besides the buffers it fills.
public struct CrossEntropyValue: Sendable, Equatable {
    /// The reduced objective, the z part included (for `.none`, the sum of the row losses).
    public var loss: Double
    /// The z part alone, Σ λ·lse_i² over counted rows, reduced like the loss but divided by the
    /// count of counted rows for `.mean` (whatever the weights); 0 without z-loss.
    public var zLoss: Double
    /// Rows that count: those not ignored (every row with probability targets).
    public var counted: Int
    /// Counted rows whose predicted class (argmax of f', first on ties) is their label, or, with
    /// probability targets, the argmax of their target row (first on ties); nil unless the
    /// predictions or the accuracy were asked for.
    public var correct: Int?

    public init(loss: Double, zLoss: Double = 0, counted: Int, correct: Int? = nil) {
        self.loss = loss
        self.zLoss = zLoss
        self.counted = counted
        self.correct = correct
    }

    /// correct / counted (NaN when no row counts), when it was asked for.
    public var accuracy: Double? {
        correct.map { counted > 0 ? Double($0) / Double(counted) : .nan }
    }
}

/// The host-side result of one fused loss+gradient call.
public struct CrossEntropyResult: Sendable {
    /// The reduced loss, z part included (for `.none`, the sum of `rowLosses`).
    public var loss: Double
    /// The z part of `loss` (0 without z-loss).
    public var zLoss: Double
    /// Each row's loss before reduction, its z part included.
    public var rowLosses: [Float]
    /// N×C gradient of the reduced loss with respect to the logits.
    public var gradient: Matrix
    /// Each row's log Σ_j exp(f'_ij) (f' = f without softcap).
    public var logSumExp: [Float]
    /// Each row's predicted class: argmax of f', first on ties.
    public var predictions: [Int32]
    /// Over the counted rows (`CrossEntropyValue.correct`); NaN when no row counts.
    public var accuracy: Double
}

/// The linear classifier's objective `reduce_i L_i + (λ/2)‖W‖²` and its gradients.
public struct ClassifierGradients: Sendable {
    public var objective: Double
    public var weightGradient: Matrix
    public var biasGradient: [Float]
}
