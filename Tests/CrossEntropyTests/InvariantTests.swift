import Foundation
import SoftmaxCore
import Testing
import TestSupport

/// Properties that hold whatever the numbers: they catch errors the oracle comparison shares.
@Suite struct InvariantTests {
    @Test(arguments: backends)
    func lossIsNonNegativeAndGradientRowsSumToZero(_ backendCase: BackendCase) throws {
        let backend = try backendCase.make()
        for (n, c, seed) in [(50, 10, UInt64(1)), (7, 333, 2), (2, 32000, 3), (64, 3, 4)] {
            var rng = SeededGenerator(seed: seed)
            let logits = RandomData.logits(n, c, scale: 20, &rng)
            let options = CrossEntropyOptions(reduction: .none, classWeights: RandomData.weights(c, &rng), labelSmoothing: 0.2)
            let r = try backend.crossEntropy(logits: logits, targets: .classIndices(RandomData.labels(n, classes: c, &rng)), options: options)
            #expect(r.rowLosses.allSatisfy { $0 >= 0 }, "seed \(seed) \(n)x\(c): negative row loss")
            for i in 0..<n {
                let rowSum = r.gradient.row(i).reduce(0, +)
                let rowScale = r.gradient.row(i).map(abs).reduce(0, +)
                #expect(abs(rowSum) <= 1e-5 * max(rowScale, 1), "seed \(seed) \(n)x\(c): gradient row \(i) sums to \(rowSum)")
            }
        }
    }

    @Test(arguments: backends)
    func addingAConstantToARowChangesNothing(_ backendCase: BackendCase) throws {
        let backend = try backendCase.make()
        for (n, c, seed) in [(40, 10, UInt64(11)), (5, 1000, 12), (1, 32000, 13)] {
            var rng = SeededGenerator(seed: seed)
            let logits = RandomData.logits(n, c, scale: 5, &rng)
            let labels = RandomData.labels(n, classes: c, &rng)
            var shifted = logits
            for i in 0..<n {
                let shift = Float(i % 3) * 100 - 100
                for j in 0..<c { shifted[i, j] += shift }
            }
            let a = try backend.crossEntropy(logits: logits, targets: .classIndices(labels))
            let b = try backend.crossEntropy(logits: shifted, targets: .classIndices(labels))
            #expect(abs(a.loss - b.loss) <= 1e-4 * max(abs(a.loss), 1), "seed \(seed) \(n)x\(c)")
            let m = Comparison(atol: 1e-6, rtol: 1e-3).mismatches(b.gradient.storage, a.gradient.storage.map(Double.init),
                                                                   cols: c, context: "seed \(seed) \(n)x\(c) shifted gradient")
            #expect(m == nil, Comment(rawValue: m ?? ""))
        }
    }

    @Test(arguments: backends)
    func zeroLogitsGiveLogC(_ backendCase: BackendCase) throws {
        let backend = try backendCase.make()
        for c in [1, 2, 10, 1000, 128000] {
            let r = try backend.crossEntropy(logits: Matrix(rows: 2, cols: c), targets: .classIndices([0, Int32(c - 1)]))
            #expect(abs(r.loss - log(Double(c))) <= 1e-5 * max(1, log(Double(c))), "C = \(c): loss \(r.loss)")
        }
    }
}
