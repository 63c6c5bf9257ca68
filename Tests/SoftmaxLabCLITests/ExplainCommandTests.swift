import Foundation
import SoftmaxCore
import SoftmaxLabCLI
import SoftmaxReference
import Testing

@Suite struct ExplainCommandTests {
    struct Row: Decodable {
        var logits: [Double]
        var label: Int?
        var ignored: Bool
        var probabilities: [Double]
        var target: [Double]
        var coefficients: [Double]
        var gradient: [Double]
        var jacobian: [[Double]]
        /// null where p_k underflowed to 0 (−t_k/p_k is infinite).
        var lossGradientWrtProbabilities: [Double?]
        var chainRuleGradient: [Double]
        var shortcutGradient: [Double]
        var finiteDifferenceJacobian: [[Double]]
        var jacobianMaxDifference: Double
        var finiteDifferenceLossGradientWrtProbabilities: [Double?]
        var finiteDifferenceGradient: [Double]
        var unresolvableComponents: [Int]
        /// null where exp overflowed (JSON has no infinity).
        var naiveExponentials: [Double?]
    }

    struct Explanation: Decodable {
        var loss: Double
        var zLoss: Double
        var rows: [Row]
        var gradient: [[Double]]
        var routeDifference: Double
        var gradientMaxDifference: Double
        var weightGradient: [[Double]]?
        var biasGradient: [Double]?
        var weightGradientMaxDifference: Double?
        var checksPassed: Bool
    }

    static func explain(_ args: [String]) throws -> Explanation {
        let r = CommandRunner.run(["explain"] + args + ["--json"])
        try #require(r.exitCode == 0, "\(args): \(r.standardError)")
        return try JSONDecoder().decode(Explanation.self, from: Data(r.standardOutput.utf8))
    }

    /// The text with every run of spaces and line breaks as one space: sentences wrap.
    static func flat(_ s: String) -> String { s.split(whereSeparator: \.isWhitespace).joined(separator: " ") }

    static func list(_ v: [Double]) -> String { v.map { "\($0)" }.joined(separator: ",") }
    static func rows(_ m: [[Double]]) -> String { m.map(list).joined(separator: ";") }

    @Test func textShowsEveryStepWithTheNumbers() {
        let r = CommandRunner.run(["explain", "--logits", "2.0,1.0,0.1", "--label", "0"])
        #expect(r.exitCode == 0, "\(r.standardError)")
        // softmax(2, 1, 0.1) computed here by hand: e = (1, e^-1, e^-1.9), S = Σ e.
        let e = [1, exp(-1.0), exp(-1.9)], s = e.reduce(0, +)
        for expected in ["m = max_k f_k = 2", String(format: "%.6g", s), String(format: "%.6g", e[1] / s),
                         String(format: "%.6g", log(s)), String(format: "%.4g", e[0] / s - 1), "j = 0 (label)", "max|a − n|",
                         "J_kj = ∂p_k/∂f_j = p_k(δ_kj − p_j)", "p_k(1 − p_k)", "−p_k p_j", "only the row k = y survives",
                         "\"With respect to an index\"", "quotient rule", "Kronecker delta", "∂L/∂p_k = −δ_ky/p_y",
                         "−(1/p_y) · p_y(δ_yj − p_j) = p_j − δ_jy", "The shortcut", "Every check that could be made agrees."] {
            #expect(Self.flat(r.standardOutput).contains(expected), "explain output lacks '\(expected)':\n\(r.standardOutput)")
        }
    }

