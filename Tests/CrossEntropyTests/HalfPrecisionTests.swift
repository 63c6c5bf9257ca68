import SoftmaxCore
import SoftmaxCPU
import SoftmaxReference
import Testing
import TestSupport

/// Logits and gradient stored as float16 or bfloat16: computed in float32, each gradient entry
/// within one unit in the last place of its type of the float64 result computed from the same
/// 16-bit inputs (rounded once, with the label's p − 1 formed before rounding: a confident row's
/// p_y − 1 of −1e-4 would be 0 if p_y were rounded first), plus the float32 arithmetic's own
/// absolute error, the float32 conformance tolerance (entries of 1e-10 that are differences of
/// terms of 1e-5, smoothing's a·e_j − b·w_j, carry it whatever the storage).
@Suite struct HalfPrecisionTests {
    static let shapes: [(rows: Int, cols: Int)] = [(37, 7), (20, 16), (45, 64), (9, 300), (3, 1000), (2, 40000), (5, 1), (70, 100)]

    static let optionSets: [(String, CrossEntropyOptions, Bool)] = [
        ("plain mean", CrossEntropyOptions(), false),
        ("sum, weights, smoothing, ignore 3", CrossEntropyOptions(reduction: .sum, ignoreIndex: 3, labelSmoothing: 0.1), false),
        ("none, softcap 8, z-loss 0.01", CrossEntropyOptions(reduction: .none, softcap: 8, zLoss: 0.01), false),
        ("probability targets, smoothing", CrossEntropyOptions(labelSmoothing: 0.05), true),
    ]

    /// One unit in the last place of `type` at the magnitude of x (its subnormal spacing near 0).
    static func ulp(_ x: Double, _ type: ElementType) -> Double {
        switch type {
        case .f32: return Double(Float(x).ulp)
        case .f16: return Double(Float16(Float(abs(x))).ulp)
        case .bf16:
            let r = abs(type.rounded(Float(x)))
            guard r >= Float.leastNormalMagnitude else { return Double(Float.leastNormalMagnitude) / 128 }
            return Double(Float(sign: .plus, exponent: r.exponent - 7, significand: 1))
        }
    }

    @Test(arguments: TestBackends.bothVariantsOnce, [ElementType.f16, .bf16])
    func gradientIsTheRoundedOracle(_ backendCase: BackendCase, _ type: ElementType) throws {
        let failures = try Self.roundedOracleFailures(try backendCase.make(), type, "\(backendCase)")
        #expect(failures.isEmpty, Comment(rawValue: failures.prefix(6).joined(separator: "\n")))
    }

    static func roundedOracleFailures(_ backend: some ComputeBackend, _ type: ElementType, _ backendName: String) throws -> [String] {
        var failures: [String] = []
        for (name, base, probabilities) in Self.optionSets {
            for (n, c) in Self.shapes {
                let seed = UInt64(n * 7919 + c) ^ UInt64(name.count)
                var rng = SeededGenerator(seed: seed)
                var options = base
                if name.contains("weights") { options.classWeights = RandomData.weights(c, &rng) }
                let raw = RandomData.logits(n, c, scale: 12, &rng)
                // The inputs as the 16-bit buffer holds them.
                let logits = Matrix(rows: n, cols: c, storage: raw.storage.map { type.rounded($0) })
                let targets: Targets = probabilities
                    ? .probabilities(RandomData.probabilities(n, c, &rng))
                    : .classIndices(RandomData.labels(n, classes: c, ignoredFraction: options.ignoreIndex == 3 ? 0.2 : 0,
                                                      ignoreIndex: options.ignoreIndex, &rng))
                let want = ReferenceCrossEntropy.evaluate(logits: DoubleMatrix(logits), targets: targets, options: options)
                let context = "\(backendName) \(type) [\(name)] seed \(seed), \(n)x\(c)"
                let f = try backend.makeBuffer(rows: n, cols: c, elementType: type)
                try backend.upload(raw, to: f)
                if try backend.download(f).storage != logits.storage { failures.append("\(context): upload does not round to nearest, ties to even") }
                let g = try backend.makeBuffer(rows: n, cols: c, elementType: type)
                let rowLoss = try backend.makeBuffer(rows: n, cols: 1)
                let value = try backend.crossEntropy(logits: f, targets: try backend.makeTargets(targets), options: options,
                                                     outputs: CrossEntropyOutputs(gradient: g, rowLosses: rowLoss))
                if let m = Conformance.lossTolerance.mismatches([Float(value.loss)], [want.loss], context: "\(context): loss") { failures.append(m) }
                if let m = Conformance.lossTolerance.mismatches(try backend.download(rowLoss).storage, want.rowLosses, context: "\(context): row losses") {
                    failures.append(m)
                }
                let got = try backend.download(g).storage
                let largest = want.gradient.storage.map(abs).max() ?? 0
                let float32Error = 2e-6 * max(largest, c == 1 ? 0.1 : 1e-3)
                var bad: [String] = []
                for (i, (a, e)) in zip(got, want.gradient.storage).enumerated() where abs(Double(a) - e) > Self.ulp(e, type) + float32Error {
                    if bad.count < 5 { bad.append("[\(i / c), \(i % c)] got \(a), exact \(e), \(type) ulp \(Self.ulp(e, type))") }
                }
                if !bad.isEmpty { failures.append("\(context): gradient beyond one \(type) ulp:\n  " + bad.joined(separator: "\n  ")) }
            }
        }
        return failures
    }

