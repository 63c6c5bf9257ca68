import ArgumentParser
import Foundation
import SoftmaxCore
import SoftmaxReference

/// `softmax-lab explain`: the derivative of softmax cross-entropy, worked through with the user's
/// numbers and confirmed by finite differences.
struct ExplainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Show the loss and its gradient step by step, checked by finite differences.")

    @Option(help: "The scores f (logits), comma-separated: 2.0,1.0,0.1")
    var logits: String

    @Option(help: "The true class y, 0-based.")
    var label: Int

    @Option(help: "Optional input features x (comma-separated); then f = x·W + b and the weight gradient is shown.")
    var x: String?

    @Flag(help: "Print everything as JSON.")
    var json = false

    /// Everything the explanation computes; also the JSON output.
    struct Explanation: Encodable {
        var logits: [Double]
        var label: Int
        var max: Double
        var shifted: [Double]
        var exponentials: [Double]
        var sum: Double
        var probabilities: [Double]
        var loss: Double
        var gradient: [Double]
        var finiteDifferenceStep: Double
        var finiteDifferenceGradient: [Double]
        var gradientMaxDifference: Double
        var x: [Double]?
        /// weightGradient[d][k] = ∂L/∂W_dk = x_d·(p_k − δ(k,y)).
        var weightGradient: [[Double]]?
        var biasGradient: [Double]?
        var finiteDifferenceWeightGradient: [[Double]]?
        var weightGradientMaxDifference: Double?
    }

    func run() throws {
        let f = try Self.numbers(logits, flag: "--logits")
        guard (0..<f.count).contains(label) else {
            throw InputError("--label \(label) is outside 0..<\(f.count) (there are \(f.count) logits)")
        }
        let features = try x.map { try Self.numbers($0, flag: "--x") }
        let e = Self.explain(f, label: label, x: features)
        if json { Console.current.line(try JSONOutput.string(e)) } else { print(e) }
    }

    static func numbers(_ text: String, flag: String) throws -> [Double] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts != [""] else { throw InputError("\(flag) is empty; give comma-separated numbers like 2.0,1.0,0.1") }
        return try parts.enumerated().map { i, part in
            guard !part.isEmpty else { throw InputError("\(flag) entry \(i) is empty (entries count from 0)") }
            guard let v = Double(part), v.isFinite else {
                throw InputError("\(flag) entry \(i) ('\(part)') is not a finite number (entries count from 0)")
            }
            return v
        }
    }

    static func explain(_ f: [Double], label y: Int, x: [Double]?) -> Explanation {
        let m = f.max()!
        let shifted = f.map { $0 - m }
        let exps = shifted.map { Foundation.exp($0) }
        let s = exps.reduce(0, +)
        let p = exps.map { $0 / s }
        let loss = Foundation.log(s) + m - f[y]
        let gradient = p.enumerated().map { k, pk in pk - (k == y ? 1 : 0) }
        let h = 1e-5
        let numeric = GradientCheck.centralDifference(at: f, step: h) { lossOf($0, label: y) }
        var e = Explanation(
            logits: f, label: y, max: m, shifted: shifted, exponentials: exps, sum: s, probabilities: p, loss: loss,
            gradient: gradient, finiteDifferenceStep: h, finiteDifferenceGradient: numeric,
            gradientMaxDifference: GradientCheck.maxAbsoluteError(gradient, numeric).error)
        if let x {
            // ∂L/∂W_dk = x_d·∂L/∂f_k, checked by perturbing W around W = 0, b = f (so x·W + b = f).
            e.x = x
            e.weightGradient = x.map { xd in gradient.map { xd * $0 } }
            e.biasGradient = gradient
            let c = f.count
            let d = x.count
            let numericW = GradientCheck.centralDifference(at: [Double](repeating: 0, count: d * c), step: h) { w in
                var shiftedScores = f
                for k in 0..<c {
                    for i in 0..<d { shiftedScores[k] += x[i] * w[i * c + k] }
                }
                return lossOf(shiftedScores, label: y)
            }
            e.finiteDifferenceWeightGradient = (0..<d).map { (i: Int) -> [Double] in Array(numericW[(i * c)..<((i + 1) * c)]) }
            e.weightGradientMaxDifference = GradientCheck.maxAbsoluteError(e.weightGradient!.flatMap { $0 }, numericW).error
        }
        return e
    }

    /// L(f) = log Σ exp(f_k − m) + m − f_y, by the float64 oracle.
    private static func lossOf(_ f: [Double], label y: Int) -> Double {
        ReferenceCrossEntropy.evaluate(
            logits: DoubleMatrix(rows: 1, cols: f.count, storage: f), targets: .classIndices([Int32(y)])).loss
    }

    private func print(_ e: Explanation) {
        let out = Console.current
        let c = e.logits.count, y = e.label
        out.line("Softmax cross-entropy, step by step (C = \(c) classes, label y = \(y))")
        out.line()
        out.line("1. Scores            f = \(formatted(e.logits))")
        out.line("2. Maximum           m = max_k f_k = \(formatted(e.max))   (subtracted for numerical stability only; it cancels)")
        out.line("3. Shifted           f_k − m = \(formatted(e.shifted))")
        out.line("4. Exponentials      e_k = exp(f_k − m) = \(formatted(e.exponentials))")
        out.line("5. Sum               S = Σ_k e_k = \(formatted(e.sum))")
        out.line("6. Probabilities     p_k = e_k / S = \(formatted(e.probabilities))   (Σ p_k = \(formatted(e.probabilities.reduce(0, +))))")
        out.line("7. Loss              L = −log p_y = log S + m − f_y = \(formatted(e.loss))")
        out.line("8. Gradient          ∂L/∂f_k = p_k − δ(k, y)   (softmax minus one-hot)")
        for k in 0..<c {
            let term = k == y ? "p_\(k) − 1 (label)" : "p_\(k)"
            out.line("       k = \(k): \(term.padding(toLength: 18, withPad: " ", startingAt: 0)) = \(formatted(e.gradient[k]))")
        }
        out.line("   Why: L = log Σ_j exp(f_j) − f_y, so ∂L/∂f_k = exp(f_k)/Σ_j exp(f_j) − δ(k, y) = p_k − δ(k, y).")
        var step = 9
        if let x = e.x, let dW = e.weightGradient {
            out.line("\(step). Linear layer      f = x·W + b with x = \(formatted(x)); by the chain rule ∂L/∂W_dk = x_d·∂L/∂f_k:")
            for k in 0..<c {
                let column = dW.map { $0[k] }
                let term = k == y ? "(p_\(k) − 1)·x (label)" : "p_\(k)·x"
                out.line("       column \(k): \(term.padding(toLength: 22, withPad: " ", startingAt: 0)) = \(formatted(column))")
            }
            out.line("       ∂L/∂b = p − onehot(y) = \(formatted(e.biasGradient!))")
            step += 1
        }
        out.line("\(step). Check             central differences (L(f + h·e_k) − L(f − h·e_k)) / 2h with h = \(formatted(e.finiteDifferenceStep)):")
        out.line("       numeric ∂L/∂f = \(formatted(e.finiteDifferenceGradient))")
        out.line("       max |analytic − numeric| = \(formatted(e.gradientMaxDifference))")
        if let diff = e.weightGradientMaxDifference {
            out.line("       ∂L/∂W by differences: max |analytic − numeric| = \(formatted(diff))")
        }
    }
}
