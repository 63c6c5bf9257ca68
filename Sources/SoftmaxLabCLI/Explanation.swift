import Foundation
import SoftmaxCore
import SoftmaxReference

/// Every number `explain` shows, computed in float64: the oracle's own steps (softcap, max, sum,
/// p, the target distribution q and the coefficients t = w⊙q, the reduction's scale, the gradient
/// G), the Jacobian route worked out beside them, and finite-difference checks of each stage.
/// It is also the `--json` output.
struct Explanation: Encodable {
    /// One row of the batch, worked through.
    struct Row: Encodable {
        var index: Int
        /// f, as given (or x·W + b).
        var logits: [Double]
        /// f' = s·tanh(f/s) with --softcap; everything from `max` on is of f'.
        var cappedLogits: [Double]?
        /// The class label, or nil with probability targets.
        var label: Int?
        /// Whether the label is the ignore index: no loss, a zero gradient, no weight in the mean.
        var ignored: Bool
        var max: Double
        var shifted: [Double]
        var exponentials: [Double]
        var sum: Double
        var logSumExp: Double
        var probabilities: [Double]
        /// q: (1 − ε)·onehot(y) + ε/C, or the given probabilities smoothed alike; zero when ignored.
        var target: [Double]
        /// t = w⊙q: L_i = −Σ_k t_k·log p_k = Σ_k t_k·(lse − f'_k).
        var coefficients: [Double]
        /// The row's cross-entropy Σ_k t_k·(lse − f'_k), before the reduction.
        var crossEntropy: Double
        /// λ·lse², 0 without --z-loss.
        var zPart: Double
        /// jacobian[k][j] = ∂p_k/∂f'_j = p_k·(δ_kj − p_j): row k is p_k, column j is f'_j.
        var jacobian: [[Double]]
        /// ∂L_i/∂p_k = −t_k/p_k (L_i as a function of p alone).
        var lossGradientWrtProbabilities: [Double]
        /// Σ_k ∂L_i/∂p_k·J_kj: the chain rule's ∂L_i/∂f'_j (a term whose p_k is 0 taken with p_k
        /// cancelled).
        var chainRuleGradient: [Double]
        /// (Σ_k t_k)·p_j − t_j: the shortcut through lse; p − q when Σq = 1 and no weights.
        var shortcutGradient: [Double]
        /// 2λ·lse·p_j, the z part's derivative (before the reduction's scale).
        var zGradient: [Double]?
        /// ∂f'_j/∂f_j = 1 − tanh²(f_j/s) with --softcap.
        var softcapFactor: [Double]?
        /// Row i of G = ∂loss/∂f: (scale·shortcut + zScale·zGradient)·softcapFactor.
        var gradient: [Double]
        /// J by central differences of softmax(f') (step h_j on f'_j).
        var finiteDifferenceJacobian: [[Double]]
        var jacobianMaxDifference: Double
        /// ∂L_i/∂p_k by central differences of −Σ t·log p, p_k moved alone by 1e-6·p_k.
        var finiteDifferenceLossGradientWrtProbabilities: [Double]
        /// max_k |analytic − numeric| / max(1, |analytic|): −t_k/p_k is as large as 1/p_k.
        var lossGradientWrtProbabilitiesRelativeDifference: Double
        /// h_j = 1e-5·max(1, |f_j − m|): on the scale of each shifted input (softmax does not change
        /// when every f moves together, so |f| itself says nothing of the curvature), raised to
        /// 10^4 of f_j's float64 spacing where that is larger (the component is then not checked).
        var finiteDifferenceSteps: [Double]
        /// ∂loss/∂f_j by central differences of the whole reduced loss (the oracle's).
        var finiteDifferenceGradient: [Double]
        var gradientMaxDifference: Double
        /// Components differences cannot check: where f_j's own float spacing forces a step 100×
        /// the one its scale asks for, where the loss's rounding (|loss|·2^-52) over the step is
        /// beyond the tolerance, or where the loss is beyond float64's range.
        var unresolvableComponents: [Int]
        /// exp(f_k) without the shift, its sum, and p and L from them: what the naive formula gives.
        var naiveExponentials: [Double]
        var naiveSum: Double
        var naiveProbabilities: [Double]
        var naiveLoss: Double
    }

