#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SoftmaxCore

/// A check of one fused linear cross-entropy call at a shape too large for the whole oracle
/// (`bench`, `softmax-lab-device`): on sampled rows, the row's lse and loss against float64 logits
/// and ∂H's row against the float64 oracle of that row; with neither softcap nor z-loss, sampled
/// entries of ∂W and ∂b against float64 sums over all rows (the gradient's column formed with
/// float64 logits and the backend's lse, which the sampled rows check). Mean reduction. With Cut
/// Cross-Entropy's gradient filter ε, each gradient value may be off by the bound of what it may
/// leave out: ε/N·Σ_j|W_kj| for ∂H_ik, ε/N·Σ_i|H_ik| for ∂W_kj, ε for ∂b_j.
public struct LinearSpotCheck {
    /// H (N×D), W (D×V, whatever layout the backend had), b (V), labels (N).
    public var hidden: Matrix, classifier: Matrix, bias: [Float], labels: [Int32]
    public var options: CrossEntropyOptions
    public var filterEpsilon: Float

    public init(hidden: Matrix, classifier: Matrix, bias: [Float], labels: [Int32], options: CrossEntropyOptions, filterEpsilon: Float = 0) {
        self.hidden = hidden
        self.classifier = classifier
        self.bias = bias
        self.labels = labels
        self.options = options
        self.filterEpsilon = filterEpsilon
    }

    /// What the backend returned: per-row lse and loss, ∂H (N×D), ∂W (D×V), ∂b (V).
    public struct Got {
        public var lse: [Float], rowLoss: [Float], hidden: Matrix, classifier: Matrix, bias: [Float]
        public init(lse: [Float], rowLoss: [Float], hidden: Matrix, classifier: Matrix, bias: [Float]) {
            self.lse = lse
            self.rowLoss = rowLoss
            self.hidden = hidden
            self.classifier = classifier
            self.bias = bias
        }
    }

    /// f_ij in float64, and Σ|terms| (its rounding scale).
    func logit(_ i: Int, _ j: Int) -> (value: Double, magnitude: Double) {
        var f = Double(bias[j]), m = abs(f)
        for e in 0..<hidden.cols { let t = Double(hidden[i, e]) * Double(classifier[e, j]); f += t; m += abs(t) }
        return (f, m)
    }

    /// nil when every sampled value agrees, else a sentence naming the first that does not.
    /// `rows` and `columns`/`features` are the samples (indices into N, V and D).
    public func failure(_ got: Got, rows: [Int], columns: [Int], features: [Int]) -> String? {
        let n = hidden.rows, d = hidden.cols, v = classifier.cols
        // What the filter may leave out of one value, per unit of the other operand.
        let eps = Double(filterEpsilon) / Double(n)
        for i in rows {
            let row = (0..<v).map { logit(i, $0) }
            let magnitude = row.map(\.magnitude).max() ?? 0
            let ce = ReferenceCrossEntropy.evaluate(logits: DoubleMatrix(rows: 1, cols: v, storage: row.map(\.value)),
                                                    targets: .classIndices([labels[i]]), options: options)
            let slack = 1e-5 + 1e-6 * magnitude
            if abs(Double(got.lse[i]) - ce.logSumExp[0]) > slack || abs(Double(got.rowLoss[i]) - ce.rowLosses[0]) > slack * 4 {
                return "wrong: row \(i) lse \(got.lse[i]) loss \(got.rowLoss[i]), expected \(ce.logSumExp[0]) and \(ce.rowLosses[0])"
            }
            // ∂H_i = Σ_j G_ij·W_j, G of the mean over N rows.
            let g = ce.gradient.storage.map { $0 / Double(n) }
            var want = [Double](repeating: 0, count: d), size = [Double](repeating: 0, count: d), filtered = [Double](repeating: 0, count: d)
            for j in 0..<v {
                for e in 0..<d {
                    want[e] += g[j] * Double(classifier[e, j])
                    size[e] += abs(g[j] * Double(classifier[e, j]))
                    filtered[e] += eps * abs(Double(classifier[e, j]))
                }
            }
            if let e = (0..<d).first(where: { abs(Double(got.hidden[i, $0]) - want[$0]) > 1e-4 * size[$0] + 1e-7 / Double(n) + filtered[$0] }) {
                return "wrong: dH[\(i), \(e)] = \(got.hidden[i, e]), expected \(want[e])"
            }
        }
        guard options.softcap == nil, options.zLoss == 0 else { return nil }
        for j in columns {
            // G_ij = (exp(f_ij − lse_i) − δ(j, y_i))/N
            let column = (0..<n).map { i in (exp(logit(i, j).value - Double(got.lse[i])) - (Int(labels[i]) == j ? 1 : 0)) / Double(n) }
            let wantB = column.reduce(0, +), sizeB = column.map(abs).reduce(0, +)
            if abs(Double(got.bias[j]) - wantB) > 1e-4 * sizeB + 1e-9 + eps * Double(n) { return "wrong: db[\(j)] = \(got.bias[j]), expected \(wantB)" }
            for e in features {
                var want = 0.0, size = 0.0, filtered = 0.0
                for i in 0..<n {
                    want += Double(hidden[i, e]) * column[i]
                    size += abs(Double(hidden[i, e]) * column[i])
                    filtered += eps * abs(Double(hidden[i, e]))
                }
                if abs(Double(got.classifier[e, j]) - want) > 1e-4 * size + 1e-9 + filtered { return "wrong: dW[\(e), \(j)] = \(got.classifier[e, j]), expected \(want)" }
            }
        }
        return nil
    }
}
