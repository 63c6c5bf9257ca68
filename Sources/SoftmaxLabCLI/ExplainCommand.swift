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
        /// jacobian[k][j] = ∂p_k/∂f_j = p_k·(δ_kj − p_j): row k is p_k, column j is f_j.
        var jacobian: [[Double]]
        /// ∂L/∂p_k = −δ(k, y)/p_y: only the label's entry is not zero.
        var lossGradientWrtProbabilities: [Double]
        /// Σ_k ∂L/∂p_k·J_kj, the chain rule's ∂L/∂f_j (the same numbers as `gradient`).
        var chainRuleGradient: [Double]
        /// h_j = 1e-5·max(1, |f_j − m|): on the scale of each shifted input (softmax does not change
        /// when every f moves together, so |f| itself says nothing of the curvature: a step of
        /// 1e-5·|f| at f = 1e4 would be 0.1 and miss by 1e-4), raised to 10^4 of f_j's float64
        /// spacing where that is larger (then the component is not checked: see below).
        var finiteDifferenceSteps: [Double]
        var finiteDifferenceStep: Double
        var finiteDifferenceGradient: [Double]
        var gradientMaxDifference: Double
        var finiteDifferenceJacobian: [[Double]]
        var jacobianMaxDifference: Double
        /// ∂L/∂p_k by central differences of L(p) = −log p_y (step 1e-6·p_k; p_k moved alone).
        var finiteDifferenceLossGradientWrtProbabilities: [Double]
        /// Relative: ∂L/∂p_y = −1/p_y is as large as 1/p_y.
        var lossGradientWrtProbabilitiesRelativeDifference: Double
        /// Components that differences cannot check, said instead: where f_j's own float spacing
        /// forces a step 100× the one its scale asks for, where L's rounding (|L|·2^-52) over the
        /// step is beyond the tolerance, or where L itself is beyond float64's range.
        var unresolvableComponents: [Int]
        /// Whether every check that could be made agreed within `tolerance`.
        var checksPassed: Bool
        var tolerance: Double
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
        if !e.checksPassed { throw ExitCode.failure }
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

    static let tolerance = 1e-6

    static func explain(_ f: [Double], label y: Int, x: [Double]?) -> Explanation {
        let c = f.count
        let m = f.max()!
        let shifted = f.map { $0 - m }
        let exps = shifted.map { Foundation.exp($0) }
        let s = exps.reduce(0, +)
        let p = exps.map { $0 / s }
        // m − f_y first: added to log S before, it would round (1e15 + 0.69 − 1e15 is 0.75).
        let loss = Foundation.log(s) + (m - f[y])
        let gradient = p.enumerated().map { k, pk in pk - (k == y ? 1 : 0) }
        // The Jacobian route: J_kj = p_k(δ_kj − p_j); ∂L/∂p = −onehot(y)/p_y; ∂L/∂f_j = Σ_k ∂L/∂p_k·J_kj.
        let jacobian = (0..<c).map { k in (0..<c).map { j in p[k] * ((k == j ? 1 : 0) - p[j]) } }
        let dLdp = (0..<c).map { k in k == y ? -1 / p[y] : 0 }
        let chain = (0..<c).map { j in (0..<c).reduce(0.0) { $0 + dLdp[$1] * jacobian[$1][j] } }

        // Central differences with a step on each input's own scale.
        let nominal = f.map { 1e-5 * Swift.max(1, abs($0 - m)) }
        let spacing = f.map { 1e4 * $0.ulp }
        let steps = (0..<c).map { Swift.max(nominal[$0], spacing[$0]) }
        func difference(_ j: Int, _ value: ([Double]) -> Double) -> Double {
            var plus = f, minus = f
            plus[j] += steps[j]
            minus[j] -= steps[j]
            return (value(plus) - value(minus)) / (2 * steps[j])
        }
        let numeric = (0..<c).map { j in difference(j) { lossOf($0, label: y) } }
        let numericJacobian = (0..<c).map { k in (0..<c).map { j in difference(j) { probabilities($0)[k] } } }
        // L's own rounding over the step: where it is beyond the tolerance, no difference can check.
        let unresolvable = (0..<c).filter { j in
            !loss.isFinite || spacing[j] > 100 * nominal[j] || abs(loss) * Double.ulpOfOne / steps[j] > tolerance || !numeric[j].isFinite
        }
        let resolvable = (0..<c).filter { !unresolvable.contains($0) }
        let gradientDifference = resolvable.map { abs(gradient[$0] - numeric[$0]) }.max() ?? 0
        // L as a function of p alone is −log p_y: each p_k moved by its own small step.
        let numericDLdp = (0..<c).map { k -> Double in
            let h = 1e-6 * Swift.max(p[k], 1e-300)
            func lossOfP(_ q: Double) -> Double { k == y ? -Foundation.log(q) : -Foundation.log(p[y]) }
            return (lossOfP(p[k] + h) - lossOfP(p[k] - h)) / (2 * h)
        }
        let dLdpDifference = p[y] > 0 ? abs(numericDLdp[y] - dLdp[y]) * p[y] : 0
        let jacobianDifference = resolvable.flatMap { j in (0..<c).map { k in abs(jacobian[k][j] - numericJacobian[k][j]) } }.max() ?? 0
        var e = Explanation(
            logits: f, label: y, max: m, shifted: shifted, exponentials: exps, sum: s, probabilities: p, loss: loss,
            gradient: gradient, jacobian: jacobian, lossGradientWrtProbabilities: dLdp, chainRuleGradient: chain,
            finiteDifferenceSteps: steps, finiteDifferenceStep: steps.max() ?? 0, finiteDifferenceGradient: numeric,
            gradientMaxDifference: gradientDifference, finiteDifferenceJacobian: numericJacobian, jacobianMaxDifference: jacobianDifference,
            finiteDifferenceLossGradientWrtProbabilities: numericDLdp, lossGradientWrtProbabilitiesRelativeDifference: dLdpDifference,
            unresolvableComponents: unresolvable,
            checksPassed: gradientDifference <= tolerance && jacobianDifference <= tolerance && dLdpDifference <= tolerance,
            tolerance: tolerance)
        if let x {
            // ∂L/∂W_dk = x_d·∂L/∂f_k, checked by perturbing W around W = 0, b = f (so x·W + b = f).
            e.x = x
            e.weightGradient = x.map { xd in gradient.map { xd * $0 } }
            e.biasGradient = gradient
            let d = x.count
            let h = 1e-5
            let numericW = GradientCheck.centralDifference(at: [Double](repeating: 0, count: d * c), step: h) { w in
                var shiftedScores = f
                for k in 0..<c {
                    for i in 0..<d { shiftedScores[k] += x[i] * w[i * c + k] }
                }
                return lossOf(shiftedScores, label: y)
            }
            e.finiteDifferenceWeightGradient = (0..<d).map { (i: Int) -> [Double] in Array(numericW[(i * c)..<((i + 1) * c)]) }
            var wDifference = 0.0
            for i in 0..<d {
                for k in resolvable { wDifference = Swift.max(wDifference, abs(x[i] * gradient[k] - numericW[i * c + k])) }
            }
            e.weightGradientMaxDifference = wDifference
            if wDifference > tolerance * Swift.max(1, x.map(abs).max() ?? 1) { e.checksPassed = false }
        }
        return e
    }

    /// softmax(f), shifted by the max.
    private static func probabilities(_ f: [Double]) -> [Double] {
        let m = f.max()!
        let e = f.map { Foundation.exp($0 - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    /// L(f) = log Σ exp(f_k − m) + m − f_y, by the float64 oracle.
    private static func lossOf(_ f: [Double], label y: Int) -> Double {
        ReferenceCrossEntropy.evaluate(
            logits: DoubleMatrix(rows: 1, cols: f.count, storage: f), targets: .classIndices([Int32(y)])).loss
    }

    /// A number for the text: 6 significant digits, never "−0".
    private static func number(_ x: Double, digits: Int = 6) -> String {
        let text = String(format: "%.\(digits)g", x == 0 ? 0 : x)
        return text == "-0" ? "0" : text
    }

    /// "[a, b, …]" wrapped to 80 columns after `indent`.
    private static func vector(_ values: [Double], indent: Int) -> String {
        var lines: [String] = [], line = "["
        for (i, v) in values.enumerated() {
            let item = number(v) + (i + 1 < values.count ? ", " : "]")
            if indent + line.count + item.count > 80 {
                lines.append(line)
                line = " "
            }
            line += item
        }
        lines.append(values.isEmpty ? "[]" : line)
        return lines.joined(separator: "\n" + String(repeating: " ", count: indent))
    }

    /// A labelled matrix, columns right-aligned; nil when it would pass 80 columns.
    private static func table(_ rows: [[Double]], rowNames: [String], columnNames: [String], indent: Int) -> String? {
        let cells = rows.map { $0.map { number($0, digits: 4) } }
        let width = max((cells.flatMap { $0 } + columnNames).map(\.count).max() ?? 1, 1) + 2
        let nameWidth = (rowNames.map(\.count).max() ?? 0) + 1
        guard indent + nameWidth + width * columnNames.count <= 80 else { return nil }
        let pad = String(repeating: " ", count: indent)
        func right(_ s: String) -> String { String(repeating: " ", count: width - s.count) + s }
        var out = [pad + String(repeating: " ", count: nameWidth) + columnNames.map(right).joined()]
        for (name, row) in zip(rowNames, cells) {
            out.append(pad + name.padding(toLength: nameWidth, withPad: " ", startingAt: 0) + row.map(right).joined())
        }
        return out.joined(separator: "\n")
    }

    private func print(_ e: Explanation) {
        let out = Console.current
        let c = e.logits.count, y = e.label
        func n(_ x: Double) -> String { Self.number(x) }
        func v(_ values: [Double], _ indent: Int) -> String { Self.vector(values, indent: indent) }
        out.line("Softmax cross-entropy, step by step (C = \(c) classes, label y = \(y))")
        out.line()
        out.line("The forward pass")
        out.line(" 1. scores        f   = " + v(e.logits, 23))
        out.line(" 2. max           m   = max_k f_k = \(n(e.max))  (for stability only: it cancels)")
        out.line(" 3. exponentials  e_k = exp(f_k − m) = " + v(e.exponentials, 38))
        out.line(" 4. sum           S   = Σ_k e_k = \(n(e.sum))")
        out.line(" 5. softmax       p_k = e_k / S = " + v(e.probabilities, 34))
        out.line(" 6. loss          L   = −log p_y = log S + m − f_y = \(n(e.loss))")
        out.line()
        out.line("The gradient, the long way: through the Jacobian of softmax")
        out.line("    L depends on C separate variables f_0 … f_\(c - 1). \"With respect to an index\"")
        out.line("    means with respect to one of them, f_j, the others held fixed: do it for")
        out.line("    each j in turn. Write S = Σ_i exp(f_i), so ∂S/∂f_j = exp(f_j).")
        out.line(" 7. p_k = exp(f_k)/S; the quotient rule (u/v)' = (u'v − uv')/v² gives")
        out.line("      k = j: ∂p_k/∂f_j = (exp(f_k)·S − exp(f_k)·exp(f_j))/S² = p_k(1 − p_k)")
        out.line("      k ≠ j: ∂p_k/∂f_j = (0·S − exp(f_k)·exp(f_j))/S²        = −p_k·p_j")
        out.line("    Both cases at once, with the Kronecker delta δ_kj (1 if k = j, else 0):")
        out.line("      J_kj = ∂p_k/∂f_j = p_k(δ_kj − p_j)")
        let names = (0..<c).map { "f_\($0)" }, rows = (0..<c).map { "p_\($0)" }
        if let t = Self.table(e.jacobian, rowNames: rows, columnNames: names, indent: 6) {
            out.line("    With your numbers (row k is p_k, column j is f_j; diagonal p_k(1 − p_k)):")
            out.line(t)
        } else {
            out.line("    With your numbers the \(c)×\(c) table passes 80 columns (--json has it as")
            out.line("    `jacobian`); its diagonal p_k(1 − p_k) = " + v((0..<c).map { e.jacobian[$0][$0] }, 44))
        }
        out.line(" 8. L = −log p_y depends on p only through p_y, so ∂L/∂p_k = −δ(k, y)/p_y:")
        out.line("      ∂L/∂p = " + v(e.lossGradientWrtProbabilities, 14))
        out.line(" 9. The chain rule, ∂L/∂f_j = Σ_k ∂L/∂p_k·J_kj: only the row k = y survives,")
        out.line("      ∂L/∂f_j = −(1/p_y)·p_y(δ_yj − p_j) = p_j − δ_jy")
        let labelWidth = "j = \(c - 1) (label):".count + 1
        for j in 0..<c {
            let name = "j = \(j)\(j == y ? " (label)" : ""):".padding(toLength: labelWidth, withPad: " ", startingAt: 0)
            let term = (j == y ? "p_\(j) − 1" : "p_\(j)").padding(toLength: 10, withPad: " ", startingAt: 0)
            out.line("      \(name) \(term) = \(n(e.chainRuleGradient[j]))")
        }
        out.line("    The shortcut: L = log S − f_y, so ∂L/∂f_j = exp(f_j)/S − δ_jy = p_j − δ_jy")
        let routes = zip(e.chainRuleGradient, e.gradient).map { abs($0 - $1) }.max() ?? 0
        out.line("    at once. Both routes give the same numbers (they differ by \(n(routes))).")
        var step = 10
        if let x = e.x, let dW = e.weightGradient {
            out.line()
            out.line("\(step). The linear layer f = x·W + b: x has D = \(x.count) entries, W is D×C with column")
            out.line("    w_k, so f_k = x·w_k + b_k and ∂f_k/∂w_k = x. By the chain rule")
            out.line("    ∂L/∂W = x ⊗ (p − onehot(y)), a D×C matrix (row d is x_d, column k is w_k):")
            let columns = (0..<c).map { $0 == y ? "w_\($0)*" : "w_\($0)" }
            if let t = Self.table(dW, rowNames: (0..<x.count).map { "x_\($0)" }, columnNames: columns, indent: 6) {
                out.line(t)
            } else {
                out.line("      (\(x.count)×\(c): wider than 80 columns; --json has it as `weightGradient`)")
            }
            out.line("    Column y (*) is (p_y − 1)·x; every other column k is p_k·x.")
            out.line("    ∂L/∂b = p − onehot(y) = " + v(e.biasGradient!, 28))
            step += 1
        }
        out.line()
        out.line("\(step). Checks: central differences (g(f + h_j) − g(f − h_j))/2h_j, the step on each")
        out.line("    input's scale: h_j = 1e-5·max(1, |f_j − m|); tolerance \(n(e.tolerance)):")
        func verdict(_ d: Double, _ scale: Double = 1) -> String { d <= e.tolerance * scale ? "ok" : "FAILED" }
        out.line("      J = ∂p/∂f: max |analytic − numeric| = \(n(e.jacobianMaxDifference))  \(verdict(e.jacobianMaxDifference))")
        out.line("      ∂L/∂p:     |analytic − numeric|·p_y  = \(n(e.lossGradientWrtProbabilitiesRelativeDifference))  \(verdict(e.lossGradientWrtProbabilitiesRelativeDifference))")
        out.line("      ∂L/∂f:     max |analytic − numeric| = \(n(e.gradientMaxDifference))  \(verdict(e.gradientMaxDifference))")
        if let d = e.weightGradientMaxDifference {
            out.line("      ∂L/∂W:     max |analytic − numeric| = \(n(d))  \(verdict(d, max(1, e.x!.map(abs).max() ?? 1)))")
        }
        if !e.unresolvableComponents.isEmpty {
            let which = "f_" + e.unresolvableComponents.map(String.init).joined(separator: ", f_")
            out.line("    Not checked: \(which). Differences cannot work there: near the end of")
            out.line("    float64's range f ± h rounds back to f, or L (\(n(e.loss))) rounds by more than")
            out.line("    the change a step makes. The derivative there is still p − onehot(y).")
        }
        if e.logits.contains(where: { abs($0) > 80 }) {
            out.line()
            let largest = e.logits.map(abs).max()!
            out.line("Stability: exp(f_k) of your largest |f| = \(n(largest)) is \(largest > 709 ? "beyond" : "near") the")
            out.line("    float range (exp overflows past 709); shifted by m every exponent is ≤ 0,")
            if e.loss.isFinite {
                out.line("    and L = log S + m − f_y stays finite even where p_y itself rounds to 0")
                out.line("    (here p_y = \(n(e.probabilities[y]))).")
            } else {
                out.line("    but L = log S + m − f_y with m − f_y = \(n(e.max)) − (\(n(e.logits[y])))")
                out.line("    is itself beyond float64's range: the loss is that large.")
            }
        }
    }
}
