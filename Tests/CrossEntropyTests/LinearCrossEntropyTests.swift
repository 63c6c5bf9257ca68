import SoftmaxCPU
import SoftmaxCore
import Testing
import TestSupport

/// The fused linear cross-entropy against the float64 oracle (logits formed in float64), on the
/// Swift backend and every OpenCL device: tile and block edges in rows and vocabulary, D = 1, N = 1, V = 1, V smaller than a tile, logits near ±1e4,
/// equal logits, every option and every pair of options, all rows ignored, bad input.
@Suite struct LinearCrossEntropyTests {
    struct Case: Sendable, CustomStringConvertible {
        var n: Int, d: Int, v: Int
        /// nil: the automatic tiles.
        var tiles: (rows: Int, vocab: Int)?
        var description: String { "\(n)x\(d)x\(v)" + (tiles.map { " tiles \($0.rows)x\($0.vocab)" } ?? "") }
    }

    static let shapes: [Case] = [
        Case(n: 1, d: 1, v: 1, tiles: nil),
        Case(n: 1, d: 5, v: 7, tiles: nil),
        Case(n: 7, d: 1, v: 300, tiles: (6, 64)),
        // V not a multiple of the tile, rows not a multiple of the block, D not one of 16.
        Case(n: 13, d: 17, v: 33, tiles: (6, 16)),
        Case(n: 40, d: 24, v: 1000, tiles: (12, 96)),
        // V smaller than one tile; one row block.
        Case(n: 50, d: 48, v: 200, tiles: nil),
        // Tiles wider than the GEMM's kc (two panels of K in ∂H), D above the packed panel width.
        Case(n: 9, d: 70, v: 2100, tiles: (6, 512)),
        Case(n: 20, d: 300, v: 129, tiles: (7, 40)),
    ]

    static func swiftBackend(_ c: Case) -> SwiftBackend {
        let b = SwiftBackend()
        b.linearTiles = c.tiles
        return b
    }

    /// The Swift backend with the case's tiles, and each OpenCL device in blocks of the case's rows.
    static func backends(_ c: Case) throws -> [(name: String, backend: any ComputeBackend)] {
        [("swift", swiftBackend(c) as any ComputeBackend)] + (try TestBackends.openCLLinear(blockRows: c.tiles?.rows).map { ($0.description, try $0.make()) })
    }

    /// `Conformance.linearCrossEntropy` on every backend of the case, each failure named by its backend.
    static func conformance(_ c: Case, hidden: Matrix, classifier: Matrix, layout: ClassifierLayout = .dv, bias: [Float]?, labels: [Int32],
                            options: CrossEntropyOptions = .init(), context: String) throws -> [String] {
        try backends(c).flatMap { name, backend in
            try Conformance.linearCrossEntropy(backend, hidden: hidden, classifier: classifier, layout: layout, bias: bias, labels: labels,
                                               options: options, context: "\(name): \(context)")
        }
    }

    @Test func openCLIsPresentWhereRequired() {
        #expect(!TestBackends.openCLRequired || !TestBackends.openCLDevices.isEmpty, "CI=true but no OpenCL device: the OpenCL cases would not run")
    }

    static func inputs(_ c: Case, seed: UInt64, logitScale: Float = 3, biasScale: Float = 1)
        -> (h: Matrix, w: Matrix, bias: [Float], labels: [Int32]) {
        var rng = SeededGenerator(seed: seed)
        // |f| ≈ logitScale whatever D: H and W entries of 1/√D each side.
        let s = (logitScale / Float(c.d).squareRoot()).squareRoot()
        let h = RandomData.logits(c.n, c.d, scale: s * 1.7, &rng)
        let w = RandomData.logits(c.d, c.v, scale: s * 1.7, &rng)
        let bias = (0..<c.v).map { _ in Float.random(in: -biasScale...biasScale, using: &rng) }
        return (h, w, bias, RandomData.labels(c.n, classes: c.v, &rng))
    }