    @Test func jsonHasTheGradientAndItsFiniteDifferenceCheck() throws {
        let e = try Self.explain(["--logits", "0.5,-1,3,2", "--label", "2", "--x", "1.5,-0.5,2"])
        let f = [0.5, -1, 3, 2], x = [1.5, -0.5, 2]
        let z = f.map { exp($0) }.reduce(0, +)
        let p = f.map { exp($0) / z }
        #expect(abs(e.loss - (log(z) - 3)) < 1e-12)
        let row = e.rows[0]
        for k in 0..<4 {
            #expect(abs(row.probabilities[k] - p[k]) < 1e-12)
            #expect(abs(row.gradient[k] - (p[k] - (k == 2 ? 1 : 0))) < 1e-12)
            #expect(abs(row.finiteDifferenceGradient[k] - row.gradient[k]) < 1e-8)
            for d in 0..<3 { #expect(abs(e.weightGradient![d][k] - x[d] * row.gradient[k]) < 1e-12) }
        }
        #expect(e.gradientMaxDifference < 1e-8)
        #expect(e.weightGradientMaxDifference! < 1e-8)
    }

    @Test(arguments: [
        (["--logits", "1,2", "--label", "2"], "--label 2 is outside 0..<2"),
        (["--logits", "1,abc", "--label", "0"], "--logits entry 1 ('abc') is not a finite number"),
        (["--logits", "1,nan", "--label", "0"], "--logits entry 1 ('nan') is not a finite number"),
        (["--logits", "1,2", "--label", "0", "--x", ""], "--x is empty"),
        (["--logits", "1,2;3", "--labels", "0,1"], "--logits row 1 has 1 entries but row 0 has 2"),
        (["--logits", "1,2;3,", "--labels", "0,1"], "--logits row 1 entry 1 is empty"),
        (["--logits", "1,2;3,4", "--label", "0"], "--label gives one row's class but the logits have 2 rows"),
        (["--logits", "1,2;3,4", "--labels", "0"], "--labels has 1 entries but the logits have 2 rows"),
        (["--logits", "1,2;3,4", "--labels", "0,5"], "--labels entry 1 is 5, outside 0..<2 and not the ignore index -100"),
        (["--logits", "1,2;3,4", "--labels", "0,0.5"], "--labels entry 1 (0.5) is not an integer class"),
        (["--logits", "1,2", "--targets", "0.5,0.2,0.3"], "--targets is 1×3 but the logits are 1×2"),
        (["--logits", "1,2", "--label", "0", "--x", "1;2"], "--x has 2 rows but the logits have 1"),
        (["--logits", "1,2", "--label", "0", "--weights", "1,-2"], "--weights entry 1 is -2.0"),
        (["--logits", "1,2", "--label", "0", "--label-smoothing", "1"], "--label-smoothing must be in [0, 1)"),
        (["--x", "1,2", "--classifier", "1,2,3", "--label", "0"], "--x has 2 features per row but --classifier has 1 rows"),
        (["--x", "1", "--classifier", "1,2", "--bias", "1,2,3", "--label", "0"], "--bias has 3 values but --classifier has 2 columns"),
        (["--logits", "1,2", "--label", "0", "--l2", "0.1"], "--l2 needs --classifier"),
        (["--logits", "1,2", "--label", "0", "--labels", "0"], "give exactly one of --label"),
        (["--logits", "1,2", "--label", "0", "--json", "--format", "html"], "give --json or --format, not both"),
    ])
    func badInputIsOneSentenceAndNonZeroExit(_ arguments: [String], _ message: String) {
        let r = CommandRunner.run(["explain"] + arguments)
        #expect(r.exitCode != 0)
        #expect(r.standardError.contains(message), "stderr: \(r.standardError)")
        #expect(r.standardOutput.isEmpty)
    }

    /// Every number of the Jacobian route against the float64 oracle on random seeded inputs:
    /// J_kj = p_k(δ_kj − p_j) from the oracle's probabilities (the oracle's gradient at a row whose
    /// label is k, plus δ, is p), the chain-rule product against the oracle's gradient, ∂W's columns.
    @Test(arguments: [1, 2, 3, 7, 20])
    func theJacobianRouteMatchesTheOracle(_ c: Int) throws {
        var rng = SeededGenerator(seed: UInt64(c) * 31)
        let f = (0..<c).map { _ in Double(Float.random(in: -6...6, using: &rng)) }
        let y = Int.random(in: 0..<c, using: &rng)
        let x = (0..<3).map { _ in Double(Float.random(in: -2...2, using: &rng)) }
        let e = try Self.explain(["--logits", Self.list(f), "--label", "\(y)", "--x", Self.list(x)])
        let row = e.rows[0]
        let oracle = ReferenceCrossEntropy.evaluate(logits: DoubleMatrix(rows: 1, cols: c, storage: f), targets: .classIndices([Int32(y)]))
        let p = (0..<c).map { oracle.gradient[0, $0] + ($0 == y ? 1 : 0) }
        for k in 0..<c {
            for j in 0..<c {
                let want = p[k] * ((k == j ? 1 : 0) - p[j])
                #expect(abs(row.jacobian[k][j] - want) <= 1e-12, "C = \(c) seed \(c * 31): J[\(k)][\(j)] = \(row.jacobian[k][j]), oracle \(want)")
                #expect(abs(row.finiteDifferenceJacobian[k][j] - want) <= 1e-7, "C = \(c): numeric J[\(k)][\(j)]")
            }
            #expect(abs(row.chainRuleGradient[k] - oracle.gradient[0, k]) <= 1e-12, "C = \(c): chain rule at \(k)")
            #expect(abs(row.gradient[k] - oracle.gradient[0, k]) <= 1e-12)
            #expect(row.lossGradientWrtProbabilities[k] == (k == y ? -1 / row.probabilities[y] : 0))
            let numeric = try #require(row.finiteDifferenceLossGradientWrtProbabilities[k])
            #expect(abs(numeric - row.lossGradientWrtProbabilities[k]!) <= 1e-6 / row.probabilities[y], "C = \(c): numeric ∂L/∂p_\(k) = \(numeric)")
            for d in 0..<3 { #expect(abs(e.weightGradient![d][k] - x[d] * oracle.gradient[0, k]) <= 1e-12) }
        }
        #expect(e.checksPassed && row.jacobianMaxDifference < 1e-7)
    }

    /// The batch form (rows separated by ';', a W and b given, L2 on W) against the float64 oracle:
    /// P, the chain-rule route of every row, G, ∂W = XᵀG + λW and ∂b = Σ_rows G, for every option.
    @Test(arguments: [
        ["--reduction", "mean"], ["--reduction", "sum", "--label-smoothing", "0.2"], ["--weights", "0.5,2,1,3"],
        ["--reduction", "none", "--softcap", "2.5"], ["--z-loss", "0.05", "--weights", "1,0,2,1"], ["--ignore-index", "1"],
        ["--label-smoothing", "0.1", "--weights", "2,1,1,0.5", "--softcap", "4", "--z-loss", "0.01", "--ignore-index", "3"],
    ])
    func theBatchFormMatchesTheOracle(_ optionArguments: [String]) throws {
        var rng = SeededGenerator(seed: 77)
        let n = 5, d = 3, c = 4
        let x = (0..<n).map { _ in (0..<d).map { _ in Double(Float.random(in: -2...2, using: &rng)) } }
        let w = (0..<d).map { _ in (0..<c).map { _ in Double(Float.random(in: -1.5...1.5, using: &rng)) } }
        let b = (0..<c).map { _ in Double(Float.random(in: -1...1, using: &rng)) }
        let labels = [0, 1, 3, 1, 2]
        let e = try Self.explain(["--x", Self.rows(x), "--classifier", Self.rows(w), "--bias", Self.list(b), "--l2", "0.25",
                                  "--labels", labels.map(String.init).joined(separator: ",")] + optionArguments)
        // The options as the oracle takes them, parsed here from the same arguments.
        var options = CrossEntropyOptions()
        var i = 0
        while i < optionArguments.count {
            let (flag, value) = (optionArguments[i], optionArguments[i + 1])
            switch flag {
            case "--reduction": options.reduction = Reduction(rawValue: value)!
            case "--label-smoothing": options.labelSmoothing = Float(value)!
            case "--weights": options.classWeights = value.split(separator: ",").map { Float($0)! }
            case "--softcap": options.softcap = Float(value)!
            case "--z-loss": options.zLoss = Float(value)!
            case "--ignore-index": options.ignoreIndex = Int32(value)!
            default: Issue.record("unknown flag \(flag)")
            }
            i += 2
        }
        let xm = DoubleMatrix(rows: n, cols: d, storage: x.flatMap { $0 }), wm = DoubleMatrix(rows: d, cols: c, storage: w.flatMap { $0 })
        let targets = Targets.classIndices(labels.map(Int32.init))
        let oracle = ReferenceLinear.objective(x: xm, targets: targets, weights: wm, bias: b, options: options, l2: 0.25)
        let ce = ReferenceCrossEntropy.evaluate(logits: ReferenceLinear.scores(x: xm, weights: wm, bias: b), targets: targets, options: options)
        let context = "options \(optionArguments), seed 77, N = \(n), D = \(d), C = \(c)"
        #expect(abs(e.loss - ce.loss) <= 1e-12 * max(1, abs(ce.loss)), "\(context): loss \(e.loss) vs \(ce.loss)")
        #expect(e.rows.count == n && e.checksPassed && e.routeDifference <= 1e-12, "\(context): route differs by \(e.routeDifference)")
        for r in 0..<n {
            #expect(e.rows[r].ignored == (Int32(labels[r]) == options.ignoreIndex), "\(context): row \(r) ignored")
            for k in 0..<c {
                #expect(abs(e.gradient[r][k] - ce.gradient[r, k]) <= 1e-12, "\(context): G[\(r)][\(k)] = \(e.gradient[r][k]) vs \(ce.gradient[r, k])")
                #expect(abs(e.rows[r].finiteDifferenceGradient[k] - ce.gradient[r, k]) <= 1e-6, "\(context): numeric G[\(r)][\(k)]")
            }
        }
        for r in 0..<d {
            for k in 0..<c {
                #expect(abs(e.weightGradient![r][k] - oracle.weightGradient[r, k]) <= 1e-12, "\(context): ∂W[\(r)][\(k)]")
            }
        }
        for k in 0..<c { #expect(abs(e.biasGradient![k] - oracle.biasGradient[k]) <= 1e-12, "\(context): ∂b[\(k)]") }
        #expect(e.weightGradientMaxDifference! <= 1e-6, "\(context): ∂W by differences off by \(e.weightGradientMaxDifference!)")
    }

    /// Each option's explained gradient against the one `loss` writes (the Swift backend, float32),
    /// the logits and targets read from the same files.
    @Test(arguments: [
        ["--label-smoothing", "0.15"], ["--weights", "1,3,0.5"], ["--ignore-index", "2"], ["--reduction", "sum"],
        ["--reduction", "none"], ["--softcap", "3"], ["--z-loss", "0.02"], ["targets"], ["targets", "--label-smoothing", "0.1", "--weights", "2,1,1"],
    ])
    func eachOptionsGradientIsTheOneLossWrites(_ arguments: [String]) throws {
        let files = try TestFiles()
        let logits = [[1.5, -0.5, 2.25], [0.0, 3.0, -1.0], [4.0, 4.0, -2.0], [-1.25, 0.5, 0.75]]
        try files.text("f.csv", logits.map { $0.map { "\($0)" }.joined(separator: ",") }.joined(separator: "\n") + "\n")
        try files.text("y.txt", "0\n1\n2\n2\n")
        try files.text("q.csv", "0.2,0.3,0.5\n1,0,0\n0.25,0.25,0.5\n0,0.5,0.5\n")
        let useTargets = arguments.first == "targets"
        let options = useTargets ? Array(arguments.dropFirst()) : arguments
        let target = useTargets ? ["--targets", files.path("q.csv")] : ["--labels", files.path("y.txt")]
        let e = try Self.explain(["--logits", files.path("f.csv")] + target + options)
        let r = CommandRunner.run(["loss", "--logits", files.path("f.csv"), "--grad-out", files.path("g.npy"), "--backend", "swift", "--json"] + target + options)
        try #require(r.exitCode == 0, "\(arguments): \(r.standardError)")
        let (_, g) = try TestFiles.readFloat32(files.path("g.npy"))
        for i in 0..<4 {
            for k in 0..<3 {
                #expect(abs(e.gradient[i][k] - Double(g[i * 3 + k])) <= 2e-6 * max(1, abs(e.gradient[i][k])),
                        "\(arguments): G[\(i)][\(k)] explained \(e.gradient[i][k]), loss wrote \(g[i * 3 + k])")
            }
        }
        #expect(e.checksPassed)
        let lossValue = try #require((try JSONSerialization.jsonObject(with: Data(r.standardOutput.utf8)) as? [String: Any])?["loss"] as? Double)
        #expect(abs(e.loss - lossValue) <= 1e-5 * max(1, abs(e.loss)), "\(arguments): loss explained \(e.loss), loss says \(lossValue)")
    }

    /// The general forms are said in words with the user's numbers: p − q, the weighted form, the
    /// ignored row, the reduction's denominator, z-loss and softcap.
    @Test func theOptionsAreExplained() {
        let r = CommandRunner.run(["explain", "--logits", "2,1,0.1;0,-1,3;1,1,1", "--labels", "0,2,-100", "--weights", "1,2,0.5",
                                   "--label-smoothing", "0.1", "--z-loss", "0.01", "--softcap", "5"])
        #expect(r.exitCode == 0, "\(r.standardError)")
        for expected in ["q_k = (1 − ε)δ_ky + ε/C", "t_k = w_k q_k", "∂L/∂p_k = −t_k/p_k", "(Σ_k t_k) p_j − t_j", "the weighted form (Σ_k w_k q_k) p − w ⊙ q",
                         "the ignore index -100: it adds no loss, its gradient row is zero, and it is not counted", "D = Σ_i w_(y_i) over the rows that count (2 of 3)",
                         "2λ_z lse · p_j", "1 − tanh²(f/s)", "Q, the target distributions (3 × 3)", "2 (ignored)", "f′_k = s tanh(f_k/s)"] {
            #expect(Self.flat(r.standardOutput).contains(expected), "lacks '\(expected)':\n\(r.standardOutput)")
        }
        let q = CommandRunner.run(["explain", "--logits", "2,1,0.1", "--targets", "0.5,0.25,0.25"])
        #expect(q.exitCode == 0 && Self.flat(q.standardOutput).contains("this is p_j − q_j: the gradient is the softmax minus the target distribution"), "\(q.standardOutput)")
    }

    @Test func aCheckBeyondTheToleranceFailsWithANonZeroExit() {
        let r = CommandRunner.run(["explain", "--logits", "2,1,0.1", "--label", "0", "--tolerance", "1e-30"])
        #expect(r.exitCode == 1)
        #expect(r.standardOutput.contains("FAILED") && r.standardOutput.contains("A check FAILED"), "\(r.standardOutput)")
        #expect(r.standardError.contains("a finite-difference check FAILED"), "\(r.standardError)")
    }

    /// The text fits 80 columns, never prints "−0", and says where differences cannot work.
    @Test func layoutAndUnresolvableDifferences() throws {
        let twenty = (0..<20).map { "\(Double($0) * 0.37 - 3.1)" }.joined(separator: ",")
        for args in [["--logits", "2,1,0.1", "--label", "0", "--x", "-2,0,3.5"], ["--logits", twenty, "--label", "7", "--x", "1,2,3,4,5,6"],
                     ["--logits", "1e308,1", "--label", "1"], ["--logits", "-1e4,1e4,3", "--label", "2"],
                     ["--logits", "2,1,0.1;0,-1,3;1,1,1", "--labels", "0,2,-100", "--weights", "1,2,0.5", "--label-smoothing", "0.1",
                      "--z-loss", "0.01", "--softcap", "5", "--x", "1,-2;0,3;2,2"],
                     ["--logits", "\(twenty);\(twenty)", "--labels", "3,19", "--reduction", "sum"]] {
            let r = CommandRunner.run(["explain"] + args)
            #expect(r.exitCode == 0, "\(args): \(r.standardError)")
            for line in r.standardOutput.split(separator: "\n") {
                #expect(line.count <= 80, "\(line.count) columns: \(line)")
                #expect(!line.contains("-0,") && !line.contains("-0]") && !line.hasSuffix(" -0") && !line.contains(" -0 "), "−0 printed: \(line)")
            }
        }
        // f_0 = 1e308 has no neighbour within a useful step; f_1's step is on the scale of f_1 − m.
        let huge = try Self.explain(["--logits", "1e308,1", "--label", "1"])
        #expect(huge.rows[0].unresolvableComponents == [0])
        for args in [["--logits", "1e308,1", "--label", "1"], ["--logits", "1e15,1e15,3", "--label", "1"]] {
            let r = CommandRunner.run(["explain"] + args)
            #expect(r.exitCode == 0 && r.standardOutput.contains("Not checked: f_0") && !r.standardOutput.contains("FAILED"), "\(r.standardOutput)")
        }
        // The loss of equal huge logits is log 2 exactly, not 1e15's rounding of it.
        #expect(abs(try Self.explain(["--logits", "1e15,1e15", "--label", "0"]).loss - log(2.0)) < 1e-15)
    }

    /// Logits beyond exp's range: what the naive formula gives, with the user's numbers, and why the
    /// shifted one stays finite where p_y underflows.
    @Test func stabilityIsExplainedWithTheUsersNumbers() throws {
        let r = CommandRunner.run(["explain", "--logits", "1000,0", "--label", "1"])
        #expect(r.exitCode == 0, "\(r.standardError)")
        for expected in ["Why shift by the max", "Naively, without the shift, exp(f_k) of row 0 is [inf, 1]", "exp overflows past 709.78",
                         "p = e/S would be [nan, 0]", "L = −log p_y = inf", "stays finite even where p_y itself rounds to 0 (here p_y = 0)"] {
            #expect(Self.flat(r.standardOutput).contains(expected), "lacks '\(expected)':\n\(r.standardOutput)")
        }
        let e = try Self.explain(["--logits", "1000,0", "--label", "1"])
        #expect(e.loss == 1000 && e.rows[0].naiveExponentials == [nil, 1])
    }
}
