import Foundation
import SoftmaxCore
import SoftmaxOpenCL
import SoftmaxReference

/// One timed operation on one shape and backend.
struct BenchmarkResult: Encodable {
    var op: String
    var shape: String
    var backend: String
    var device: String
    /// Host wall time per call (with transfers and the read-back).
    var timing: TimingSamples?
    /// The device's own kernel time per call (OpenCL profiling events), where it has a timer.
    var kernelTiming: TimingSamples?
    /// Bytes moved per call: the logits read and the gradient written, at their storage size.
    var bytes: Int
    var flops: Int
    /// Logits per second (the fused op and the copy), whatever their storage size.
    var elementsPerSecond: Double?
    var gbPerSecond: Double?
    var gflopPerSecond: Double?
    var percentOfCopy: Double?
    /// "ok", or what was wrong (then nothing was timed).
    var check: String
    /// One call's peak resident memory beyond its inputs and outputs (`PeakMemory`), where measured.
    var peakExtraBytes: Int?

    var key: String { "\(op)|\(shape)|\(backend)|\(device)" }
    /// GB/s or GFLOP/s, whichever the op is measured in.
    var speed: Double { gbPerSecond ?? gflopPerSecond ?? 0 }
}

/// Times the operations of a backend on one shape, after checking each result against the float64
/// oracle on sampled rows: a wrong result is reported and not timed.
struct BenchmarkRunner<B: ComputeBackend> {
    let backend: B
    let warmup: Int
    let repeats: Int
    let seed: UInt64
    /// The fused op's options (softcap, z-loss); the op is named after them ("xent+softcap").
    var lossOptions = CrossEntropyOptions()
    var xentName = "xent"
    /// Storage of the logits and gradient (and of the copy beside them); 16-bit names end in "-f16"/"-bf16".
    var elementType = ElementType.f32
    /// How the fused linear op's classifier is stored (D×V, or PyTorch's V×D).
    var classifierLayout = ClassifierLayout.dv
    /// The fused linear op's name: "linear-xent", "linear-xent+softcap-vd", …
    /// The fused linear op's gradient filter ε (0: exact); a filtered op is named "…+filter".
    var filterEpsilon: Float = 0
    var linearOpName: String { "linear-" + xentName + (filterEpsilon > 0 ? "+filter" : "") + (classifierLayout == .vd ? "-vd" : "") }

    private var typeSuffix: String { elementType == .f32 ? "" : "-\(elementType.rawValue)" }
    /// The fused op's name in results and the store: "xent", "xent+softcap-bf16", …
    var xentOpName: String { xentName + typeSuffix }
    /// Rows checked against the oracle: first, last and a few in between.
    func sampledRows(_ n: Int, _ rng: inout SeededGenerator) -> [Int] {
        Array(Set([0, n - 1] + (0..<6).map { _ in Int.random(in: 0..<n, using: &rng) })).sorted()
    }

    func random(_ rows: Int, _ cols: Int, scale: Float, _ rng: inout SeededGenerator) -> Matrix {
        Matrix(rows: rows, cols: cols, storage: (0..<(rows * cols)).map { _ in Float.random(in: -scale...scale, using: &rng) })
    }

    private func result(_ op: String, _ shape: String, _ timing: TimingSamples?, bytes: Int, flops: Int,
                        copyGBs: Double?, check: String) -> BenchmarkResult {
        let seconds = (timing?.median ?? .nan) / 1e3
        let gbs = bytes > 0 && timing != nil ? Double(bytes) / seconds / 1e9 : nil
        let elements = bytes > 0 && timing != nil ? Double(bytes / (2 * elementType.bytes)) / seconds : nil
        return BenchmarkResult(
            op: op, shape: shape, backend: backend.name, device: backend.deviceName, timing: timing, bytes: bytes, flops: flops,
            elementsPerSecond: op.hasPrefix("xent") || op.hasPrefix("copy") ? elements : nil, gbPerSecond: gbs, gflopPerSecond: flops > 0 && timing != nil ? Double(flops) / seconds / 1e9 : nil,
            percentOfCopy: gbs.flatMap { g in copyGBs.map { 100 * g / $0 } }, check: check)
    }

