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
        /// Reduced as the options say (for `.none`, the sum of the row losses).
        public var loss: Double
        public var rowLosses: [Double]
        /// ∂loss/∂logits, N×C.
        public var gradient: DoubleMatrix
        public var logSumExp: [Double]
    }

    /// logits: (N, C) row-major; targets: N class indices or an (N, C) probability matrix.
    public static func evaluate(logits: DoubleMatrix, targets: Targets, options: CrossEntropyOptions = .init()) -> Result {
        let n = logits.rows, c = logits.cols
        let eps = Double(options.labelSmoothing)
        let w: [Double] = options.classWeights?.map(Double.init) ?? [Double](repeating: 1, count: c)
        var p = DoubleMatrix(rows: n, cols: c)
        var lse = [Double](repeating: 0, count: n)
        for i in 0..<n {
            // m = max_j f_ij, for stability only: it cancels in p and L.
            var m = -Double.infinity
            for j in 0..<c { m = max(m, logits[i, j]) }
            // s = Σ_j exp(f_ij − m)
            var s = 0.0
            for j in 0..<c { s += exp(logits[i, j] - m) }
            // log Σ_j exp(f_ij) = m + log s
            lse[i] = m + log(s)
            // p_ij = exp(f_ij − m) / s
            for j in 0..<c { p[i, j] = exp(logits[i, j] - m) / s }
        }

        // t_ij: the coefficient of −log p_ij in row i's loss, L_i = −Σ_j t_ij·log p_ij.
        var t = DoubleMatrix(rows: n, cols: c)
        var rowCounts = [Bool](repeating: true, count: n)
        var denominator = 0.0
        switch targets {
        case .classIndices(let labels):
            for i in 0..<n {
                let y = Int(labels[i])
                if labels[i] == options.ignoreIndex { rowCounts[i] = false; continue }
                // (1 − ε)·w_y·onehot(y) + (ε/C)·w_j   (PyTorch: (1−ε)·nll + ε/C·Σ_j −w_j·log p_j)
                for j in 0..<c { t[i, j] = eps / Double(c) * w[j] }
                t[i, y] += (1 - eps) * w[y]
                // mean divides by the summed weights of the labels of non-ignored rows
                denominator += w[y]
            }
        case .probabilities(let q):
            for i in 0..<n {
                // w_j·((1 − ε)·q_ij + ε/C)
                for j in 0..<c { t[i, j] = w[j] * ((1 - eps) * Double(q[i, j]) + eps / Double(c)) }
            }
            // with probability targets, mean divides by the row count
            denominator = Double(n)
        }

        var rowLosses = [Double](repeating: 0, count: n)
        var gradient = DoubleMatrix(rows: n, cols: c)
        // A mean over no weight (every row ignored) is 0/0: the loss is NaN, as in PyTorch, and the
        // gradient is zero.
        let scale: Double = options.reduction == .mean ? (denominator > 0 ? 1 / denominator : 0) : 1
        for i in 0..<n where rowCounts[i] {
            var total = 0.0
            for j in 0..<c {
                // −log p_ij = lse_i − f_ij
                rowLosses[i] += t[i, j] * (lse[i] - logits[i, j])
                total += t[i, j]
            }
            // ∂L_i/∂f_ij = Σ_k t_ik·(p_ij − δ_jk) = (Σ_k t_ik)·p_ij − t_ij; one-hot t gives p − onehot(y).
            for j in 0..<c { gradient[i, j] = scale * (total * p[i, j] - t[i, j]) }
        }
        let sum = rowLosses.reduce(0, +)
        let loss = options.reduction == .mean ? sum / denominator : sum
        return Result(loss: loss, rowLosses: rowLosses, gradient: gradient, logSumExp: lse)
    }
}