    /// float16 logits are widened exactly, subnormals included (OpenCL reads them as bits and
    /// widens them itself): in rows of 37 (two 16-wide vectors and a tail) filled with −65504, each
    /// pair of neighbours from an ascending list of float16 values is placed both ways round, in a
    /// vector's lanes, and the predicted class must be the larger one's (a subnormal flushed to 0,
    /// or any value widened wrong, ties or reverses a pair).
    @Test(arguments: TestBackends.bothVariantsOnce)
    func float16LogitsAreWidenedExactly(_ backendCase: BackendCase) throws {
        let wrong = try Self.widenedWrong(try backendCase.make())
        #expect(wrong.isEmpty, Comment(rawValue: "\(backendCase): " + wrong.prefix(6).joined(separator: "; ")))
    }

    static func widenedWrong(_ backend: some ComputeBackend) throws -> [String] {
        let tiny = Float(Float16.leastNonzeroMagnitude), normal = Float(Float16.leastNormalMagnitude)
        let ascending: [Float] = [-normal, -1023 * tiny, -tiny, 0, tiny, 2 * tiny, 3 * tiny, 512 * tiny, 1023 * tiny, normal,
                                  1, 65504]
        let (c, low, high) = (37, 3, 20)
        var rows: [[Float]] = [], want: [Int32] = []
        for (a, b) in zip(ascending, ascending.dropFirst()) {
            for (x, y, larger) in [(a, b, high), (b, a, low)] {
                var row = [Float](repeating: -65504, count: c)
                row[low] = x
                row[high] = y
                rows.append(row)
                want.append(Int32(larger))
            }
        }
        let f = try backend.makeBuffer(rows: rows.count, cols: c, elementType: .f16)
        try backend.upload(Matrix(rows: rows.count, cols: c, storage: rows.flatMap { $0 }), to: f)
        let predictions = try backend.makeIndexBuffer([Int32](repeating: 0, count: rows.count))
        _ = try backend.crossEntropy(logits: f, targets: .classIndices(try backend.makeIndexBuffer(want)), options: .init(),
                                     outputs: CrossEntropyOutputs(predictions: predictions))
        let got = try backend.download(indices: predictions)
        return got.indices.filter { got[$0] != want[$0] }.map { "row \($0) (\(rows[$0][low]), \(rows[$0][high])): predicted \(got[$0]), want \(want[$0])" }
    }

    /// A float32 gradient from 16-bit logits (`--grad-dtype f32`): float32 accuracy on the 16-bit inputs.
    @Test(arguments: TestBackends.bothVariantsOnce, [ElementType.f16, .bf16])
    func float32GradientFromSixteenBitLogits(_ backendCase: BackendCase, _ type: ElementType) throws {
        try Self.float32Gradient(try backendCase.make(), type, "\(backendCase)")
    }

    static func float32Gradient(_ backend: some ComputeBackend, _ type: ElementType, _ backendName: String) throws {
        var rng = SeededGenerator(seed: 9)
        let raw = RandomData.logits(33, 500, scale: 6, &rng)
        let labels = RandomData.labels(33, classes: 500, &rng)
        let logits = Matrix(rows: 33, cols: 500, storage: raw.storage.map { type.rounded($0) })
        let f = try backend.makeBuffer(rows: 33, cols: 500, elementType: type)
        try backend.upload(raw, to: f)
        let g = try backend.makeBuffer(rows: 33, cols: 500)
        _ = try backend.crossEntropy(logits: f, targets: .classIndices(try backend.makeIndexBuffer(labels)), options: .init(),
                                     outputs: CrossEntropyOutputs(gradient: g))
        let want = ReferenceCrossEntropy.evaluate(logits: DoubleMatrix(logits), targets: .classIndices(labels)).gradient.storage
        let largest = want.map(abs).max() ?? 0
        let m = Comparison(atol: 2e-6 * largest, rtol: 1e-4).mismatches(try backend.download(g).storage, want, cols: 500, context: "\(backendName) \(type) → f32")
        #expect(m == nil, Comment(rawValue: m ?? ""))
    }

    /// A 16-bit gradient from float32 logits: each entry the float32 result rounded once, within one
    /// ulp of the type of the exact gradient, the label's p − 1 included (with weights, smoothing and
    /// ignored rows, whose gradient rows are 0).
    @Test(arguments: TestBackends.bothVariantsOnce, [ElementType.f16, .bf16])
    func sixteenBitGradientFromFloat32Logits(_ backendCase: BackendCase, _ type: ElementType) throws {
        try Self.sixteenBitGradient(try backendCase.make(), type, "\(backendCase)")
    }

