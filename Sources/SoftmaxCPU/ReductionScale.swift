import SoftmaxCore

/// How a reduction scales a batch: the mean's denominator (the summed label weights of the counted
/// rows, or the row count for probability targets) and the count of counted rows (the z part's
/// mean is over them, whatever their weights). One place for the fused call and the fused linear
/// call, and their final `CrossEntropyValue`.
struct ReductionScale {
    var denominator: Double
    var counted: Int
    var mean: Bool

    init(labels: [Int32], options: CrossEntropyOptions) {
        denominator = 0
        counted = 0
        for y in labels where y != options.ignoreIndex {
            denominator += Double(options.classWeights?[Int(y)] ?? 1)
            counted += 1
        }
        mean = options.reduction == .mean
    }

    init(probabilityRows n: Int, options: CrossEntropyOptions) {
        denominator = Double(n)
        counted = n
        mean = options.reduction == .mean
    }

    /// What the gradient is multiplied by. A mean over zero weight is 0/0: NaN loss as in
    /// PyTorch, zero gradient.
    var scale: Float { mean ? (denominator > 0 ? Float(1 / denominator) : 0) : 1 }
    var zScale: Float { mean ? (counted > 0 ? 1 / Float(counted) : 0) : 1 }

    /// `weights`: the options' class weights as the kernels read them (nil without weights).
    func constants(classes c: Int, weights: UnsafePointer<Float>?, options: CrossEntropyOptions, argmax: Bool) -> XentConstants {
        XentConstants(
            classes: c, scale: scale, smoothing: options.labelSmoothing, weights: weights,
            weightSum: options.classWeights?.reduce(0, +) ?? Float(c),
            ignoreIndex: options.ignoreIndex, zLoss: ZLossTerm(lambda: options.zLoss, scale: zScale), argmax: argmax)
    }

    /// The reduced value from unreduced sums.
    func value(_ totals: FusedCrossEntropy.Totals, accuracy: Bool) -> CrossEntropyValue {
        let z = mean ? totals.z / Double(counted) : totals.z
        return CrossEntropyValue(loss: (mean ? totals.loss / denominator : totals.loss) + z, zLoss: z, counted: counted,
                                 correct: accuracy ? totals.correct : nil)
    }
}
