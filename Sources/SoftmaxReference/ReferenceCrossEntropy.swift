#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SoftmaxCore

/// The float64 oracle for softmax cross-entropy with PyTorch's semantics. Plain loops, slow on purpose:
/// every backend is checked against this.
public enum ReferenceCrossEntropy {
    public struct Result: Sendable {
        /// Reduced as the options say (for `.none`, the sum of the row losses), z part included.
        public var loss: Double
        /// The z part of `loss`: Σ λ·lse_i² over counted rows, divided by their count for mean.
        public var zLoss: Double
        /// Each row's cross-entropy plus its z part (0 for ignored rows).
        public var rowLosses: [Double]
        /// ∂loss/∂logits, N×C.
        public var gradient: DoubleMatrix
        /// log Σ_j exp(f'_ij).
        public var logSumExp: [Double]
        /// argmax_j f'_ij, the first on ties.
        public var predictions: [Int32]
        /// Rows that count (not ignored) and, of them, those predicted right: the label, or the
        /// argmax of the target row (first on ties) for probability targets.
        public var counted: Int
        public var correct: Int

        // The intermediate values, for `explain` to show (each is a step of the code below).
        /// f' = s·tanh(f/s) with a softcap, else the logits themselves.
        public var cappedLogits: DoubleMatrix
        /// m_i = max_j f'_ij and log s_i = log Σ_j exp(f'_ij − m_i), so lse_i = m_i + log s_i.
        public var rowMax: [Double]
        public var logSum: [Double]
        /// p_ij = exp(f'_ij − m_i)/s_i.
        public var probabilities: DoubleMatrix
        /// q_ij, the target distribution: (1 − ε)·onehot(y_i) + ε/C, or (1 − ε)·q_ij + ε/C for
        /// probability targets; a zero row where the row is ignored.
        public var targetDistribution: DoubleMatrix
        /// t_ij = w_j·q_ij: row i's loss is −Σ_j t_ij·log p_ij.
        public var coefficients: DoubleMatrix
        /// Whether row i counts (its label is not the ignore index).
        public var rowCounts: [Bool]
        /// What `mean` divides the cross-entropy by (Σ w_y over counted rows, or N with
        /// probability targets), and the factors the gradient's two parts are multiplied by.
        public var denominator: Double
        public var scale: Double
        public var zScale: Double
    }

    /// argmax of a row, the first on ties.
    static func firstArgmax(_ count: Int, _ value: (Int) -> Double) -> Int {
        var best = 0
        for j in 1..<max(count, 1) where value(j) > value(best) { best = j }
        return best
    }