    @Test(arguments: shapes)
    func matchesTheOracleWithAndWithoutBias(_ c: Case) throws {
        let seed = UInt64(c.n * 1_000_003 + c.d * 1009 + c.v)
        let x = Self.inputs(c, seed: seed)
        var failures: [String] = []
        for layout in ClassifierLayout.allCases {
            failures += try Self.conformance(c, hidden: x.h, classifier: x.w, layout: layout, bias: x.bias,
                                                           labels: x.labels, context: "seed \(seed) \(c)")
            failures += try Self.conformance(c, hidden: x.h, classifier: x.w, layout: layout, bias: nil,
                                                           labels: x.labels, context: "seed \(seed) \(c) no bias")
        }
        #expect(failures.isEmpty, Comment(rawValue: failures.prefix(6).joined(separator: "\n")))
    }

    @Test func logitsNearTenThousandAndEqualLogits() throws {
        let c = Case(n: 14, d: 8, v: 150, tiles: (6, 48))
        var failures: [String] = []
        // A bias of ±1e4 puts every logit near ±1e4; the products add a little spread.
        let big = Self.inputs(c, seed: 91, logitScale: 2, biasScale: 1e4)
        failures += try Self.conformance(c, hidden: big.h, classifier: big.w, bias: big.bias, labels: big.labels,
                                                       context: "seed 91 logits near ±1e4")
        // W = 0 and no bias: every logit is 0, p = 1/V.
        let zero = Matrix(rows: c.d, cols: c.v)
        failures += try Self.conformance(c, hidden: big.h, classifier: zero, bias: nil, labels: big.labels,
                                                       context: "equal logits")
        #expect(failures.isEmpty, Comment(rawValue: failures.prefix(6).joined(separator: "\n")))
    }

    /// The options of `OptionPairTests` but probability targets, alone and in pairs, and all together.
    static let options: [(String, @Sendable (inout CrossEntropyOptions, Int, inout SeededGenerator) -> Void)] = [
        ("reduction none", { o, _, _ in o.reduction = .none }),
        ("reduction sum", { o, _, _ in o.reduction = .sum }),
        ("ignore_index 3", { o, _, _ in o.ignoreIndex = 3 }),
        ("class weights", { o, v, rng in o.classWeights = RandomData.weights(v, &rng) }),
        ("label smoothing 0.1", { o, _, _ in o.labelSmoothing = 0.1 }),
        ("softcap 4", { o, _, _ in o.softcap = 4 }),
        ("z-loss 0.02", { o, _, _ in o.zLoss = 0.02 }),
    ]

    @Test func everyPairOfOptionsMatchesTheOracle() throws {
        let all = Self.options
        var combinations: [[Int]] = all.indices.map { [$0] }
        for a in all.indices { for b in (a + 1)..<all.count { combinations.append([a, b]) } }
        combinations.append(Array(all.indices.filter { all[$0].0 != "reduction sum" }))
        var failures: [String] = []
        for (index, combination) in combinations.enumerated() {
            let name = combination.map { all[$0].0 }.joined(separator: " + ")
            for (shapeIndex, c) in [Case(n: 11, d: 9, v: 70, tiles: (6, 32)), Case(n: 5, d: 20, v: 300, tiles: nil)].enumerated() {
                let seed = UInt64(combination.reduce(17) { $0 * 31 + $1 + 1 } * 1009 + c.n * 7 + c.v)
                var rng = SeededGenerator(seed: seed)
                var options = CrossEntropyOptions()
                for k in combination { all[k].1(&options, c.v, &rng) }
                var x = Self.inputs(c, seed: seed, logitScale: 6)
                if combination.contains(where: { all[$0].0.hasPrefix("ignore") }) {
                    x.labels = x.labels.enumerated().map { $0.offset % 3 == 0 ? options.ignoreIndex : $0.element }
                }
                // The layouts alternate, so each option meets both.
                failures += try Self.conformance(c, hidden: x.h, classifier: x.w,
                                                               layout: (index + shapeIndex) % 2 == 0 ? .dv : .vd,
                                                               bias: x.bias, labels: x.labels, options: options, context: "[\(name)] seed \(seed) \(c)")
            }
        }
        #expect(failures.isEmpty, Comment(rawValue: failures.prefix(6).joined(separator: "\n")))
    }

