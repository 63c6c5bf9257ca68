import SoftmaxCore
import SoftmaxReference

/// The fused loss+gradient's measured case, made once on the host: seeded logits (rounded to the
/// storage type, so the oracle sees what the buffer holds), labels, and the float64 oracle's
/// gradient of sampled rows. `bench` checks one backend with it; `tune` checks every candidate.
public struct XentCase: Sendable {
    public let shape: Shape
    public let elementType: ElementType
    public let options: CrossEntropyOptions
    let logits: Matrix
    let labels: [Int32]
    /// Rows checked (first, last, a few in between) and the oracle's gradient of each, ×N.
    private let expected: [(row: Int, gradient: [Double])]

    public init(_ shape: Shape, elementType: ElementType, options: CrossEntropyOptions, seed: UInt64) {
        let n = shape.rows, c = shape.cols
        var rng = SeededGenerator(seed: seed ^ UInt64(n * 1_000_003 + c))
        self.shape = shape
        self.elementType = elementType
        self.options = options
        logits = Matrix(rows: n, cols: c, storage: (0..<(n * c)).map { _ in elementType.rounded(Float.random(in: -8...8, using: &rng)) })
        let labels = (0..<n).map { _ in Int32.random(in: 0..<Int32(c), using: &rng) }
        self.labels = labels
        let rows = Array(Set([0, n - 1] + (0..<6).map { _ in Int.random(in: 0..<n, using: &rng) })).sorted()
        let logits = self.logits
        expected = rows.map { i in
            let row = Matrix(rows: 1, cols: c, storage: Array(logits.row(i)))
            return (i, ReferenceCrossEntropy.evaluate(logits: DoubleMatrix(row), targets: .classIndices([labels[i]]), options: options)
                .gradient.storage)
        }
    }

    /// Bytes one call moves: the logits read and the gradient written, at their storage size.
    var bytes: Int { 2 * elementType.bytes * shape.rows * shape.cols }

    /// The buffers of one backend, uploaded, and the call that is timed.
    struct Prepared<B: ComputeBackend> {
        let backend: B
        let logits: B.FloatBuffer
        let targets: BackendTargets<B.IndexBuffer, B.FloatBuffer>
        let gradient: B.FloatBuffer
        let options: CrossEntropyOptions

        func run() throws {
            _ = try backend.crossEntropy(logits: logits, targets: targets, options: options,
                                         outputs: CrossEntropyOutputs<B.FloatBuffer, B.IndexBuffer>(gradient: gradient))
        }
    }

    func prepare<B: ComputeBackend>(on backend: B) throws -> Prepared<B> {
        let logitsBuffer = try backend.makeBuffer(rows: shape.rows, cols: shape.cols, elementType: elementType)
        try backend.upload(logits, to: logitsBuffer)
        return Prepared(backend: backend, logits: logitsBuffer, targets: .classIndices(try backend.makeIndexBuffer(labels)),
                        gradient: try backend.makeBuffer(rows: shape.rows, cols: shape.cols, elementType: elementType), options: options)
    }

    /// Runs the call once and compares the sampled rows of its gradient (×N, undoing the mean) with
    /// the oracle: nil when right, else the sentence naming the row and the worst entries.
    func check<B: ComputeBackend>(_ prepared: Prepared<B>) throws -> String? {
        try prepared.run()
        let got = try prepared.backend.download(prepared.gradient)
        let n = shape.rows
        // A 16-bit gradient is off by its own rounding: half a unit in the last place (2^-11 of f16,
        // 2^-8 of bf16), and f16's below 2^-14 by half its subnormal spacing 2^-24, which the ×N magnifies.
        let storageRounding: Double = switch elementType { case .f32: 0; case .f16: 0x1p-11; case .bf16: 0x1p-8 }
        let storageFloor: Double = elementType == .f16 ? Double(n) * 0x1p-25 : 0
        for (i, want) in expected {
            // On the scale of the row's probabilities, not of p − onehot: for a confident row
            // p_y − 1 is tiny but carries the float rounding of p_y ≈ 1 (C = 2 failed on that).
            let y = Int(labels[i])
            let largestProbability = want.indices.map { abs($0 == y ? want[$0] + 1 : want[$0]) }.max() ?? 0
            if let failure = Comparison(atol: 2e-6 * largestProbability + storageFloor, rtol: 1e-4 + storageRounding)
                .mismatches(got.row(i).map { $0 * Float(n) }, want, context: "wrong: row \(i) of the gradient (×N)") {
                return failure
            }
        }
        return nil
    }
}
