import SoftmaxCore
import Testing
import TestSupport

/// The linear layer (scores = x·W + b, ∂W = xᵀ·G + λW, ∂b) and the SGD step, against the oracle.
@Suite struct ClassifierTests {
    @Test(arguments: backends)
    func gradientsMatchOracle(_ backendCase: BackendCase) throws {
        let backend = try backendCase.make()
        // Shapes around the 6×32 micro-tile and the 256-deep blocks, and one spanning several blocks.
        for (n, d, c, l2, seed) in [(1, 1, 1, Float(0), UInt64(21)), (37, 13, 10, 0.01, 22), (6, 32, 32, 0, 23),
                                     (300, 70, 45, 0.1, 24), (513, 300, 33, 0.001, 25), (64, 64, 1000, 0, 26)] {
            var rng = SeededGenerator(seed: seed)
            let x = RandomData.logits(n, d, scale: 1, &rng)
            let w = RandomData.logits(d, c, scale: 0.5, &rng)
            let b = RandomData.logits(1, c, scale: 0.5, &rng).storage
            let failures = try Conformance.classifier(
                backend, x: x, targets: .classIndices(RandomData.labels(n, classes: c, &rng)), weights: w, bias: b,
                l2: l2, context: "\(backendCase) seed \(seed)")
            #expect(failures.isEmpty, Comment(rawValue: failures.joined(separator: "\n")))
        }
    }

    @Test(arguments: backends)
    func sgdStepWithMomentum(_ backendCase: BackendCase) throws {
        let backend = try backendCase.make()
        var rng = SeededGenerator(seed: 31)
        let p = RandomData.logits(7, 19, scale: 1, &rng), g = RandomData.logits(7, 19, scale: 1, &rng)
        let v = RandomData.logits(7, 19, scale: 1, &rng)
        let (newP, newV) = try step(backend, p, g, v)
        for i in 0..<p.count {
            // v ← μ·v + g; p ← p − lr·v
            let expectedV = 0.9 * Double(v.storage[i]) + Double(g.storage[i])
            let expectedP = Double(p.storage[i]) - 0.1 * expectedV
            #expect(abs(Double(newV.storage[i]) - expectedV) <= 1e-6, "velocity[\(i)]")
            #expect(abs(Double(newP.storage[i]) - expectedP) <= 1e-6, "parameter[\(i)]")
        }
    }

    /// One SGD step on the backend's buffers; returns the new parameter and velocity.
    private func step<B: ComputeBackend>(_ backend: B, _ p: Matrix, _ g: Matrix, _ v: Matrix) throws -> (Matrix, Matrix) {
        let pb = try backend.makeBuffer(p), gb = try backend.makeBuffer(g), vb = try backend.makeBuffer(v)
        try backend.sgdStep(parameter: pb, gradient: gb, velocity: vb, learningRate: 0.1, momentum: 0.9)
        return (try backend.download(pb), try backend.download(vb))
    }
}
