import Foundation
import SoftmaxCore
import SoftmaxReference
import Testing
import TestSupport

/// PyTorch's own outputs of `cross_entropy` (made once by scripts/make-pytorch-fixture.py): the
/// oracle and every backend must reproduce them, so "PyTorch semantics" is checked, not assumed.
@Suite struct PyTorchFixtureTests {
    struct Case: Decodable, Sendable, CustomStringConvertible {
        var name: String
        var logits: [[Float]]
        var labels: [Int32]?
        var probabilities: [[Float]]?
        var reduction: String
        var ignoreIndex: Int32
        var weights: [Float]?
        var labelSmoothing: Float
        var softcap: Float?
        var zLoss: Float?
        var loss: [Double]
        /// The z part (per row for none), the argmax of each row, and the accuracy over counted rows
        /// (nil when none count).
        var zPart: [Double]?
        var gradient: [[Double]]
        var predictions: [Int32]?
        var accuracy: Double?

        var description: String { name }

        var targets: Targets {
            if let labels { return .classIndices(labels) }
            return .probabilities(Matrix(probabilities!))
        }

        var options: CrossEntropyOptions {
            CrossEntropyOptions(reduction: Reduction(rawValue: reduction)!, ignoreIndex: ignoreIndex,
                                classWeights: weights, labelSmoothing: labelSmoothing, softcap: softcap, zLoss: zLoss ?? 0)
        }
    }

    static let cases: [Case] = {
        struct File: Decodable { var cases: [Case] }
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/pytorch-cross-entropy.json")
        guard let data = try? Data(contentsOf: url), let file = try? JSONDecoder().decode(File.self, from: data) else { return [] }
        return file.cases
    }()

    @Test func fixtureIsPresent() {
        #expect(Self.cases.count >= 20, "Fixtures/pytorch-cross-entropy.json is missing or unreadable")
        #expect(Self.cases.filter { $0.softcap != nil && ($0.zLoss ?? 0) > 0 }.count >= 6, "the fixture has no softcap + z-loss cases")
    }

    @Test(arguments: cases)
    func oracleMatchesPyTorch(_ c: Case) {
        let r = ReferenceCrossEntropy.evaluate(logits: DoubleMatrix(Matrix(c.logits)), targets: c.targets, options: c.options)
        let loss = c.reduction == "none" ? r.rowLosses : [r.loss]
        for (got, want) in zip(loss, c.loss) {
            #expect(got.isNaN && want.isNaN || abs(got - want) <= 1e-9 * max(1, abs(want)), "\(c.name): loss \(got) vs PyTorch \(want)")
        }
        let g = r.gradient.storage, want = c.gradient.flatMap { $0 }
        let worst = GradientCheck.maxAbsoluteError(g, want)
        #expect(worst.error <= 1e-12, "\(c.name): gradient differs from PyTorch by \(worst.error) at \(worst.index)")
        if let zPart = c.zPart {
            // For none the z part is per row; the oracle reports its sum.
            let want = c.reduction == "none" ? zPart.reduce(0, +) : zPart[0]
            #expect(r.zLoss.isNaN && want.isNaN || abs(r.zLoss - want) <= 1e-9 * max(1, abs(want)), "\(c.name): z part \(r.zLoss) vs \(want)")
        }
        if let predictions = c.predictions { #expect(r.predictions == predictions, "\(c.name): predictions") }
        let accuracy = r.counted > 0 ? Double(r.correct) / Double(r.counted) : nil
        #expect(accuracy == c.accuracy, "\(c.name): accuracy \(String(describing: accuracy)) vs \(String(describing: c.accuracy))")
    }

    @Test(arguments: backends, cases)
    func backendMatchesPyTorch(_ backendCase: BackendCase, _ c: Case) throws {
        let backend = try backendCase.make()
        let r = try backend.crossEntropy(logits: Matrix(c.logits), targets: c.targets, options: c.options)
        let loss = c.reduction == "none" ? r.rowLosses : [Float(r.loss)]
        let context = "\(backendCase), PyTorch case '\(c.name)'"
        let lossMismatch = Conformance.lossTolerance.mismatches(loss, c.loss, context: "\(context): loss")
        #expect(lossMismatch == nil, Comment(rawValue: lossMismatch ?? ""))
        let want = c.gradient.flatMap { $0 }
        let scale = max(want.map(abs).max() ?? 0, 1e-3)
        let gradientMismatch = Comparison(atol: 2e-6 * scale, rtol: 1e-4)
            .mismatches(r.gradient.storage, want, cols: c.logits[0].count, context: "\(context): gradient")
        #expect(gradientMismatch == nil, Comment(rawValue: gradientMismatch ?? ""))
        if let zPart = c.zPart {
            let want = c.reduction == "none" ? zPart.reduce(0, +) : zPart[0]
            let m = Conformance.lossTolerance.mismatches([Float(r.zLoss)], [want], context: "\(context): z part")
            #expect(m == nil, Comment(rawValue: m ?? ""))
        }
        if let predictions = c.predictions { #expect(r.predictions == predictions, "\(context): predictions") }
        if let accuracy = c.accuracy { #expect(r.accuracy == accuracy, "\(context): accuracy \(r.accuracy) vs \(accuracy)") }
    }
}
