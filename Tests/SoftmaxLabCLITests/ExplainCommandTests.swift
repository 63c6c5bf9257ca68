import Foundation
import SoftmaxCore
import SoftmaxLabCLI
import SoftmaxReference
import Testing

@Suite struct ExplainCommandTests {
    struct Explanation: Decodable {
        var probabilities: [Double]
        var loss: Double
        var gradient: [Double]
        var finiteDifferenceGradient: [Double]
        var gradientMaxDifference: Double
        var weightGradient: [[Double]]?
        var weightGradientMaxDifference: Double?
    }

    @Test func textShowsEveryStepWithTheNumbers() {
        let r = CommandRunner.run(["explain", "--logits", "2.0,1.0,0.1", "--label", "0"])
        #expect(r.exitCode == 0, "\(r.standardError)")
        // softmax(2, 1, 0.1) computed here by hand: e = (1, e^-1, e^-1.9), S = Σ e.
        let e = [1, exp(-1.0), exp(-1.9)], s = e.reduce(0, +)
        let loss = log(s)
        for expected in ["m   = max_k f_k = 2", String(format: "%.6g", s), String(format: "%.6g", e[1] / s),
                         String(format: "%.6g", loss), String(format: "%.6g", e[0] / s - 1), "j = 0 (label):  p_0 − 1", "max |analytic − numeric|",
                         "J_kj = ∂p_k/∂f_j = p_k(δ_kj − p_j)", "p_k(1 − p_k)", "−p_k·p_j", "only the row k = y survives"] {
            #expect(r.standardOutput.contains(expected), "explain output lacks '\(expected)':\n\(r.standardOutput)")
        }
    }

