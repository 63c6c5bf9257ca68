import SoftmaxCore

/// The fused linear cross-entropy's measured case, made once on the host: seeded H (N×D), W (D×V)
/// with logits of a few units whatever D (as a trained head has), b and labels; loss, ∂H, ∂W and
/// ∂b of the mean. `bench --op linear-xent` measures one backend with it, `tune --op linear-xent`
/// every candidate, `softmax-lab-device` each device; all check a call first (`LinearSpotCheck`:
/// sampled rows and entries).
public struct LinearCase: Sendable {
    public let rows: Int, features: Int, vocabulary: Int
    public let options: CrossEntropyOptions
    public let layout: ClassifierLayout
    public let filterEpsilon: Float
    public let hidden: Matrix, classifier: Matrix, bias: Matrix, labels: [Int32]
    let seed: UInt64

    public init(rows n: Int, features d: Int, vocabulary v: Int, options: CrossEntropyOptions, layout: ClassifierLayout = .dv,
                filterEpsilon: Float = 0, seed: UInt64) {
        (rows, features, vocabulary, self.options, self.layout, self.filterEpsilon, self.seed) = (n, d, v, options, layout, filterEpsilon, seed)
        var rng = SeededGenerator(seed: seed ^ UInt64(n * 104_729 + v * 13 + d))
        let scale = (12 / Float(d)).squareRoot().squareRoot()
        func random(_ r: Int, _ c: Int, _ s: Float) -> Matrix {
            Matrix(rows: r, cols: c, storage: (0..<(r * c)).map { _ in Float.random(in: -s...s, using: &rng) })
        }
        hidden = random(n, d, scale)
        classifier = random(d, v, scale)
        bias = random(1, v, 1)
        labels = (0..<n).map { _ in Int32.random(in: 0..<Int32(v), using: &rng) }
    }

    /// 6·N·D·V: the logits, ∂H and ∂W products.
    public var flops: Int { 6 * rows * features * vocabulary }

    /// The buffers of one backend, uploaded (W in `layout`), and the call that is timed.
    public struct Prepared<B: ComputeBackend> {
        public let backend: B
        let hidden: B.FloatBuffer, classifier: B.FloatBuffer, bias: B.FloatBuffer
        let targets: BackendTargets<B.IndexBuffer, B.FloatBuffer>
        let dH: B.FloatBuffer, dW: B.FloatBuffer, db: B.FloatBuffer, lse: B.FloatBuffer, rowLoss: B.FloatBuffer
        let options: CrossEntropyOptions, layout: ClassifierLayout, filterEpsilon: Float

        /// One call; `checking` also writes the per-row lse and loss.
        public func run(checking: Bool) throws {
            let outputs = LinearCrossEntropyOutputs<B.FloatBuffer, B.IndexBuffer>(
                hiddenGradient: dH, classifierGradient: dW, biasGradient: db, rowLosses: checking ? rowLoss : nil,
                logSumExp: checking ? lse : nil, filterEpsilon: filterEpsilon)
            _ = try backend.linearCrossEntropy(hidden: hidden, classifier: classifier, layout: layout, bias: bias, targets: targets,
                                               options: options, outputs: outputs)
            try backend.synchronize()
        }

        public func run() throws { try run(checking: false) }
    }

    public func prepare<B: ComputeBackend>(on backend: B) throws -> Prepared<B> {
        let (n, d, v) = (rows, features, vocabulary)
        return Prepared(
            backend: backend, hidden: try backend.makeBuffer(hidden), classifier: try backend.makeBuffer(layout == .dv ? classifier : classifier.transposed),
            bias: try backend.makeBuffer(bias), targets: .classIndices(try backend.makeIndexBuffer(labels)),
            dH: try backend.makeBuffer(rows: n, cols: d), dW: try backend.makeBuffer(rows: layout == .dv ? d : v, cols: layout == .dv ? v : d),
            db: try backend.makeBuffer(rows: 1, cols: v), lse: try backend.makeBuffer(rows: n, cols: 1), rowLoss: try backend.makeBuffer(rows: n, cols: 1),
            options: options, layout: layout, filterEpsilon: filterEpsilon)
    }

    /// Compares what the last `run(checking: true)` wrote with the oracle on sampled rows and
    /// entries: nil when right, else the sentence naming the first value that is not.
    public func check<B: ComputeBackend>(_ p: Prepared<B>) throws -> String? {
        let got = LinearSpotCheck.Got(
            lse: try p.backend.download(p.lse).storage, rowLoss: try p.backend.download(p.rowLoss).storage, hidden: try p.backend.download(p.dH),
            classifier: layout == .dv ? try p.backend.download(p.dW) : try p.backend.download(p.dW).transposed, bias: try p.backend.download(p.db).storage)
        var rng = SeededGenerator(seed: seed ^ 0x5eed)
        let (n, d, v) = (rows, features, vocabulary)
        func sample(_ count: Int, _ extra: Int) -> [Int] {
            Array(Set([0, count - 1] + (0..<extra).map { _ in Int.random(in: 0..<count, using: &rng) })).sorted()
        }
        return LinearSpotCheck(hidden: hidden, classifier: classifier, bias: bias.storage, labels: labels, options: options, filterEpsilon: filterEpsilon)
            .failure(got, rows: sample(n, 6), columns: sample(v, 1), features: sample(d, 1))
    }
}
