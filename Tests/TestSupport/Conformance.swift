import SoftmaxCore
import SoftmaxReference

/// The checks every backend must pass against the float64 oracle, as functions returning failure
/// descriptions (empty when the backend conforms), so each backend's test target reuses them.
public enum Conformance {
    public static let lossTolerance = Comparison(atol: 1e-5, rtol: 2e-5)

    /// Loss, row losses, log-sum-exp and gradient of one call, against the oracle.
    public static func crossEntropy(
        _ backend: any ComputeBackend, logits: Matrix, targets: Targets,
        options: CrossEntropyOptions = .init(), context: String
    ) throws -> [String] {
        let got = try backend.crossEntropy(logits: logits, targets: targets, options: options)
        let want = ReferenceCrossEntropy.evaluate(logits: DoubleMatrix(logits), targets: targets, options: options)
        let c = logits.cols
        var failures: [String] = []
        let context = "\(context), \(logits.rows)x\(c), \(describe(options))"
        if let m = lossTolerance.mismatches([Float(got.loss)], [want.loss], context: "\(context): loss") { failures.append(m) }
        if let m = lossTolerance.mismatches(got.rowLosses, want.rowLosses, context: "\(context): row losses") { failures.append(m) }
        if let m = lossTolerance.mismatches(got.logSumExp, want.logSumExp, context: "\(context): log-sum-exp") { failures.append(m) }
        if let m = lossTolerance.mismatches([Float(got.zLoss)], [want.zLoss], context: "\(context): z part") { failures.append(m) }
        if got.predictions != want.predictions {
            let i = got.predictions.indices.first { got.predictions[$0] != want.predictions[$0] } ?? 0
            failures.append("\(context): predictions differ first at row \(i): \(got.predictions[i]) against \(want.predictions[i])")
        }
        let wantAccuracy = want.counted > 0 ? Double(want.correct) / Double(want.counted) : Double.nan
        if !(got.accuracy == wantAccuracy || (got.accuracy.isNaN && wantAccuracy.isNaN)) {
            failures.append("\(context): accuracy \(got.accuracy) against \(wantAccuracy) (\(want.correct) of \(want.counted) rows)")
        }
        // Gradient entries are compared on the scale of the largest one (mean divides them all by N),
        // with a floor for batches whose every row is already confidently right.
        // With C = 1 the exact gradient is 0 and the float one is the rounding of T·p − t, whose
        // terms are up to the reduction's scale (1/N for a mean): the floor is 0.1 there.
        let largest = want.gradient.storage.map(abs).max() ?? 0
        let gradientTolerance = Comparison(atol: 2e-6 * max(largest, c == 1 ? 0.1 : 1e-3), rtol: 1e-4)
        if let m = gradientTolerance.mismatches(got.gradient.storage, want.gradient.storage, cols: c, context: "\(context): gradient") {
            failures.append(m)
        }
        return failures
    }

    /// Objective, ∂W and ∂b of the linear classifier, against the oracle.
    public static func classifier(
        _ backend: any ComputeBackend, x: Matrix, targets: Targets, weights: Matrix, bias: [Float],
        options: CrossEntropyOptions = .init(), l2: Float, context: String
    ) throws -> [String] {
        let got = try backend.classifierGradients(x: x, targets: targets, weights: weights, bias: bias, options: options, l2: l2)
        let want = ReferenceLinear.objective(
            x: DoubleMatrix(x), targets: targets, weights: DoubleMatrix(weights), bias: bias.map(Double.init),
            options: options, l2: Double(l2))
        let context = "\(context), x \(x.rows)x\(x.cols), W \(weights.rows)x\(weights.cols), l2 \(l2)"
        var failures: [String] = []
        if let m = lossTolerance.mismatches([Float(got.objective)], [want.objective], context: "\(context): objective") { failures.append(m) }
        let largest = max(want.weightGradient.storage.map(abs).max() ?? 0, want.biasGradient.map(abs).max() ?? 0)
        let tolerance = Comparison(atol: 1e-5 * max(largest, 1e-30), rtol: 2e-4)
        if let m = tolerance.mismatches(got.weightGradient.storage, want.weightGradient.storage, cols: weights.cols, context: "\(context): dW") {
            failures.append(m)
        }
        if let m = tolerance.mismatches(got.biasGradient, want.biasGradient, context: "\(context): db") { failures.append(m) }
        return failures
    }