    static func sixteenBitGradient(_ backend: some ComputeBackend, _ type: ElementType, _ backendCase: String) throws {
        let (n, c) = (17, 700)
        var rng = SeededGenerator(seed: 10)
        let logits = RandomData.logits(n, c, scale: 8, &rng)
        let options = CrossEntropyOptions(ignoreIndex: 3, classWeights: RandomData.weights(c, &rng), labelSmoothing: 0.05)
        let labels = RandomData.labels(n, classes: c, ignoredFraction: 0.2, ignoreIndex: 3, &rng)
        let f = try backend.makeBuffer(rows: n, cols: c)
        try backend.upload(logits, to: f)
        let g = try backend.makeBuffer(rows: n, cols: c, elementType: type)
        _ = try backend.crossEntropy(logits: f, targets: .classIndices(try backend.makeIndexBuffer(labels)), options: options,
                                     outputs: CrossEntropyOutputs(gradient: g))
        let want = ReferenceCrossEntropy.evaluate(logits: DoubleMatrix(logits), targets: .classIndices(labels), options: options)
        let got = try backend.download(g).storage
        let float32Error = 2e-6 * (want.gradient.storage.map(abs).max() ?? 0)
        let bad = zip(got, want.gradient.storage).enumerated().filter { abs(Double($1.0) - $1.1) > Self.ulp($1.1, type) + float32Error }
        let first = bad.prefix(3).map { "[\($0.offset / c), \($0.offset % c)] got \($0.element.0), exact \($0.element.1)" }
        #expect(bad.isEmpty, "\(backendCase) f32 → \(type) seed 10, \(n)x\(c): \(bad.count) entries beyond one ulp, first \(first)")
    }

    @Test(arguments: TestBackends.bothVariantsOnce)
    func otherOperationsRefuseSixteenBitBuffers(_ backendCase: BackendCase) throws {
        try Self.refusal(try backendCase.make())
    }

    static func refusal(_ backend: some ComputeBackend) throws {
        let half = try backend.makeBuffer(rows: 2, cols: 2, elementType: .f16)
        let w = try backend.makeBuffer(rows: 2, cols: 2), b = try backend.makeBuffer(rows: 1, cols: 2), s = try backend.makeBuffer(rows: 2, cols: 2)
        #expect(throws: SoftmaxError.invalidOption("x must be float32, got f16")) {
            try backend.linearForward(x: half, weights: w, bias: b, scores: s)
        }
        let q = try backend.makeBuffer(rows: 2, cols: 2, elementType: .bf16)
        #expect(throws: SoftmaxError.invalidOption("probability targets must be float32, got bf16")) {
            _ = try backend.crossEntropy(logits: s, targets: .probabilities(q), options: .init(), outputs: CrossEntropyOutputs())
        }
    }

    /// NaN and infinity survive an upload as themselves (a NaN whose rounding would carry into the
    /// sign bit must not become −0), so the fused call reports them.
    @Test(arguments: TestBackends.bothVariantsOnce, [ElementType.f16, .bf16])
    func nonFiniteValuesStayNonFiniteAndAreReported(_ backendCase: BackendCase, _ type: ElementType) throws {
        try Self.nonFinite(try backendCase.make(), type)
    }

    static func nonFinite(_ backend: some ComputeBackend, _ type: ElementType) throws {
        let nan = Float(bitPattern: 0x7FFF_FFFF)
        var values = [Float](repeating: 0.5, count: 40)
        values[21] = nan
        values[35] = -.infinity
        let f = try backend.makeBuffer(rows: 2, cols: 20, elementType: type)
        try backend.upload(Matrix(rows: 2, cols: 20, storage: values), to: f)
        let back = try backend.download(f).storage
        #expect(back[21].isNaN && back[35] == -.infinity)
        // (NaN is not equal to itself, so the error is matched by its case.)
        let error = #expect(throws: SoftmaxError.self) {
            _ = try backend.crossEntropy(logits: f, targets: .classIndices(try backend.makeIndexBuffer([0, 1])), options: .init(),
                                         outputs: CrossEntropyOutputs())
        }
        guard case .nonFinite("logits", 1, 1, let value)? = error else {
            Issue.record("expected row 1, column 1 of the logits to be reported, got \(String(describing: error))")
            return
        }
        #expect(value.isNaN)
    }

    @Test func bfloat16RoundsToNearestEven() {
        // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even significand (1).
        #expect(ElementType.bf16.rounded(1 + 0x1p-8) == 1)
        #expect(ElementType.bf16.rounded(1 + 3 * 0x1p-8) == 1 + 4 * 0x1p-8)
        #expect(ElementType.bf16.rounded(-1 - 0x1p-7) == -1 - 0x1p-7)
        #expect(ElementType.bf16.rounded(.greatestFiniteMagnitude) == .infinity)
        #expect(ElementType.bf16.rounded(.nan).isNaN)
        #expect(ElementType.f16.rounded(65520) == .infinity && ElementType.f16.rounded(65519) == 65504)
    }
}
