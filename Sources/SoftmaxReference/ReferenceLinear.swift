import SoftmaxCore

/// The linear softmax classifier in float64: scores = x·W + b, objective = reduce_i L_i + (λ/2)‖W‖².
public enum ReferenceLinear {
    public struct Result: Sendable {
        public var objective: Double
        public var weightGradient: DoubleMatrix
        public var biasGradient: [Double]
    }

    /// x: (N, D), weights: (D, C), bias: (C) → scores (N, C).
    public static func scores(x: DoubleMatrix, weights: DoubleMatrix, bias: [Double]) -> DoubleMatrix {
        var s = DoubleMatrix(rows: x.rows, cols: weights.cols)
        for i in 0..<x.rows {
            for k in 0..<weights.cols {
                // f_ik = Σ_d x_id·W_dk + b_k
                var f = bias[k]
                for d in 0..<x.cols { f += x[i, d] * weights[d, k] }
                s[i, k] = f
            }
        }
        return s
    }

    public static func objective(
        x: DoubleMatrix, targets: Targets, weights: DoubleMatrix, bias: [Double],
        options: CrossEntropyOptions = .init(), l2: Double = 0
    ) -> Result {
        let ce = ReferenceCrossEntropy.evaluate(logits: scores(x: x, weights: weights, bias: bias), targets: targets, options: options)
        let g = ce.gradient
        var dW = DoubleMatrix(rows: weights.rows, cols: weights.cols)
        var db = [Double](repeating: 0, count: weights.cols)
        var squaredNorm = 0.0
        for d in 0..<weights.rows {
            for k in 0..<weights.cols {
                // ∂/∂W_dk = Σ_i x_id·G_ik + λ·W_dk   (xᵀ(p − onehot), plus the L2 term)
                var v = l2 * weights[d, k]
                for i in 0..<x.rows { v += x[i, d] * g[i, k] }
                dW[d, k] = v
                squaredNorm += weights[d, k] * weights[d, k]
            }
        }
        // ∂/∂b_k = Σ_i G_ik (the bias is not regularized)
        for i in 0..<x.rows { for k in 0..<weights.cols { db[k] += g[i, k] } }
        return Result(objective: ce.loss + 0.5 * l2 * squaredNorm, weightGradient: dW, biasGradient: db)
    }

    /// The fused linear cross-entropy's definition: the logits f = H·W + b in float64, the
    /// cross-entropy of f (every option), then ∂H = G·Wᵀ, ∂W = Hᵀ·G, ∂b = Σ_rows G.
    public struct LinearCrossEntropyResult: Sendable {
        public var crossEntropy: ReferenceCrossEntropy.Result
        public var hiddenGradient: DoubleMatrix
        public var classifierGradient: DoubleMatrix
        public var biasGradient: [Double]
    }

    /// hidden: (N, D), classifier: (D, V), bias: (V) or nil for none.
    public static func linearCrossEntropy(
        hidden: DoubleMatrix, classifier: DoubleMatrix, bias: [Double]?, targets: Targets,
        options: CrossEntropyOptions = .init()
    ) -> LinearCrossEntropyResult {
        let n = hidden.rows, d = hidden.cols, v = classifier.cols
        let f = scores(x: hidden, weights: classifier, bias: bias ?? [Double](repeating: 0, count: v))
        let ce = ReferenceCrossEntropy.evaluate(logits: f, targets: targets, options: options)
        let g = ce.gradient
        var dH = DoubleMatrix(rows: n, cols: d), dW = DoubleMatrix(rows: d, cols: v)
        var db = [Double](repeating: 0, count: v)
        for i in 0..<n {
            for e in 0..<d {
                // ∂L/∂H_ie = Σ_j G_ij·W_ej
                var s = 0.0
                for j in 0..<v { s += g[i, j] * classifier[e, j] }
                dH[i, e] = s
            }
        }
        for e in 0..<d {
            for j in 0..<v {
                // ∂L/∂W_ej = Σ_i H_ie·G_ij
                var s = 0.0
                for i in 0..<n { s += hidden[i, e] * g[i, j] }
                dW[e, j] = s
            }
        }
        for i in 0..<n { for j in 0..<v { db[j] += g[i, j] } }
        return LinearCrossEntropyResult(crossEntropy: ce, hiddenGradient: dH, classifierGradient: dW, biasGradient: db)
    }
}