    /// Loss, per-row outputs and ∂H, ∂W, ∂b of one fused linear call, against the oracle (the
    /// logits formed in float64). Gradients are compared on the scale of their largest entry, as
    /// the classifier's are; a prediction is compared where the oracle's best logit leads the
    /// second by more than float32 GEMM rounding could close.
    public static func linearCrossEntropy(
        _ backend: any ComputeBackend, hidden: Matrix, classifier: Matrix, layout: ClassifierLayout = .dv, bias: [Float]?,
        labels: [Int32], options: CrossEntropyOptions = .init(), context: String
    ) throws -> [String] {
        // `classifier` is D×V; the backend gets it in `layout`, and its ∂W comes back transposed to D×V.
        var got = try backend.linearCrossEntropy(hidden: hidden, classifier: layout == .dv ? classifier : classifier.transposed, layout: layout,
                                                 bias: bias, targets: .classIndices(labels), options: options)
        if layout == .vd { got.classifierGradient = got.classifierGradient?.transposed }
        let want = ReferenceLinear.linearCrossEntropy(
            hidden: DoubleMatrix(hidden), classifier: DoubleMatrix(classifier), bias: bias.map { $0.map(Double.init) },
            targets: .classIndices(labels), options: options)
        let ce = want.crossEntropy
        let n = hidden.rows, d = hidden.cols, v = classifier.cols
        let context = "\(context), H \(n)x\(d), W \(d)x\(v) stored \(layout.rawValue)\(bias == nil ? "" : " + bias"), \(describe(options))"
        var failures: [String] = []
        // The logits are sums of D products: their float32 rounding grows with D and |H|·|W|.
        var magnitude = 0.0
        for i in 0..<n {
            for j in 0..<v {
                var s = abs(Double(bias?[j] ?? 0))
                for e in 0..<d { s += abs(Double(hidden[i, e]) * Double(classifier[e, j])) }
                magnitude = max(magnitude, s)
            }
        }
        let logitError = 4 * Double(Float.ulpOfOne) * magnitude * Double(max(1, d)).squareRoot()
        let loss = Comparison(atol: lossTolerance.atol + logitError, rtol: lossTolerance.rtol)
        if let m = loss.mismatches([Float(got.value.loss)], [ce.loss], context: "\(context): loss") { failures.append(m) }
        if let m = loss.mismatches(got.rowLosses, ce.rowLosses, context: "\(context): row losses") { failures.append(m) }
        if let m = loss.mismatches(got.logSumExp, ce.logSumExp, context: "\(context): log-sum-exp") { failures.append(m) }
        if let m = loss.mismatches([Float(got.value.zLoss)], [ce.zLoss], context: "\(context): z part") { failures.append(m) }
        let f = ReferenceLinear.scores(x: DoubleMatrix(hidden), weights: DoubleMatrix(classifier),
                                       bias: bias?.map(Double.init) ?? [Double](repeating: 0, count: v))
        for i in 0..<n where got.predictions[i] != ce.predictions[i] {
            let best = f[i, Int(ce.predictions[i])], theirs = f[i, Int(got.predictions[i])]
            if best - theirs > 4 * logitError + 1e-6 * abs(best) {
                failures.append("\(context): row \(i) predicted \(got.predictions[i]) (logit \(theirs)), the oracle \(ce.predictions[i]) (logit \(best))")
                break
            }
        }
        for (name, actual, expected, cols) in [
            ("dH", got.hiddenGradient?.storage, want.hiddenGradient.storage, d),
            ("dW", got.classifierGradient?.storage, want.classifierGradient.storage, v),
            ("db", got.biasGradient, bias == nil ? nil : want.biasGradient, v),
        ] {
            guard let expected else { continue }
            guard let actual else { failures.append("\(context): \(name) missing"); continue }
            let largest = expected.map(abs).max() ?? 0
            let tolerance = Comparison(atol: 1e-5 * max(largest, 1e-30) + logitError * largest, rtol: 2e-4)
            if let m = tolerance.mismatches(actual, expected, cols: cols, context: "\(context): \(name)") { failures.append(m) }
        }
        return failures
    }

    public static func describe(_ o: CrossEntropyOptions) -> String {
        var parts = ["reduction \(o.reduction.rawValue)"]
        if o.labelSmoothing > 0 { parts.append("smoothing \(o.labelSmoothing)") }
        if o.classWeights != nil { parts.append("weighted") }
        if o.ignoreIndex != CrossEntropyOptions.defaultIgnoreIndex { parts.append("ignore \(o.ignoreIndex)") }
        if let s = o.softcap { parts.append("softcap \(s)") }
        if o.zLoss > 0 { parts.append("z-loss \(o.zLoss)") }
        return parts.joined(separator: ", ")
    }
}