    var classes: Int
    var options: CrossEntropyOptions
    /// w, all ones without --weights.
    var classWeights: [Double]
    /// What `mean` divides by: Σ w_y over counted rows (N with probability targets).
    var denominator: Double
    /// G's factors: scale for the cross-entropy part (1/denominator for mean), zScale for the z part
    /// (1/counted rows for mean).
    var scale: Double
    var zScale: Double
    var countedRows: Int
    /// The reduced loss, z part included, and the z part alone.
    var loss: Double
    var zLoss: Double
    var rows: [Row]
    /// G = ∂loss/∂f, N×C (the oracle's).
    var gradient: [[Double]]
    /// max |route − G|: the Jacobian route, scaled and carried through z and softcap, against the oracle.
    var routeDifference: Double
    var x: [[Double]]?
    var classifier: [[Double]]?
    var bias: [Double]?
    var l2: Double
    /// ∂W = Xᵀ·G + λW (D×C): weightGradient[d][k]; ∂b = Σ_rows G.
    var weightGradient: [[Double]]?
    var biasGradient: [Double]?
    var finiteDifferenceWeightGradient: [[Double]]?
    var weightGradientMaxDifference: Double?
    var jacobianMaxDifference: Double
    var lossGradientWrtProbabilitiesRelativeDifference: Double
    var gradientMaxDifference: Double
    /// Whether every check that could be made agreed within `tolerance` (relative to the
    /// largest entry of what it checks, or 1).
    var checksPassed: Bool
    var tolerance: Double

    /// The first counted row (row 0 if none counts): the one whose Jacobian route is shown in full.
    var featuredRow: Row { rows.first { !$0.ignored } ?? rows[0] }

    static let defaultTolerance = 1e-6