    /// Device-timer samples of `body` (after the wall-time samples, so warm), or nil on the host.
    func kernelTime(_ body: () throws -> Void) throws -> TimingSamples? {
        var samples: [Double] = []
        for _ in 0..<repeats {
            guard let ms = try backend.deviceMilliseconds(of: body) else { return nil }
            samples.append(ms)
        }
        return TimingSamples(milliseconds: samples)
    }

    /// Reads N×C values and writes N×C values of the storage type: the ceiling for the fused loss+gradient.
    func copy(_ shape: Shape) throws -> BenchmarkResult {
        let src = try backend.makeBuffer(rows: shape.rows, cols: shape.cols, elementType: elementType)
        let dst = try backend.makeBuffer(rows: shape.rows, cols: shape.cols, elementType: elementType)
        let timing = try TimingSamples.measure(warmup: warmup, repeats: repeats) {
            try backend.copy(src, to: dst)
            try backend.synchronize()
        }
        var r = result("copy" + typeSuffix, shape.description, timing, bytes: 2 * elementType.bytes * shape.rows * shape.cols, flops: 0,
                       copyGBs: nil, check: "ok")
        r.kernelTiming = try kernelTime { try backend.copy(src, to: dst) }
        return r
    }

    /// Fused loss+gradient (mean reduction): 2 values per element (logits read, gradient written)
    /// of the storage type.
    func crossEntropy(_ shape: Shape, copyGBs: Double?) throws -> BenchmarkResult {
        let xent = XentCase(shape, elementType: elementType, options: lossOptions, seed: seed)
        let prepared = try xent.prepare(on: backend)
        if let failure = try xent.check(prepared) {
            return result(xentOpName, shape.description, nil, bytes: xent.bytes, flops: 0, copyGBs: copyGBs, check: failure)
        }
        let timing = try TimingSamples.measure(warmup: warmup, repeats: repeats) { try prepared.run() }
        var r = result(xentOpName, shape.description, timing, bytes: xent.bytes, flops: 0, copyGBs: copyGBs, check: "ok")
        r.kernelTiming = try kernelTime { try prepared.run() }
        return r
    }

    /// scores = X·W + b and ∂W = Xᵀ·G, each 2·N·D·C flops, for X (N×D), W (D×C).
    func linear(_ shape: Shape, features d: Int) throws -> [BenchmarkResult] {
        let n = shape.rows, c = shape.cols
        var rng = SeededGenerator(seed: seed ^ UInt64(n * 7919 + c * 31 + d))
        let x = random(n, d, scale: 1, &rng), w = random(d, c, scale: 1, &rng), g = random(n, c, scale: 1, &rng)
        let b = random(1, c, scale: 1, &rng)
        let xb = try backend.makeBuffer(x), wb = try backend.makeBuffer(w), bb = try backend.makeBuffer(b)
        let gb = try backend.makeBuffer(g)
        let scores = try backend.makeBuffer(rows: n, cols: c)
        let dW = try backend.makeBuffer(rows: d, cols: c), db = try backend.makeBuffer(rows: 1, cols: c)
        let flops = 2 * n * d * c
        let label = "\(n)x\(d)x\(c)"

        try backend.linearForward(x: xb, weights: wb, bias: bb, scores: scores)
        let s = try backend.download(scores)
        var forwardCheck = "ok"
        for i in sampledRows(n, &rng) {
            for k in [0, c / 2, c - 1] {
                var exact = Double(b.storage[k]), magnitude = abs(exact)
                for t in 0..<d { exact += Double(x[i, t]) * Double(w[t, k]); magnitude += abs(Double(x[i, t]) * Double(w[t, k])) }
                if abs(Double(s[i, k]) - exact) > 1e-5 * magnitude + 1e-6 {
                    forwardCheck = "wrong: scores[\(i), \(k)] = \(s[i, k]), expected \(exact)"
                }
            }
        }
        try backend.linearBackward(x: xb, gradient: gb, weights: wb, l2: 0, weightGradient: dW, biasGradient: db)
        let dw = try backend.download(dW)
        var backwardCheck = "ok"
        for t in sampledRows(d, &rng) {
            for k in [0, c / 2, c - 1] {
                var exact = 0.0, magnitude = 0.0
                for i in 0..<n { exact += Double(x[i, t]) * Double(g[i, k]); magnitude += abs(Double(x[i, t]) * Double(g[i, k])) }
                if abs(Double(dw[t, k]) - exact) > 1e-5 * magnitude + 1e-6 {
                    backwardCheck = "wrong: dW[\(t), \(k)] = \(dw[t, k]), expected \(exact)"
                }
            }
        }
        let forward = forwardCheck != "ok" ? nil : try TimingSamples.measure(warmup: warmup, repeats: repeats) {
            try backend.linearForward(x: xb, weights: wb, bias: bb, scores: scores)
            try backend.synchronize()
        }
        let backward = backwardCheck != "ok" ? nil : try TimingSamples.measure(warmup: warmup, repeats: repeats) {
            try backend.linearBackward(x: xb, gradient: gb, weights: wb, l2: 0, weightGradient: dW, biasGradient: db)
            try backend.synchronize()
        }
        return [
            result("linear-forward", label, forward, bytes: 0, flops: flops, copyGBs: nil, check: forwardCheck),
            result("linear-backward", label, backward, bytes: 0, flops: flops, copyGBs: nil, check: backwardCheck),
        ]
    }

