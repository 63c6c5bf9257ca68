/// The host-side result of one fused loss+gradient call.
public struct CrossEntropyResult: Sendable {
    /// The reduced loss (for `.none`, the sum of `rowLosses`).
    public var loss: Double
    /// Each row's loss before reduction.
    public var rowLosses: [Float]
    /// N×C gradient of the reduced loss with respect to the logits.
    public var gradient: Matrix
    /// Each row's log Σ_j exp(f_ij).
    public var logSumExp: [Float]
}

/// The linear classifier's objective `reduce_i L_i + (λ/2)‖W‖²` and its gradients.
public struct ClassifierGradients: Sendable {
    public var objective: Double
    public var weightGradient: Matrix
    public var biasGradient: [Float]
}