    /// The explanation of the loss of `logits` (N×C) against `targets`; with `x` (N×D), also ∂W
    /// and ∂b (`classifier` W when the logits were x·W + b, else checked around W = 0, b = f).
    static func make(logits f: [[Double]], targets: Targets, options: CrossEntropyOptions, x: [[Double]]? = nil,
                     classifier: [[Double]]? = nil, bias: [Double]? = nil, l2: Double = 0,
                     tolerance: Double = defaultTolerance) -> Explanation {
        let n = f.count, c = f[0].count
        func evaluate(_ f: [[Double]]) -> ReferenceCrossEntropy.Result {
            ReferenceCrossEntropy.evaluate(logits: DoubleMatrix(rows: n, cols: c, storage: f.flatMap { $0 }), targets: targets, options: options)
        }
        let o = evaluate(f)
        let lambda = Double(options.zLoss)
        let labels: [Int32]? = if case .classIndices(let l) = targets { l } else { nil }
        let total = o.loss
        var rows: [Row] = []
        var routeDifference = 0.0
        for i in 0..<n {
            let fc = (0..<c).map { o.cappedLogits[i, $0] }
            let m = o.rowMax[i]
            let shifted = fc.map { $0 - m }
            let p = (0..<c).map { o.probabilities[i, $0] }
            let q = (0..<c).map { o.targetDistribution[i, $0] }
            let t = (0..<c).map { o.coefficients[i, $0] }
            let sumT = t.reduce(0, +)
            // The Jacobian route: J_kj = p_k(δ_kj − p_j); ∂L/∂p_k = −t_k/p_k; ∂L/∂f'_j = Σ_k ∂L/∂p_k·J_kj.
            let jacobian = (0..<c).map { k in (0..<c).map { j in p[k] * ((k == j ? 1 : 0) - p[j]) } }
            let dLdp = (0..<c).map { k in t[k] == 0 ? 0 : -t[k] / p[k] }
            // Where p_k underflowed to 0, ∂L/∂p_k is infinite and J_kj zero: the term is taken with
            // p_k cancelled, −t_k(δ_kj − p_j), as the derivation does by hand.
            let chain = (0..<c).map { j in
                (0..<c).reduce(0.0) { sum, k in
                    sum + (p[k] > 0 || t[k] == 0 ? dLdp[k] * jacobian[k][j] : -t[k] * ((k == j ? 1 : 0) - p[j]))
                }
            }
            let shortcut = (0..<c).map { j in sumT * p[j] - t[j] }
            let lse = o.logSumExp[i]
            let zGradient = lambda > 0 ? p.map { 2 * lambda * lse * $0 } : nil
            let factor = options.softcap.map { s in f[i].map { 1 - pow(tanh($0 / Double(s)), 2) } }
            let counted = o.rowCounts[i]
            let route = (0..<c).map { j -> Double in
                guard counted else { return 0 }
                let g = o.scale * chain[j] + o.zScale * (zGradient?[j] ?? 0)
                return g * (factor?[j] ?? 1)
            }
            let g = (0..<c).map { o.gradient[i, $0] }
            routeDifference = Swift.max(routeDifference, zip(route, g).map { abs($0 - $1) }.max() ?? 0)

            // Central differences, each step on its input's own scale: of the loss in f, of p in f'.
            let (steps, tooCoarse) = Self.steps(f[i])
            let (cappedSteps, cappedTooCoarse) = Self.steps(fc)
            func difference(_ j: Int, at point: [Double], step h: Double, _ value: ([Double]) -> Double) -> Double {
                var plus = point, minus = point
                plus[j] += h
                minus[j] -= h
                return (value(plus) - value(minus)) / (2 * h)
            }
            let numeric = (0..<c).map { j in
                difference(j, at: f[i], step: steps[j]) { row in var all = f; all[i] = row; return evaluate(all).loss }
            }
            let numericJacobian = (0..<c).map { k in (0..<c).map { j in difference(j, at: fc, step: cappedSteps[j]) { Self.softmax($0)[k] } } }
            let unresolvable = (0..<c).filter { j in
                !total.isFinite || tooCoarse[j] || abs(total) * Double.ulpOfOne / steps[j] > tolerance || !numeric[j].isFinite
            }
            let resolvable = (0..<c).filter { !unresolvable.contains($0) }
            let gradientDifference = resolvable.map { abs(g[$0] - numeric[$0]) }.max() ?? 0
            var jacobianDifference = 0.0
            for j in 0..<c where !cappedTooCoarse[j] {
                for k in 0..<c { jacobianDifference = Swift.max(jacobianDifference, abs(jacobian[k][j] - numericJacobian[k][j])) }
            }
            // L as a function of p alone is −Σ t·log p: each p_k moved by its own small step.
            let numericDLdp = (0..<c).map { k -> Double in
                guard t[k] != 0, p[k] > 0 else { return dLdp[k] }
                let h = 1e-6 * p[k]
                return -t[k] * (log(p[k] + h) - log(p[k] - h)) / (2 * h)
            }
            let dLdpDifference = (0..<c).map { k -> Double in abs(numericDLdp[k] - dLdp[k]) / Swift.max(1, abs(dLdp[k])) }.max() ?? 0
            let naive = f[i].map { exp($0) }
            let naiveSum = naive.reduce(0, +)
            let naiveLoss = labels.map { -log(naive[Int($0[i]).clamped(to: 0..<c)] / naiveSum) } ?? .nan
            rows.append(Row(
                index: i, logits: f[i], cappedLogits: options.softcap == nil ? nil : fc,
                label: labels.map { Int($0[i]) }, ignored: !counted, max: m, shifted: shifted,
                exponentials: shifted.map { exp($0) }, sum: exp(o.logSum[i]), logSumExp: lse, probabilities: p,
                target: q, coefficients: t, crossEntropy: o.rowLosses[i] - (counted ? lambda * lse * lse : 0),
                zPart: counted ? lambda * lse * lse : 0, jacobian: jacobian, lossGradientWrtProbabilities: dLdp,
                chainRuleGradient: chain, shortcutGradient: shortcut, zGradient: zGradient, softcapFactor: factor, gradient: g,
                finiteDifferenceJacobian: numericJacobian, jacobianMaxDifference: jacobianDifference,
                finiteDifferenceLossGradientWrtProbabilities: numericDLdp, lossGradientWrtProbabilitiesRelativeDifference: dLdpDifference,
                finiteDifferenceSteps: steps, finiteDifferenceGradient: numeric, gradientMaxDifference: gradientDifference,
                unresolvableComponents: unresolvable, naiveExponentials: naive, naiveSum: naiveSum,
                naiveProbabilities: naive.map { $0 / naiveSum }, naiveLoss: naiveLoss))
        }
        let g = rows.map(\.gradient)
        let gScale = Swift.max(1, g.flatMap { $0 }.map(abs).max() ?? 0)
        var e = Explanation(
            classes: c, options: options, classWeights: options.classWeights?.map(Double.init) ?? Array(repeating: 1, count: c),
            denominator: o.denominator, scale: o.scale, zScale: o.zScale, countedRows: o.counted, loss: o.loss, zLoss: o.zLoss,
            rows: rows, gradient: g, routeDifference: routeDifference, l2: l2,
            jacobianMaxDifference: rows.map(\.jacobianMaxDifference).max() ?? 0,
            lossGradientWrtProbabilitiesRelativeDifference: rows.map(\.lossGradientWrtProbabilitiesRelativeDifference).max() ?? 0,
            gradientMaxDifference: rows.map(\.gradientMaxDifference).max() ?? 0, checksPassed: true, tolerance: tolerance)
        e.checksPassed = e.jacobianMaxDifference <= tolerance && e.lossGradientWrtProbabilitiesRelativeDifference <= tolerance
            && e.gradientMaxDifference <= tolerance * gScale && routeDifference <= tolerance * gScale
        if let x { e.addLinearLayer(x: x, classifier: classifier, bias: bias, logits: f, evaluate: evaluate) }
        return e
    }