    @Test func allRowsIgnoredGiveANaNMeanAndZeroGradients() throws {
        let c = Case(n: 8, d: 5, v: 40, tiles: (6, 16))
        let x = Self.inputs(c, seed: 5)
        let labels = [Int32](repeating: -100, count: c.n)
        for (name, backend) in try Self.backends(c) {
            let got = try backend.linearCrossEntropy(hidden: x.h, classifier: x.w, bias: x.bias, targets: .classIndices(labels))
            #expect(got.value.loss.isNaN, "\(name)")
            #expect(got.value.counted == 0, "\(name)")
            #expect(got.hiddenGradient?.storage.allSatisfy { $0 == 0 } == true, "\(name)")
            #expect(got.classifierGradient?.storage.allSatisfy { $0 == 0 } == true, "\(name)")
            #expect(got.biasGradient?.allSatisfy { $0 == 0 } == true, "\(name)")
        }
        let failures = try Self.conformance(c, hidden: x.h, classifier: x.w, bias: x.bias, labels: labels,
                                            options: .init(reduction: .sum), context: "all ignored, sum")
        #expect(failures.isEmpty, Comment(rawValue: failures.joined(separator: "\n")))
    }

    @Test func theLossAloneNeedsNoGradientsAndAgrees() throws {
        let c = Case(n: 10, d: 12, v: 90, tiles: (6, 32))
        let x = Self.inputs(c, seed: 77)
        let options = CrossEntropyOptions(labelSmoothing: 0.2, softcap: 5)
        for (name, backend) in try Self.backends(c) {
            let both = try backend.linearCrossEntropy(hidden: x.h, classifier: x.w, bias: x.bias, targets: .classIndices(x.labels), options: options)
            let lossOnly = try backend.linearCrossEntropy(hidden: x.h, classifier: x.w, bias: x.bias, targets: .classIndices(x.labels),
                                                          options: options, gradients: false)
            #expect(lossOnly.hiddenGradient == nil && lossOnly.classifierGradient == nil, "\(name)")
            #expect(abs(lossOnly.value.loss - both.value.loss) <= 1e-6 * abs(both.value.loss), "\(name)")
            #expect(lossOnly.logSumExp == both.logSumExp, "\(name)")
            #expect(zip(lossOnly.rowLosses, both.rowLosses).allSatisfy { abs($0 - $1) <= 1e-5 * Swift.max(1, abs($1)) }, "\(name)")
        }
    }