    /// logits: (N, C) row-major; targets: N class indices or an (N, C) probability matrix.
    public static func evaluate(logits raw: DoubleMatrix, targets: Targets, options: CrossEntropyOptions = .init()) -> Result {
        let n = raw.rows, c = raw.cols
        // Softcap first: f' = s·tanh(f/s); everything below sees f', and the gradient is carried
        // back through it at the end with ∂f'/∂f = 1 − tanh²(f/s).
        var logits = raw
        if let s = options.softcap.map(Double.init) {
            for i in 0..<n { for j in 0..<c { logits[i, j] = s * tanh(raw[i, j] / s) } }
        }
        let eps = Double(options.labelSmoothing)
        let w: [Double] = options.classWeights?.map(Double.init) ?? [Double](repeating: 1, count: c)
        var p = DoubleMatrix(rows: n, cols: c)
        var lse = [Double](repeating: 0, count: n)
        var rowMax = [Double](repeating: 0, count: n), logSum = [Double](repeating: 0, count: n)
        for i in 0..<n {
            // m = max_j f_ij, for stability only: it cancels in p and L.
            var m = -Double.infinity
            for j in 0..<c { m = max(m, logits[i, j]) }
            // s = Σ_j exp(f_ij − m)
            var s = 0.0
            for j in 0..<c { s += exp(logits[i, j] - m) }
            // log Σ_j exp(f_ij) = m + log s
            lse[i] = m + log(s)
            rowMax[i] = m
            logSum[i] = log(s)
            // p_ij = exp(f_ij − m) / s
            for j in 0..<c { p[i, j] = exp(logits[i, j] - m) / s }
        }

        // q_ij, the target distribution, and t_ij = w_j·q_ij, the coefficient of −log p_ij in
        // row i's loss, L_i = −Σ_j t_ij·log p_ij.
        var q = DoubleMatrix(rows: n, cols: c)
        var rowCounts = [Bool](repeating: true, count: n)
        var denominator = 0.0
        // The argmax of f' is that of f (softcap is strictly increasing); taken on f, since f' can
        // round two different logits to the same value (tanh is 1 in double beyond |f/s| ≈ 19).
        let predictions = (0..<n).map { i in Int32(firstArgmax(c) { raw[i, $0] }) }
        var correct = 0
        switch targets {
        case .classIndices(let labels):
            for i in 0..<n {
                let y = Int(labels[i])
                if labels[i] == options.ignoreIndex { rowCounts[i] = false; continue }
                if predictions[i] == labels[i] { correct += 1 }
                // q = (1 − ε)·onehot(y) + ε/C, so t = (1 − ε)·w_y·onehot(y) + (ε/C)·w_j
                // (PyTorch: (1−ε)·nll + ε/C·Σ_j −w_j·log p_j)
                for j in 0..<c { q[i, j] = eps / Double(c) }
                q[i, y] += 1 - eps
                // mean divides by the summed weights of the labels of non-ignored rows
                denominator += w[y]
            }
        case .probabilities(let probabilities):
            for i in 0..<n {
                if Int(predictions[i]) == firstArgmax(c, { Double(probabilities[i, $0]) }) { correct += 1 }
                // (1 − ε)·q_ij + ε/C
                for j in 0..<c { q[i, j] = (1 - eps) * Double(probabilities[i, j]) + eps / Double(c) }
            }
            // with probability targets, mean divides by the row count
            denominator = Double(n)
        }
        var t = q
        for i in 0..<n { for j in 0..<c { t[i, j] = w[j] * q[i, j] } }

        var rowLosses = [Double](repeating: 0, count: n)
        var gradient = DoubleMatrix(rows: n, cols: c)
        // A mean over no weight (every row ignored) is 0/0: the loss is NaN, as in PyTorch, and the
        // gradient is zero.
        let scale: Double = options.reduction == .mean ? (denominator > 0 ? 1 / denominator : 0) : 1
        // The z part is divided by the number of counted rows for mean, not by their weights.
        let counted = rowCounts.filter { $0 }.count
        let zScale: Double = options.reduction == .mean ? (counted > 0 ? 1 / Double(counted) : 0) : 1
        let lambda = Double(options.zLoss)
        var zSum = 0.0, ceSum = 0.0
        for i in 0..<n where rowCounts[i] {
            var total = 0.0
            for j in 0..<c {
                // −log p_ij = lse_i − f_ij = (m_i − f_ij) + log s_i: summed in this order, since
                // m_i + log s_i − f_ij would round away log s_i for logits of 1e15 and beyond.
                rowLosses[i] += t[i, j] * ((rowMax[i] - logits[i, j]) + logSum[i])
                total += t[i, j]
            }
            // z_i = λ·lse_i², ∂z_i/∂f_ij = 2λ·lse_i·p_ij
            let z = lambda * lse[i] * lse[i]
            zSum += z
            // ∂L_i/∂f_ij = Σ_k t_ik·(p_ij − δ_jk) = (Σ_k t_ik)·p_ij − t_ij; one-hot t gives p − onehot(y).
            for j in 0..<c {
                gradient[i, j] = scale * (total * p[i, j] - t[i, j]) + zScale * 2 * lambda * lse[i] * p[i, j]
            }
            ceSum += rowLosses[i]
            rowLosses[i] += z
        }
        if let s = options.softcap.map(Double.init) {
            for i in 0..<n {
                for j in 0..<c {
                    let th = tanh(raw[i, j] / s)
                    gradient[i, j] *= 1 - th * th
                }
            }
        }
        let zLoss = zSum * (options.reduction == .mean ? 1 / Double(counted) : 1)
        let loss = (options.reduction == .mean ? ceSum / denominator : ceSum) + zLoss
        return Result(loss: loss, zLoss: zLoss, rowLosses: rowLosses, gradient: gradient, logSumExp: lse,
                      predictions: predictions, counted: counted, correct: correct, cappedLogits: logits, rowMax: rowMax,
                      logSum: logSum, probabilities: p, targetDistribution: q, coefficients: t, rowCounts: rowCounts,
                      denominator: denominator, scale: scale, zScale: zScale)
    }
}