    /// ∂W = Xᵀ·G + λW and ∂b = Σ_rows G, checked by differences of the objective loss + (λ/2)‖W‖²
    /// in W (around W = 0 with b = f when no classifier was given, so that x·W + b = f).
    private mutating func addLinearLayer(x: [[Double]], classifier: [[Double]]?, bias: [Double]?, logits f: [[Double]],
                                         evaluate: ([[Double]]) -> ReferenceCrossEntropy.Result) {
        let n = x.count, d = x[0].count, c = classes
        let w = classifier ?? Array(repeating: Array(repeating: 0, count: c), count: d)
        self.x = x
        self.classifier = classifier
        self.bias = classifier == nil ? nil : bias ?? Array(repeating: 0, count: c)
        let dW = (0..<d).map { r in (0..<c).map { k in l2 * w[r][k] + (0..<n).reduce(0.0) { $0 + x[$1][r] * gradient[$1][k] } } }
        weightGradient = dW
        biasGradient = (0..<c).map { k in gradient.reduce(0.0) { $0 + $1[k] } }
        let base: [[Double]] = (0..<n).map { i in (0..<c).map { k in f[i][k] - (0..<d).reduce(0.0) { $0 + x[i][$1] * w[$1][k] } } }
        let lambda = l2
        let numeric = GradientCheck.centralDifference(at: w.flatMap { $0 }, step: 1e-5) { flat in
            let scores = (0..<n).map { i in (0..<c).map { k in base[i][k] + (0..<d).reduce(0.0) { $0 + x[i][$1] * flat[$1 * c + k] } } }
            return evaluate(scores).loss + 0.5 * lambda * flat.reduce(0) { $0 + $1 * $1 }
        }
        finiteDifferenceWeightGradient = (0..<d).map { r in Array(numeric[(r * c)..<((r + 1) * c)]) }
        // Only the components whose logits differences can resolve (the same in every row).
        let resolvable = Set(0..<c).subtracting(rows.flatMap(\.unresolvableComponents))
        var worst = 0.0
        for r in 0..<d { for k in resolvable { worst = Swift.max(worst, abs(dW[r][k] - numeric[r * c + k])) } }
        weightGradientMaxDifference = worst
        if worst > tolerance * Swift.max(1, dW.flatMap { $0 }.map(abs).max() ?? 0) { checksPassed = false }
    }

    /// h_j = 1e-5·max(1, |v_j − max v|), raised to 10^4 of v_j's float64 spacing where that is
    /// larger; and whether it had to be raised 100-fold or more (then no difference can check v_j).
    static func steps(_ v: [Double]) -> (steps: [Double], tooCoarse: [Bool]) {
        let m = v.max()!
        let nominal = v.map { 1e-5 * Swift.max(1, abs($0 - m)) }
        let spacing = v.map { 1e4 * $0.ulp }
        return (v.indices.map { Swift.max(nominal[$0], spacing[$0]) }, v.indices.map { spacing[$0] > 100 * nominal[$0] })
    }

    /// softmax(f), shifted by the max.
    static func softmax(_ f: [Double]) -> [Double] {
        let m = f.max()!
        let e = f.map { exp($0 - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }
}

extension Int {
    fileprivate func clamped(to range: Range<Int>) -> Int { Swift.min(Swift.max(self, range.lowerBound), range.upperBound - 1) }
}