    @Test func badInputIsOneSentence() throws {
        let h = Matrix(rows: 8, cols: 4, repeating: 0.5), w = Matrix(rows: 4, cols: 6, repeating: 0.1)
        let labels: [Int32] = [0, 1, 2, 3, 4, 5, 0, 1]
        func message(_ body: () throws -> Void) -> String {
            do { try body(); return "no error" } catch { return "\(error)" }
        }
        // Blocks of 3 rows, so the rows at fault are in a later block than the first.
        for (name, backend) in try Self.backends(Case(n: 8, d: 4, v: 6, tiles: (3, 4))) {
            #expect(message {
                _ = try backend.linearCrossEntropy(hidden: h, classifier: Matrix(rows: 5, cols: 6), bias: nil, targets: .classIndices(labels))
            } == "classifier: expected 4 rows (one per hidden feature, D×V), got 5x6", "\(name)")
            #expect(message {
                _ = try backend.linearCrossEntropy(hidden: h, classifier: w, layout: .vd, bias: nil, targets: .classIndices(labels))
            } == "classifier: expected 4 columns (one per hidden feature, V×D), got 4x6", "\(name)")
            var badLabels = labels
            badLabels[7] = 6
            badLabels[4] = -3
            #expect(message {
                _ = try backend.linearCrossEntropy(hidden: h, classifier: w, bias: nil, targets: .classIndices(badLabels))
            } == "labels row 4: label -3 is outside 0..<6 (and is not the ignore index -100)", "\(name)")
            #expect(message {
                _ = try backend.linearCrossEntropy(hidden: h, classifier: w, bias: [1, 2], targets: .classIndices(labels))
            } == "bias: expected 1x6, got 1x2", "\(name)")
            #expect(message {
                _ = try backend.linearCrossEntropy(hidden: h, classifier: w, bias: nil, targets: .probabilities(Matrix(rows: 8, cols: 6)))
            }.hasPrefix("the fused linear cross-entropy takes class-index targets only"), "\(name)")
            var bad = h
            bad[5, 1] = .nan
            #expect(message {
                _ = try backend.linearCrossEntropy(hidden: bad, classifier: w, bias: nil, targets: .classIndices(labels))
            } == "hidden states row 5, column 1 is nan; inputs must be finite numbers", "\(name)")
            var badW = w
            badW[3, 2] = .infinity
            #expect(message {
                _ = try backend.linearCrossEntropy(hidden: h, classifier: badW, bias: nil, targets: .classIndices(labels))
            } == "classifier row 3, column 2 is inf; inputs must be finite numbers", "\(name)")
            #expect(message {
                _ = try backend.linearCrossEntropy(hidden: h, classifier: w, bias: [0, 0, 0, 0, -.infinity, 0], targets: .classIndices(labels))
            } == "bias row 0, column 4 is -inf; inputs must be finite numbers", "\(name)")
            // Finite inputs whose products overflow float32 from row 6 on.
            var huge = h
            for k in 0..<4 { huge[6, k] = 3e37; huge[7, k] = 3e37 }
            #expect(message {
                _ = try backend.linearCrossEntropy(hidden: huge, classifier: Matrix(rows: 4, cols: 6, repeating: 10), bias: nil,
                                                   targets: .classIndices(labels))
            } == "the logits of row 6 overflow float32 (H·W + b is beyond ±3.4e38)", "\(name)")
        }
    }

    /// Cut Cross-Entropy's gradient filter on every backend: ε = 0 is exact; ε > 0 changes no loss,
    /// lse or prediction and moves each gradient value by at most what the left-out entries bound
    /// (ε·scale·Σ|other operand|); an ε above every entry leaves every tile out.
    @Test func theGradientFilterLeavesOutOnlyTilesBelowEpsilon() throws {
        let c = Case(n: 30, d: 7, v: 700, tiles: (6, 32))
        let x = Self.inputs(c, seed: 41, logitScale: 6)
        let scale = 1 / Float(c.n)
        for (name, backend) in try Self.backends(c) {
            let exact = try backend.linearCrossEntropy(hidden: x.h, classifier: x.w, bias: x.bias, targets: .classIndices(x.labels))
            let zero = try backend.linearCrossEntropy(hidden: x.h, classifier: x.w, bias: x.bias, targets: .classIndices(x.labels), filterEpsilon: 0)
            #expect(zero.hiddenGradient == exact.hiddenGradient && zero.classifierGradient == exact.classifierGradient
                    && zero.biasGradient == exact.biasGradient, "\(name)")
            for eps: Float in [1e-3, 0.05] {
                let got = try backend.linearCrossEntropy(hidden: x.h, classifier: x.w, bias: x.bias, targets: .classIndices(x.labels), filterEpsilon: eps)
                #expect(got.value.loss == exact.value.loss && got.logSumExp == exact.logSumExp && got.predictions == exact.predictions, "\(name) ε \(eps)")
                var changed = 0, worst: [String] = []
                for i in 0..<c.n {
                    for k in 0..<c.d {
                        let bound = eps * scale * (0..<c.v).reduce(Float(0)) { $0 + abs(x.w[k, $1]) } * 1.001 + 1e-7
                        let diff = abs(got.hiddenGradient![i, k] - exact.hiddenGradient![i, k])
                        if diff > bound { worst.append("dH[\(i), \(k)] moved by \(diff), bound \(bound)") }
                        if diff > 0 { changed += 1 }
                    }
                }
                for k in 0..<c.d {
                    let bound = eps * scale * (0..<c.n).reduce(Float(0)) { $0 + abs(x.h[$1, k]) } * 1.001 + 1e-7
                    for j in 0..<c.v where abs(got.classifierGradient![k, j] - exact.classifierGradient![k, j]) > bound {
                        worst.append("dW[\(k), \(j)] moved by \(abs(got.classifierGradient![k, j] - exact.classifierGradient![k, j])), bound \(bound)")
                    }
                }
                for j in 0..<c.v where abs(got.biasGradient![j] - exact.biasGradient![j]) > eps * 1.001 { worst.append("db[\(j)]") }
                #expect(worst.isEmpty, "\(name) ε \(eps): \(worst.prefix(4))")
                // At the larger ε something was left out: the filter did run.
                if eps > 0.01 { #expect(changed > 0, "\(name): ε \(eps) left no tile out") }
            }
            // The V×D layout leaves out the same tiles: its filtered gradients are the D×V layout's.
            let dv = try backend.linearCrossEntropy(hidden: x.h, classifier: x.w, bias: x.bias, targets: .classIndices(x.labels), filterEpsilon: 0.05)
            let vd = try backend.linearCrossEntropy(hidden: x.h, classifier: x.w.transposed, layout: .vd, bias: x.bias, targets: .classIndices(x.labels),
                                                    filterEpsilon: 0.05)
            for (what, a, b) in [("dH", dv.hiddenGradient!.storage, vd.hiddenGradient!.storage),
                                 ("dW", dv.classifierGradient!.storage, vd.classifierGradient!.transposed.storage),
                                 ("db", dv.biasGradient!, vd.biasGradient!)] {
                let largest = a.map(abs).max() ?? 0
                #expect(zip(a, b).allSatisfy { abs($0 - $1) <= 1e-5 * largest + 1e-9 }, "\(name): \(what) differs between the layouts with the filter")
            }
            // Every entry is below 2 (|p − onehot| ≤ 1 before the mean's scale): every tile left out.
            let all = try backend.linearCrossEntropy(hidden: x.h, classifier: x.w, bias: x.bias, targets: .classIndices(x.labels), filterEpsilon: 2)
            #expect(all.hiddenGradient!.storage.allSatisfy { $0 == 0 } && all.classifierGradient!.storage.allSatisfy { $0 == 0 }, "\(name)")
            #expect(all.biasGradient!.allSatisfy { $0 == 0 } && all.value.loss == exact.value.loss, "\(name)")
            #expect(throws: SoftmaxError.self, "\(name)") {
                _ = try backend.linearCrossEntropy(hidden: x.h, classifier: x.w, bias: x.bias, targets: .classIndices(x.labels), filterEpsilon: -1)
            }
        }
    }

    @Test func theWorkspaceIsABlockNotTheBatch() {
        // CCE's shape: the logits would be 8.4 GB; the workspace stays within 64 MiB.
        let backend = SwiftBackend()
        let cce = backend.linearCrossEntropyWorkspaceBytes(rows: 8192, features: 2304, vocabulary: 256_000)
        #expect(cce <= 64 << 20, "\(cce) bytes")
        // The CPU shape: at most 2% of the 262 MB of logits.
        let small = backend.linearCrossEntropyWorkspaceBytes(rows: 2048, features: 1024, vocabulary: 32000)
        #expect(Double(small) <= 0.02 * 2048 * 32000 * 4, "\(small) bytes")
    }
}
