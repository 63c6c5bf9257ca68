import Foundation
import SoftmaxCore
import SoftmaxReference
import Testing
import TestSupport

/// The oracle itself: hand-computed values, and its analytic gradient against finite differences.
@Suite struct ReferenceTests {
    @Test func handComputedSoftmax() {
        // f = (0, ln 2, ln 3): p = (1, 2, 3)/6, L for y = 2 is −log(1/2).
        let f = DoubleMatrix(rows: 1, cols: 3, storage: [0, log(2), log(3)])
        let r = ReferenceCrossEntropy.evaluate(logits: f, targets: .classIndices([2]))
        #expect(abs(r.loss - log(2)) < 1e-15)
        #expect(abs(r.logSumExp[0] - log(6)) < 1e-15)
        let expected = [1.0 / 6, 2.0 / 6, 3.0 / 6 - 1]
        for k in 0..<3 { #expect(abs(r.gradient[0, k] - expected[k]) < 1e-15) }
    }

    @Test func labelSmoothingAndWeightsByHand() {
        // C = 2, equal logits: p = (½, ½). ε = 0.2, w = (1, 3), y = 1:
        // t = (ε/2·w0, (1−ε)·w1 + ε/2·w1) = (0.1, 2.7); L = (0.1 + 2.7)·log 2; mean divides by w_y = 3.
        let r = ReferenceCrossEntropy.evaluate(
            logits: DoubleMatrix(rows: 1, cols: 2, storage: [5, 5]), targets: .classIndices([1]),
            options: .init(classWeights: [1, 3], labelSmoothing: 0.2))
        let eps = Double(Float(0.2))
        let t0 = eps / 2, t1 = (1 - eps) * 3 + eps / 2 * 3
        #expect(abs(r.rowLosses[0] - (t0 + t1) * log(2)) < 1e-12)
        #expect(abs(r.loss - (t0 + t1) * log(2) / 3) < 1e-12)
        // ∂L/∂f_k = (T·p_k − t_k)/3 with T = t0 + t1.
        #expect(abs(r.gradient[0, 0] - ((t0 + t1) / 2 - t0) / 3) < 1e-12)
    }

    @Test(arguments: [Reduction.none, .sum, .mean])
    func analyticGradientMatchesFiniteDifferences(_ reduction: Reduction) {
        var rng = SeededGenerator(seed: 77)
        let logits = RandomData.logits(4, 6, scale: 3, &rng)
        let labels: [Int32] = [0, 5, -100, 2]
        let options = CrossEntropyOptions(reduction: reduction, classWeights: RandomData.weights(6, &rng), labelSmoothing: 0.15)
        let analytic = ReferenceCrossEntropy.evaluate(logits: DoubleMatrix(logits), targets: .classIndices(labels), options: options)
        let numeric = GradientCheck.centralDifference(at: DoubleMatrix(logits).storage) { v in
            let r = ReferenceCrossEntropy.evaluate(logits: DoubleMatrix(rows: 4, cols: 6, storage: v), targets: .classIndices(labels), options: options)
            return reduction == .none ? r.rowLosses.reduce(0, +) : r.loss
        }
        #expect(GradientCheck.relativeError(analytic.gradient.storage, numeric) < 1e-8)
    }

    @Test func linearObjectiveGradientMatchesFiniteDifferences() {
        var rng = SeededGenerator(seed: 78)
        let x = DoubleMatrix(RandomData.logits(5, 3, scale: 1, &rng))
        let w = DoubleMatrix(RandomData.logits(3, 4, scale: 1, &rng))
        let b = [0.1, -0.2, 0.3, 0]
        let targets = Targets.classIndices([0, 1, 2, 3, 1])
        let r = ReferenceLinear.objective(x: x, targets: targets, weights: w, bias: b, l2: 0.3)
        let numeric = GradientCheck.centralDifference(at: w.storage) { v in
            ReferenceLinear.objective(x: x, targets: targets, weights: DoubleMatrix(rows: 3, cols: 4, storage: v), bias: b, l2: 0.3).objective
        }
        #expect(GradientCheck.relativeError(r.weightGradient.storage, numeric) < 1e-8)
    }

    @Test func comparisonReportsTheWorstMismatchesWithTheirPosition() throws {
        let message = try #require(Comparison(atol: 1e-6, rtol: 0).mismatches([1, 2, 3.5, 4], [1, 2, 3, 4.1], cols: 2, context: "seed 9"))
        #expect(message.hasPrefix("seed 9: 2 of 4 values"))
        #expect(message.contains("[1, 0] got 3.5, expected 3.0"))
        #expect(message.contains("max error 0.5 at [1, 0]"))
        #expect(Comparison(atol: 1e-6, rtol: 0).mismatches([1, 2], [1, 2], context: "x") == nil)
        #expect(Comparison(atol: 1, rtol: 1).mismatches([.nan], [0], context: "nan") != nil)
    }
}
