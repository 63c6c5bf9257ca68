import Foundation
import SoftmaxCPU
import SoftmaxCore
import SoftmaxReference
import Testing
import TestSupport

/// PyTorch's own `linear_cross_entropy` (made once by scripts/make-linear-fixture.py, float64
/// autograd): the oracle must reproduce it to rounding, the Swift backend and every OpenCL device in
/// both classifier layouts to float32 accuracy.
@Suite struct PyTorchLinearFixtureTests {
    struct Case: Decodable, Sendable, CustomStringConvertible {
        var name: String
        var hidden: [[Float]]
        /// D×V.
        var classifier: [[Float]]
        var bias: [Float]?
        var labels: [Int32]
        var reduction: String
        var ignoreIndex: Int32
        var weights: [Float]?
        var labelSmoothing: Float
        var softcap: Float?
        var zLoss: Float
        var loss: [Double]
        var hiddenGradient: [[Double]]
        var classifierGradient: [[Double]]
        var biasGradient: [Double]?

        var description: String { name }

        var options: CrossEntropyOptions {
            CrossEntropyOptions(reduction: Reduction(rawValue: reduction)!, ignoreIndex: ignoreIndex, classWeights: weights,
                                labelSmoothing: labelSmoothing, softcap: softcap, zLoss: zLoss)
        }
    }

    static let cases: [Case] = {
        struct File: Decodable { var cases: [Case] }
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/pytorch-linear-cross-entropy.json")
        guard let data = try? Data(contentsOf: url), let file = try? JSONDecoder().decode(File.self, from: data) else { return [] }
        return file.cases
    }()

    @Test func fixtureIsPresent() {
        #expect(Self.cases.count >= 15, "Fixtures/pytorch-linear-cross-entropy.json is missing or unreadable")
    }

    @Test(arguments: cases)
    func oracleMatchesPyTorch(_ c: Case) {
        let r = ReferenceLinear.linearCrossEntropy(
            hidden: DoubleMatrix(Matrix(c.hidden)), classifier: DoubleMatrix(Matrix(c.classifier)), bias: c.bias?.map(Double.init),
            targets: .classIndices(c.labels), options: c.options)
        let loss = c.reduction == "none" ? r.crossEntropy.rowLosses : [r.crossEntropy.loss]
        var failures: [String] = []
        for (name, got, want) in [("loss", loss, c.loss), ("dH", r.hiddenGradient.storage, c.hiddenGradient.flatMap { $0 }),
                                  ("dW", r.classifierGradient.storage, c.classifierGradient.flatMap { $0 }),
                                  ("db", r.biasGradient, c.biasGradient ?? r.biasGradient)] {
            let worst = zip(got, want).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
            if !(worst <= 1e-9) { failures.append("\(c.name): \(name) differs from PyTorch by \(worst) (relative)") }
        }
        #expect(failures.isEmpty, Comment(rawValue: failures.joined(separator: "\n")))
    }

    /// The Swift backend and each OpenCL device, with small tiles and blocks so a few of the cases
    /// cross block and tile edges.
    static func backends() throws -> [(name: String, backend: any ComputeBackend)] {
        let swift = SwiftBackend()
        swift.linearTiles = (rows: 6, vocab: 32)
        return [("swift", swift as any ComputeBackend)] + (try TestBackends.openCLLinear(blockRows: 6).map { ($0.description, try $0.make()) })
    }

    @Test(arguments: cases)
    func everyBackendMatchesPyTorch(_ c: Case) throws {
        var failures: [String] = []
        for (name, backend) in try Self.backends() {
            for layout in ClassifierLayout.allCases {
                let w = Matrix(c.classifier)
                let got = try backend.linearCrossEntropy(
                    hidden: Matrix(c.hidden), classifier: layout == .dv ? w : w.transposed, layout: layout, bias: c.bias,
                    targets: .classIndices(c.labels), options: c.options)
                let context = "\(name): \(c.name), classifier \(layout.rawValue)"
                let loss = c.reduction == "none" ? got.rowLosses : [Float(got.value.loss)]
                if let m = Comparison(atol: 2e-5, rtol: 2e-5).mismatches(loss, c.loss, context: "\(context): loss") { failures.append(m) }
                let dW = layout == .dv ? got.classifierGradient! : got.classifierGradient!.transposed
                for (what, actual, expected, cols) in [("dH", got.hiddenGradient!.storage, c.hiddenGradient.flatMap { $0 }, c.hidden[0].count),
                                                       ("dW", dW.storage, c.classifierGradient.flatMap { $0 }, w.cols),
                                                       ("db", got.biasGradient ?? [], c.biasGradient ?? [], w.cols)] {
                    let largest = expected.map(abs).max() ?? 0
                    if let m = Comparison(atol: 1e-5 * max(largest, 1e-6), rtol: 1e-4).mismatches(actual, expected, cols: cols, context: "\(context): \(what)") {
                        failures.append(m)
                    }
                }
            }
        }
        #expect(failures.isEmpty, Comment(rawValue: failures.joined(separator: "\n")))
    }
}