    /// The fused linear cross-entropy f = H·W + b → loss, ∂H, ∂W, ∂b (mean reduction, the run's
    /// softcap and z-loss) for H (N×D), W (D×V): 6·N·D·V flops, the logits never stored. Checked
    /// first on sampled rows and entries (`LinearSpotCheck`).
    func linearCrossEntropy(_ shape: Shape, features d: Int) throws -> BenchmarkResult {
        let linear = LinearCase(rows: shape.rows, features: d, vocabulary: shape.cols, options: lossOptions, layout: classifierLayout,
                                filterEpsilon: filterEpsilon, seed: seed)
        let prepared = try linear.prepare(on: backend)
        let label = linear.label, name = linearOpName, flops = linear.flops
        func once(checking: Bool) throws { try prepared.run(checking: checking) }
        // `--warmup 0 --repeat 1` (a shape whose one call takes minutes): that call is the checked,
        // the timed and the measured one.
        let single = warmup == 0 && repeats == 1 && backend.name == "swift"
        var singleTiming: TimingSamples?
        var singlePeak: Int?
        if single {
            singlePeak = try PeakMemory.extraBytes {
                singleTiming = try TimingSamples.measure(warmup: 0, repeats: 1) { try once(checking: true) }
            }
        } else {
            try once(checking: true)
        }
        let failure = try linear.check(prepared)
        guard failure == nil else { return result(name, label, nil, bytes: 0, flops: flops, copyGBs: nil, check: failure!) }
        if single, let singleTiming {
            var r = result(name, label, singleTiming, bytes: 0, flops: flops, copyGBs: nil, check: "ok")
            r.peakExtraBytes = singlePeak
            return r
        }
        let timing = try TimingSamples.measure(warmup: warmup, repeats: repeats) { try once(checking: false) }
        var r = result(name, label, timing, bytes: 0, flops: flops, copyGBs: nil, check: "ok")
        r.kernelTiming = try kernelTime { try once(checking: false) }
        // Host memory for the Swift backend; on an OpenCL device the workspace is device memory,
        // which the process's high-water mark does not see: the backend counts what it allocated.
        if let device = backend as? OpenCLBackend {
            r.peakExtraBytes = device.lastLinearWorkspaceBytes
        } else {
            r.peakExtraBytes = try PeakMemory.extraBytes { try once(checking: false) }
        }
        return r
    }

