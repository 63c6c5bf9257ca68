import SoftmaxCore
import SoftmaxReference
import Testing
import TestSupport

/// Bad input is an error that names what is wrong and where, never a number.
@Suite struct BadInputTests {
    @Test(arguments: backends, [(1, 1, 0), (20, 10, 2), (40, 10, 39), (21, 10, 203), (3, 1000, 999), (1, 40000, 12345)])
    func nonFiniteLogitsAreReportedWithTheirPosition(_ backendCase: BackendCase, shape: (Int, Int, Int)) throws {
        let backend = try backendCase.make()
        let (n, c, position) = shape
        for bad in [Float.nan, .infinity, -.infinity] {
            var rng = SeededGenerator(seed: 41)
            var logits = RandomData.logits(n, c, scale: 1, &rng)
            logits.storage[position] = bad
            let error = #expect(throws: SoftmaxError.self) {
                _ = try backend.crossEntropy(logits: logits, targets: .classIndices(RandomData.labels(n, classes: c, &rng)))
            }
            guard case let .nonFinite(source, row, column, value) = error else {
                Issue.record("\(n)x\(c), \(bad) at \(position): expected a non-finite error, got \(String(describing: error))")
                continue
            }
            #expect(source == "logits" && row == position / c && column == position % c, "\(n)x\(c), \(bad) at \(position)")
            #expect(value.isNaN == bad.isNaN && (bad.isNaN || value == bad))
        }
    }

    @Test(arguments: backends)
    func labelsAndOptionsAreChecked(_ backendCase: BackendCase) throws {
        let backend = try backendCase.make()
        let logits = Matrix(rows: 3, cols: 4)
        #expect(throws: SoftmaxError.labelOutOfRange(source: "labels", location: "row 1", label: 4, classes: 4, ignoreIndex: -100)) {
            _ = try backend.crossEntropy(logits: logits, targets: .classIndices([0, 4, 1]))
        }
        #expect(throws: SoftmaxError.labelOutOfRange(source: "labels", location: "row 2", label: -1, classes: 4, ignoreIndex: -100)) {
            _ = try backend.crossEntropy(logits: logits, targets: .classIndices([0, 3, -1]))
        }
        // Eight rows at a time (OpenCL's lanes variant, its last block overlapping the one before):
        // the first bad row of two, with class weights too (the mean's divisor never reads w[y]
        // for a label out of range).
        var labels = [Int32](repeating: 1, count: 21)
        labels[19] = 7
        labels[9] = -3
        for weights in [nil, [Float](repeating: 0.5, count: 4)] {
            #expect(throws: SoftmaxError.labelOutOfRange(source: "labels", location: "row 9", label: -3, classes: 4, ignoreIndex: -100)) {
                _ = try backend.crossEntropy(logits: Matrix(rows: 21, cols: 4), targets: .classIndices(labels), options: .init(classWeights: weights))
            }
        }
        #expect(throws: SoftmaxError.shapeMismatch(what: "labels", expected: "3 labels (one per logits row)", got: "2")) {
            _ = try backend.crossEntropy(logits: logits, targets: .classIndices([0, 1]))
        }
        #expect(throws: SoftmaxError.shapeMismatch(what: "class weights", expected: "4 values (one per class)", got: "3")) {
            _ = try backend.crossEntropy(logits: logits, targets: .classIndices([0, 1, 2]), options: .init(classWeights: [1, 1, 1]))
        }
        for smoothing: Float in [1, -0.1, .nan] {
            #expect(throws: SoftmaxError.self) {
                _ = try backend.crossEntropy(logits: logits, targets: .classIndices([0, 1, 2]), options: .init(labelSmoothing: smoothing))
            }
        }
        #expect(throws: SoftmaxError.empty(what: "logits (0x4)")) {
            _ = try backend.crossEntropy(logits: Matrix(rows: 0, cols: 4), targets: .classIndices([]))
        }
    }

    @Test(arguments: backends)
    func nonFiniteProbabilityTargetsAreReportedWithTheirPosition(_ backendCase: BackendCase) throws {
        let backend = try backendCase.make()
        var rng = SeededGenerator(seed: 42)
        let logits = RandomData.logits(6, 300, scale: 1, &rng)
        var q = RandomData.probabilities(6, 300, &rng)
        q[4, 123] = .infinity
        // Through the buffer API, where nothing but the backend looks at the values.
        func call<B: ComputeBackend>(_ b: B) throws {
            _ = try b.crossEntropy(logits: try b.makeBuffer(logits), targets: .probabilities(try b.makeBuffer(q)),
                                   options: CrossEntropyOptions(), outputs: CrossEntropyOutputs())
        }
        let error = #expect(throws: SoftmaxError.self) { try call(backend) }
        #expect(error == .nonFinite(source: "probability targets", row: 4, column: 123, value: .infinity), "\(String(describing: error))")
    }

    /// The backends' own checks, reached through the buffer API as a training loop reaches them:
    /// labels out of range, an ignore index outside the classes (its rows are ignored, any other
    /// label out of range is still an error), non-finite logits.
    @Test(arguments: backends)
    func theBackendsOwnChecksHoldThroughTheBufferAPI(_ backendCase: BackendCase) throws {
        let backend = try backendCase.make()
        var rng = SeededGenerator(seed: 43)
        let logits = RandomData.logits(5, 4, scale: 1, &rng)
        func call<B: ComputeBackend>(_ b: B, _ f: Matrix, _ labels: [Int32], _ options: CrossEntropyOptions = .init()) throws -> (Double, Matrix) {
            let g = try b.makeBuffer(rows: f.rows, cols: f.cols)
            let loss = try b.crossEntropy(logits: try b.makeBuffer(f), targets: .classIndices(try b.makeIndexBuffer(labels)),
                                          options: options, outputs: CrossEntropyOutputs(gradient: g)).loss
            return (loss, try b.download(g))
        }
        #expect(throws: SoftmaxError.labelOutOfRange(source: "labels", location: "row 3", label: 4, classes: 4, ignoreIndex: -100)) {
            _ = try call(backend, logits, [0, 1, 2, 4, 3])
        }
        #expect(throws: SoftmaxError.labelOutOfRange(source: "labels", location: "row 0", label: -1, classes: 4, ignoreIndex: -100)) {
            _ = try call(backend, logits, [-1, 1, 2, 3, 3])
        }
        let ignoring7 = CrossEntropyOptions(reduction: .sum, ignoreIndex: 7)
        let (loss, gradient) = try call(backend, logits, [7, 1, 7, 3, 0], ignoring7)
        let want = ReferenceCrossEntropy.evaluate(logits: DoubleMatrix(logits), targets: .classIndices([7, 1, 7, 3, 0]), options: ignoring7)
        #expect(abs(loss - want.loss) <= 1e-5 * max(1, abs(want.loss)), "\(backendCase): \(loss) vs \(want.loss)")
        #expect(gradient.row(0).allSatisfy { $0 == 0 } && gradient.row(2).allSatisfy { $0 == 0 }, "ignored rows get a zero gradient")
        #expect(throws: SoftmaxError.labelOutOfRange(source: "labels", location: "row 1", label: 5, classes: 4, ignoreIndex: 7)) {
            _ = try call(backend, logits, [7, 5, 7, 3, 0], ignoring7)
        }
        for bad in [Float.nan, .infinity, -.infinity] {
            var f = logits
            f[2, 3] = bad
            let error = #expect(throws: SoftmaxError.self) { _ = try call(backend, f, [0, 1, 2, 3, 0]) }
            guard case let .nonFinite(source, row, column, _) = error, source == "logits", row == 2, column == 3 else {
                Issue.record("\(backendCase), \(bad): \(String(describing: error))")
                continue
            }
        }
    }
}
