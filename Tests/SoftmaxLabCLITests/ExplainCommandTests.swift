import Foundation
import SoftmaxLabCLI
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
        for expected in ["m = max_k f_k = 2", String(format: "%.6g", s), String(format: "%.6g", e[1] / s),
                         String(format: "%.6g", loss), String(format: "%.6g", e[0] / s - 1), "p_0 − 1 (label)", "max |analytic − numeric|"] {
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
}