    /// One whole training step: scores = X·W + b, fused loss+gradient (mean), ∂W = Xᵀ·G + λW, ∂b,
    /// and the SGD update of W and b; 4·N·D·C flops. Checked first: the scores and gradient rows
    /// on sampled rows against float64, and the updated W on sampled entries against the float64
    /// update computed from that gradient.
    func step(_ shape: Shape, features d: Int) throws -> BenchmarkResult {
        let n = shape.rows, c = shape.cols
        var rng = SeededGenerator(seed: seed ^ UInt64(n * 31 + c * 7 + d))
        let x = random(n, d, scale: 1, &rng), w0 = random(d, c, scale: 0.05, &rng)
        let labels = (0..<n).map { _ in Int32.random(in: 0..<Int32(c), using: &rng) }
        let (lr, l2): (Float, Float) = (0.1, 1e-4)
        let xb = try backend.makeBuffer(x), wb = try backend.makeBuffer(w0), bb = try backend.makeBuffer(rows: 1, cols: c)
        let vw = try backend.makeBuffer(rows: d, cols: c), vb = try backend.makeBuffer(rows: 1, cols: c)
        let scores = try backend.makeBuffer(rows: n, cols: c), g = try backend.makeBuffer(rows: n, cols: c)
        let dw = try backend.makeBuffer(rows: d, cols: c), db = try backend.makeBuffer(rows: 1, cols: c)
        let y = BackendTargets<B.IndexBuffer, B.FloatBuffer>.classIndices(try backend.makeIndexBuffer(labels))
        func once() throws {
            try backend.linearForward(x: xb, weights: wb, bias: bb, scores: scores)
            _ = try backend.crossEntropy(logits: scores, targets: y, options: CrossEntropyOptions(), outputs: CrossEntropyOutputs(gradient: g))
            try backend.linearBackward(x: xb, gradient: g, weights: wb, l2: l2, weightGradient: dw, biasGradient: db)
            try backend.sgdStep(parameter: wb, gradient: dw, velocity: vw, learningRate: lr, momentum: 0.9)
            try backend.sgdStep(parameter: bb, gradient: db, velocity: vb, learningRate: lr, momentum: 0.9)
        }
        try once()
        let (s, gradient, w1) = (try backend.download(scores), try backend.download(g), try backend.download(wb))
        var failure: String?
        for i in sampledRows(n, &rng) where failure == nil {
            let f = (0..<c).map { k in (0..<d).reduce(0.0) { $0 + Double(x[i, $1]) * Double(w0[$1, k]) } }
            if let k = (0..<c).first(where: { abs(Double(s[i, $0]) - f[$0]) > 1e-4 * (1 + abs(f[$0])) }) {
                failure = "wrong: scores[\(i), \(k)] = \(s[i, k]), expected \(f[k])"
                break
            }
            let want = ReferenceCrossEntropy.evaluate(logits: DoubleMatrix(rows: 1, cols: c, storage: f), targets: .classIndices([labels[i]])).gradient.storage
            failure = Comparison(atol: 2e-6 * max(want.map(abs).max() ?? 0, 1e-3), rtol: 1e-3)
                .mismatches(gradient.row(i).map { $0 * Float(n) }, want, context: "wrong: row \(i) of the step's gradient (×N)")
        }
        for t in sampledRows(d, &rng) where failure == nil {
            for k in [0, c / 2, c - 1] {
                // W₁ = W₀ − lr·(Σ_i x_it·G_ik + λ·W₀), the velocity starting at zero.
                let dW = (0..<n).reduce(0.0) { $0 + Double(x[$1, t]) * Double(gradient[$1, k]) } + Double(l2) * Double(w0[t, k])
                let want = Double(w0[t, k]) - Double(lr) * dW
                if abs(Double(w1[t, k]) - want) > 1e-5 * (1 + abs(want)) {
                    failure = "wrong: W[\(t), \(k)] after the step = \(w1[t, k]), expected \(want)"
                }
            }
        }
        let label = "\(n)x\(d)x\(c)"
        guard failure == nil else { return result("step", label, nil, bytes: 0, flops: 4 * n * d * c, copyGBs: nil, check: failure!) }
        let timing = try TimingSamples.measure(warmup: warmup, repeats: repeats) {
            try once()
            try backend.synchronize()
        }
        var r = result("step", label, timing, bytes: 0, flops: 4 * n * d * c, copyGBs: nil, check: "ok")
        r.kernelTiming = try kernelTime(once)
        return r
    }
}