    @Test func jsonHasTheGradientAndItsFiniteDifferenceCheck() throws {
        let r = CommandRunner.run(["explain", "--logits", "0.5,-1,3,2", "--label", "2", "--x", "1.5,-0.5,2", "--json"])
        #expect(r.exitCode == 0, "\(r.standardError)")
        let e = try JSONDecoder().decode(Explanation.self, from: Data(r.standardOutput.utf8))
        let f = [0.5, -1, 3, 2], x = [1.5, -0.5, 2]
        let z = f.map { exp($0) }.reduce(0, +)
        let p = f.map { exp($0) / z }
        #expect(abs(e.loss - (log(z) - 3)) < 1e-12)
        for k in 0..<4 {
            #expect(abs(e.probabilities[k] - p[k]) < 1e-12)
            #expect(abs(e.gradient[k] - (p[k] - (k == 2 ? 1 : 0))) < 1e-12)
            #expect(abs(e.finiteDifferenceGradient[k] - e.gradient[k]) < 1e-8)
            for d in 0..<3 { #expect(abs(e.weightGradient![d][k] - x[d] * e.gradient[k]) < 1e-12) }
        }
        #expect(e.gradientMaxDifference < 1e-8)
        #expect(e.weightGradientMaxDifference! < 1e-8)
    }

    @Test(arguments: [
        (["explain", "--logits", "1,2", "--label", "2"], "--label 2 is outside 0..<2"),
        (["explain", "--logits", "1,abc", "--label", "0"], "--logits entry 1 ('abc') is not a finite number"),
        (["explain", "--logits", "1,nan", "--label", "0"], "--logits entry 1 ('nan') is not a finite number"),
        (["explain", "--logits", "1,2", "--label", "0", "--x", ""], "--x is empty"),
    ])
    func badInputIsOneSentenceAndNonZeroExit(_ arguments: [String], _ message: String) {
        let r = CommandRunner.run(arguments)
        #expect(r.exitCode != 0)
        #expect(r.standardError.contains(message), "stderr: \(r.standardError)")
        #expect(r.standardOutput.isEmpty)
    }

    struct Jacobian: Decodable {
        var loss: Double
        var probabilities: [Double]
        var gradient: [Double]
        var jacobian: [[Double]]
        var lossGradientWrtProbabilities: [Double]
        var chainRuleGradient: [Double]
        var finiteDifferenceJacobian: [[Double]]
        var jacobianMaxDifference: Double
        var finiteDifferenceLossGradientWrtProbabilities: [Double]
        var checksPassed: Bool
        var weightGradient: [[Double]]?
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
        let r = CommandRunner.run(["explain", "--logits", f.map { "\($0)" }.joined(separator: ","), "--label", "\(y)",
                                   "--x", x.map { "\($0)" }.joined(separator: ","), "--json"])
        try #require(r.exitCode == 0, "C = \(c): \(r.standardError)")
        let e = try JSONDecoder().decode(Jacobian.self, from: Data(r.standardOutput.utf8))
        let oracle = ReferenceCrossEntropy.evaluate(logits: DoubleMatrix(rows: 1, cols: c, storage: f), targets: .classIndices([Int32(y)]))
        let p = (0..<c).map { oracle.gradient[0, $0] + ($0 == y ? 1 : 0) }
        for k in 0..<c {
            for j in 0..<c {
                let want = p[k] * ((k == j ? 1 : 0) - p[j])
                #expect(abs(e.jacobian[k][j] - want) <= 1e-12, "C = \(c) seed \(c * 31): J[\(k)][\(j)] = \(e.jacobian[k][j]), oracle \(want)")
                #expect(abs(e.finiteDifferenceJacobian[k][j] - want) <= 1e-7, "C = \(c): numeric J[\(k)][\(j)]")
            }
            #expect(abs(e.chainRuleGradient[k] - oracle.gradient[0, k]) <= 1e-12, "C = \(c): chain rule at \(k)")
            #expect(abs(e.gradient[k] - oracle.gradient[0, k]) <= 1e-12)
            #expect(e.lossGradientWrtProbabilities[k] == (k == y ? -1 / e.probabilities[y] : 0))
            let numeric = e.finiteDifferenceLossGradientWrtProbabilities[k]
            #expect(abs(numeric - e.lossGradientWrtProbabilities[k]) <= 1e-6 / e.probabilities[y], "C = \(c): numeric ∂L/∂p_\(k) = \(numeric)")
            for d in 0..<3 { #expect(abs(e.weightGradient![d][k] - x[d] * oracle.gradient[0, k]) <= 1e-12) }
        }
        #expect(e.checksPassed && e.jacobianMaxDifference < 1e-7)
    }

    /// The text fits 80 columns, never prints "−0", and says where differences cannot work.
    @Test func layoutAndUnresolvableDifferences() throws {
        let twenty = (0..<20).map { "\(Double($0) * 0.37 - 3.1)" }.joined(separator: ",")
        for args in [["--logits", "2,1,0.1", "--label", "0", "--x", "-2,0,3.5"], ["--logits", twenty, "--label", "7", "--x", "1,2,3,4,5,6"],
                     ["--logits", "1e308,1", "--label", "1"], ["--logits", "-1e4,1e4,3", "--label", "2"]] {
            let r = CommandRunner.run(["explain"] + args)
            #expect(r.exitCode == 0, "\(args): \(r.standardError)")
            for line in r.standardOutput.split(separator: "\n") {
                #expect(line.count <= 80, "\(line.count) columns: \(line)")
                #expect(!line.contains("-0,") && !line.contains("-0]") && !line.hasSuffix(" -0"), "−0 printed: \(line)")
            }
        }
        // f_0 = 1e308 has no neighbour within a useful step; f_1's step is on the scale of f_1 − m.
        let huge = CommandRunner.run(["explain", "--logits", "1e308,1", "--label", "1", "--json"])
        #expect(huge.exitCode == 0 && huge.standardOutput.contains("\"unresolvableComponents\" : [\n    0\n  ]"), "\(huge.standardOutput)")
        for args in [["--logits", "1e308,1", "--label", "1"], ["--logits", "1e15,1e15,3", "--label", "1"]] {
            let r = CommandRunner.run(["explain"] + args)
            #expect(r.exitCode == 0 && r.standardOutput.contains("Not checked: f_0") && !r.standardOutput.contains("FAILED"), "\(r.standardOutput)")
        }
        // The loss of equal huge logits is log 2 exactly, not 1e15's rounding of it.
        let equal = try JSONDecoder().decode(Jacobian.self, from: Data(CommandRunner.run(["explain", "--logits", "1e15,1e15", "--label", "0", "--json"]).standardOutput.utf8))
        #expect(abs(equal.loss - log(2.0)) < 1e-15)
    }
}
