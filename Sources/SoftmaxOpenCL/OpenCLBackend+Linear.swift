import COpenCL
import SoftmaxCore

/// The fused linear cross-entropy on an OpenCL device: f = H·W + b in blocks of rows, a block's
/// logits the only V-long values ever held.
///
/// Per block of b rows (`KernelParameters.linearBlockRows`):
///   1. logits_b = H_b·W + b               (`matmul_strided`, local-memory tiles)
///   2. the fused cross-entropy of the block (the variant `crossEntropy` would take for b × V, so
///      every option is the same code), scaled by the divisors of the whole batch
///      (`xent_denominator` once over all N labels), its gradient G_b into a second b×V buffer
///   3. ∂H_b = G_b·Wᵀ, ∂W += H_bᵀ·G_b      (`matmul_strided`, W in either layout by its strides)
///   4. ∂b += Σ_rows G_b                   (`column_sums`)
/// With the gradient filter (ε > 0) `filter_tiles` zeroes and flags G_b's TILE×TILE tiles below ε
/// between 2 and 3, and the products step over the flagged ones.
/// and the block's per-row results copied into the batch's, whose one `xent_reduce` gives the loss.
/// Every product is deterministic (no atomics): CCE's recompute-and-accumulate backward needs float
/// atomic adds, which OpenCL 1.2 does not have. Extra device memory: b·V·4 bytes of logits, as many
/// again for G_b when a gradient is asked, 24·b bytes of per-row block buffers, at most 16·N of
/// per-row batch buffers, 12 bytes of status per block and, with the filter, 4 bytes per TILE×TILE
/// tile of a block — independent of N·V.
extension OpenCLBackend {
    public func linearCrossEntropy(
        hidden: OpenCLBuffer, classifier: OpenCLBuffer, layout: ClassifierLayout, bias: OpenCLBuffer?,
        targets: BackendTargets<OpenCLLabels, OpenCLBuffer>,
        options: CrossEntropyOptions,
        outputs: LinearCrossEntropyOutputs<OpenCLBuffer, OpenCLLabels>
    ) throws -> CrossEntropyValue {
        try outputs.validate(hidden: hidden, classifier: classifier, layout: layout, bias: bias, options: options)
        let n = hidden.rows, d = hidden.cols, v = LinearCrossEntropyOutputs<OpenCLBuffer, OpenCLLabels>.vocabulary(classifier, layout)
        guard case .classIndices(let labels) = targets else { throw LinearCrossEntropyFault.probabilityTargets }
        guard labels.count == n else {
            throw SoftmaxError.shapeMismatch(what: "labels", expected: "\(n) labels (one per hidden row)", got: "\(labels.count)")
        }
        if let p = outputs.predictions, p.count != n {
            throw SoftmaxError.shapeMismatch(what: "predictions", expected: "\(n) (one per hidden row)", got: "\(p.count)")
        }
        let wantsGradient = outputs.hiddenGradient != nil || outputs.classifierGradient != nil || outputs.biasGradient != nil
        let b = parameters.linearBlockRows(rows: n, vocabulary: v, gradient: wantsGradient, device: openCLDevice)
        // Every buffer of the call is made here and counted: the call's device memory beyond its
        // inputs and outputs (`lastLinearWorkspaceBytes`).
        var allocated = 0
        defer { lastLinearWorkspaceBytes = allocated }
        func floats(_ rows: Int, _ cols: Int, _ what: String) throws -> OpenCLBuffer {
            allocated += rows * cols * 4
            return OpenCLBuffer(rows: rows, cols: cols, mem: try allocate(bytes: rows * cols * 4, what: what), api: api)
        }
        func ints(_ count: Int, _ what: String) throws -> OpenCLLabels {
            allocated += count * 4
            return OpenCLLabels(count: count, mem: try allocate(bytes: count * 4, what: what), api: api)
        }
        let blockLogits = try floats(b, v, "a block of \(b) rows of logits (\(b)x\(v))")
        let blockGradient = wantsGradient ? try floats(b, v, "a block of \(b) rows of the logits' gradient (\(b)x\(v))") : nil
        let blockLabels = try ints(b, "a block's labels")
        let blockRows = (loss: try floats(b, 1, "a block's row losses"), lse: try floats(b, 1, "a block's log-sum-exp"),
                         z: try floats(b, 1, "a block's z parts"), hit: try floats(b, 1, "a block's hits"),
                         predictions: try ints(b, "a block's predictions"))
        let batchLoss = try outputs.rowLosses ?? floats(n, 1, "per-row losses")
        let batchLse = try outputs.logSumExp ?? floats(n, 1, "per-row log-sum-exp")
        let batchZ = try floats(n, 1, "per-row z parts"), batchHit = try floats(n, 1, "per-row hits")
        let batchPredictions = outputs.predictions
        let blocks = (n + b - 1) / b
        let blockStatus = try ints(3 * blocks, "the blocks' status words")
        // The gradient filter's tiles: TILE×TILE, one flag each.
        let t = parameters.tile
        let (flagRows, flagCols) = ((b + t - 1) / t, (v + t - 1) / t)
        let filtering = blockGradient != nil && outputs.filterEpsilon > 0
        let skip = filtering ? try ints(flagRows * flagCols, "the gradient filter's tile flags") : nil
        let weights = try weightBuffer(options.classWeights)
        let mean = options.reduction == .mean

        func copy(_ source: cl_mem, _ sourceOffset: Int, _ destination: cl_mem, _ destinationOffset: Int, _ bytes: Int) throws {
            try api.check(api.enqueueCopyBuffer(queue, source, destination, sourceOffset, destinationOffset, bytes, 0, nil, nil), "clEnqueueCopyBuffer")
        }
        /// c = a·b (+ bias) (+ c), each operand as (buffer, offset, row stride, column stride) in
        /// floats; `skipMode` says where the filtered gradient is (`step_left_out` in linear.cl).
        func product(m: Int, n columns: Int, k: Int, _ a: (cl_mem, Int, Int, Int), _ bOperand: (cl_mem, Int, Int, Int), bias: cl_mem?,
                     _ c: (cl_mem, Int, Int), accumulate: Bool, skipMode: Int = 0) throws {
            let edge = 4 * t
            try launch("matmul_strided", global: [(columns + edge - 1) / edge * t, (m + edge - 1) / edge * t], local: [t, t], [
                .int(m), .int(columns), .int(k),
                .buffer(a.0), .long(a.1), .long(a.2), .long(a.3),
                .buffer(bOperand.0), .long(bOperand.1), .long(bOperand.2), .long(bOperand.3),
                .buffer(bias ?? placeholder), .int(bias == nil ? 0 : 1),
                .buffer(c.0), .long(c.1), .long(c.2), .int(accumulate ? 1 : 0),
                .buffer(skip?.mem ?? placeholder), .int(skip == nil ? 0 : skipMode), .int(flagRows), .int(flagCols)])
        }
        // W[k, j] (k a feature, j a class) and its transpose, as strides in each layout.
        let w = classifier.mem
        let (wFeatureStride, wClassStride) = layout == .dv ? (v, 1) : (1, d)

        try launchDenominator(rows: n, classes: v, labels: labels.mem, weights: weights, useProbabilities: false, ignoreIndex: options.ignoreIndex)
        for block in 0..<blocks {
            let r0 = block * b, rows = min(b, n - r0)
            try copy(labels.mem, r0 * 4, blockLabels.mem, 0, rows * 4)
            // logits_b[i, j] = Σ_k H[r0 + i, k]·W[k, j] + b[j]
            try product(m: rows, n: v, k: d, (hidden.mem, r0 * d, d, 1), (w, 0, wFeatureStride, wClassStride), bias: bias?.mem,
                        (blockLogits.mem, 0, v), accumulate: false)
            try api.check(statusPreset.withUnsafeBytes { bytes in
                api.enqueueWriteBuffer(queue, status, cl_bool(CL_FALSE), 0, 12, bytes.baseAddress, 0, nil, nil)
            }, "clEnqueueWriteBuffer")
            let arguments = XentLaunch(
                rows: rows, classes: v, logits: blockLogits.mem, labels: blockLabels.mem, probabilities: placeholder,
                weights: weights?.mem ?? placeholder, useProbabilities: false, hasWeights: weights != nil,
                labelSmoothing: options.labelSmoothing, weightSum: options.classWeights?.reduce(0, +) ?? Float(v),
                ignoreIndex: options.ignoreIndex, denominator: denominator, mean: mean,
                gradient: blockGradient?.mem ?? placeholder, writeGradient: blockGradient != nil,
                rowLoss: blockRows.loss.mem, rowLse: blockRows.lse.mem, status: status,
                softcap: options.softcap ?? 0, zLoss: options.zLoss, wantArgmax: outputs.accuracy,
                predictions: blockRows.predictions.mem, rowZ: blockRows.z.mem, rowHit: blockRows.hit.mem).arguments
            try launchFused(rows: rows, classes: v, logitType: .f32, gradientType: .f32, arguments)
            try copy(status, 0, blockStatus.mem, block * 12, 12)
            for (source, destination) in [(blockRows.loss.mem, batchLoss.mem), (blockRows.lse.mem, batchLse.mem),
                                          (blockRows.z.mem, batchZ.mem), (blockRows.hit.mem, batchHit.mem)] {
                try copy(source, 0, destination, r0 * 4, rows * 4)
            }
            if let p = batchPredictions { try copy(blockRows.predictions.mem, 0, p.mem, r0 * 4, rows * 4) }
            guard let g = blockGradient?.mem else { continue }
            if let skip {
                try launch("filter_tiles", global: [flagCols * t, (rows + t - 1) / t * t], local: [t, t], [
                    .int(rows), .int(v), .buffer(g), .float(outputs.filterEpsilon), .buffer(denominator), .int(mean ? 1 : 0), .buffer(skip.mem)])
            }
            if let dH = outputs.hiddenGradient {
                // ∂H[r0 + i, k] = Σ_j G_b[i, j]·W[k, j]
                try product(m: rows, n: d, k: v, (g, 0, v, 1), (w, 0, wClassStride, wFeatureStride), bias: nil,
                            (dH.mem, r0 * d, d), accumulate: false, skipMode: 3)
            }
            if let dW = outputs.classifierGradient {
                if layout == .dv {
                    // ∂W[k, j] += Σ_i H[r0 + i, k]·G_b[i, j]
                    try product(m: d, n: v, k: rows, (hidden.mem, r0 * d, 1, d), (g, 0, v, 1), bias: nil, (dW.mem, 0, v), accumulate: block > 0,
                                skipMode: 1)
                } else {
                    // ∂W[j, k] += Σ_i G_b[i, j]·H[r0 + i, k]
                    try product(m: v, n: d, k: rows, (g, 0, 1, v), (hidden.mem, r0 * d, d, 1), bias: nil, (dW.mem, 0, d), accumulate: block > 0,
                                skipMode: 2)
                }
            }
            if let db = outputs.biasGradient {
                try launch("column_sums", global: [v], local: nil, [.int(rows), .int(v), .buffer(g), .buffer(db.mem), .int(block > 0 ? 1 : 0)])
            }
        }
        let (words, value) = try reduceAndRead(rows: n, rowLoss: batchLoss.mem, rowZ: batchZ.mem, rowHit: batchHit.mem, accuracy: outputs.accuracy,
                                               mean: mean, statusWords: blockStatus.mem, count: 3 * blocks)
        // The first row at fault over the blocks (word k of block i reports a row of that block).
        func first(_ word: Int) -> Int? {
            (0..<blocks).lazy.compactMap { i in words[3 * i + word] == Int32.max ? nil : i * b + Int(words[3 * i + word]) }.first
        }
        if let row = first(1) { throw try labelError(labels, row: row, classes: v, ignoreIndex: options.ignoreIndex) }
        if let row = first(0) {
            for (buffer, what) in [(hidden, "hidden states"), (classifier, "classifier"), (bias, "bias")] {
                guard let buffer else { continue }
                let all = try read(buffer, from: 0, count: buffer.count)
                if let e = all.withUnsafeBufferPointer({ LinearCrossEntropyFault.nonFinite($0, cols: buffer.cols, what: what) }) { throw e }
            }
            throw LinearCrossEntropyFault.overflow(row: row)
        }
        return value
    }

    /// Bytes the fused linear cross-entropy allocates on the device beyond its inputs and outputs
    /// for this shape, by the formula above with every per-row buffer counted (at most: a call
    /// given per-row outputs allocates fewer). A test holds it to `lastLinearWorkspaceBytes`.
    public func linearCrossEntropyWorkspaceBytes(rows n: Int, features d: Int, vocabulary v: Int, gradient: Bool = true, filtered: Bool = false) -> Int {
        let b = parameters.linearBlockRows(rows: n, vocabulary: v, gradient: gradient, device: openCLDevice), t = parameters.tile
        return b * v * 4 * (gradient ? 2 : 1) + 24 * b + 16 * n + 12 * ((n + b - 1) / b) + (gradient && filtered ? 4 * ((b + t - 1) / t) * ((v + t - 1) / t) : 0)
    }
}
