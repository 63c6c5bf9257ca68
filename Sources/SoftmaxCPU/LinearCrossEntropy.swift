import SoftmaxCore

/// Fused linear cross-entropy on the host: f = H·W + b, its loss, ∂H = G·Wᵀ, ∂W = Hᵀ·G and
/// ∂b = Σ_rows G, where G is the logits' gradient, without the N×V logits or G.
///
/// Rows go in blocks of `Tiles.rows`. A block's logits (rows × V) are the one V-long buffer:
/// computed once by the packed GEMM, their statistics merged chunk by chunk (`RowStatistics`),
/// and each chunk of `Tiles.vocab` columns turned into its gradient tile right before that tile
/// is used and dropped. So the work is the 6·N·D·V of the materialized path (no recompute of the
/// logits, as Cut Cross-Entropy does), and memory is a block, not the batch.
///
/// Threads split the vocabulary: each owns a contiguous range of chunks for the whole call, so it
/// alone writes those columns of ∂W and ∂b, and it keeps its own partial of the block's ∂H (summed
/// after the block). One barrier a block: a block's gradient needs the statistics of every column,
/// so each pass over the vocabulary does block r's backward and block r + 1's forward.
///
/// The row math is `RowKernel`'s (statistics, gradient, row loss), the same code as the fused
/// call's column split: every option that has holds here.
enum LinearCrossEntropy {
    /// Rows per block and vocabulary columns per tile.
    struct Tiles: Sendable, Equatable {
        var rows: Int
        var vocab: Int

        /// Rows so the block's logits stay within 1.5% of the batch's N×V logits and 48 MiB
        /// (the floor is one micro-tile of 6); tiles of 256 columns (a kc×256 packed panel
        /// of W is 256 KB, half a Zen 3 core's L2). BENCHMARKS.md measures larger blocks.
        static func automatic(rows n: Int, vocabulary v: Int) -> Tiles {
            let byShare = Int(0.015 * Double(n))
            let byBytes = (48 << 20) / (4 * Swift.max(v, 1))
            let rows = Swift.max(MatrixMultiply.mr, Swift.min(byShare, byBytes) / MatrixMultiply.mr * MatrixMultiply.mr)
            return Tiles(rows: Swift.min(rows, Swift.max(n, 1)), vocab: 256)
        }
    }

    /// The bytes a call allocates beyond its inputs and outputs, with `threads` workers:
    /// 4·(b·V + ⌈b/6⌉·6·D + ⌈D/6⌉·6·b + t·(b·c + b·D) + t·(96·256 + 256·c)) + small per-row state,
    /// b = tile rows, c = tile columns (rounded to 32 in the packed panels).
    static func workspaceBytes(_ tiles: Tiles, features d: Int, vocabulary v: Int, threads t: Int) -> Int {
        let b = tiles.rows, c = tiles.vocab
        let floats = b * v + MatrixMultiply.packedASize(m: b, k: d)
            + Swift.max(MatrixMultiply.packedASize(m: d, k: b), MatrixMultiply.packedBSize(k: b, n: d)) + t * (b * c + b * d)
        let perRow = b * (MemoryLayout<RowStatistics>.stride + MemoryLayout<Float>.size) * (t + 1)
        return floats * 4 + t * MatrixMultiply.Workspace.bytes(columns: c) + perRow
    }

    /// max |x_e| over count values.
    static func largestMagnitude(_ x: UnsafePointer<Float>, _ count: Int) -> Float {
        var m = Vec(repeating: 0), e = 0
        while e + vecWidth <= count {
            let v = load(x + e)
            m = pointwiseMax(m, pointwiseMax(v, -v))
            e += vecWidth
        }
        var largest = m.max()
        while e < count {
            largest = Swift.max(largest, abs(x[e]))
            e += 1
        }
        return largest
    }

    struct Problem {
        var hidden: UnsafePointer<Float>
        var rows: Int
        var features: Int
        /// D×V (this project's layout), or V×D (PyTorch's `nn.Linear.weight`) when `transposed`;
        /// ∂W is written in the same layout.
        var classifier: UnsafePointer<Float>
        var transposed: Bool
        var bias: UnsafePointer<Float>?
        var labels: UnsafePointer<Int32>
        var k: XentConstants
    }

    struct Gradients {
        var hidden: UnsafeMutablePointer<Float>?
        var classifier: UnsafeMutablePointer<Float>?
        var bias: UnsafeMutablePointer<Float>?
        /// Tiles whose every stored entry is below this are left out (`LinearCrossEntropyOutputs.filterEpsilon`
        /// times the reduction's scale); 0: none.
        var filter: Float = 0
        var any: Bool { hidden != nil || classifier != nil || bias != nil }
    }

    static func run(_ p: Problem, softcap: Float?, tiles: Tiles, _ out: FusedCrossEntropy.Outputs, _ grads: Gradients,
                    threads: Int = Parallel.workerCount) -> FusedCrossEntropy.Totals {
        if let softcap { return run(p, tiles: tiles, out, grads, threads: threads, map: Softcap(softcap)) }
        return run(p, tiles: tiles, out, grads, threads: threads, map: Uncapped())
    }

    private static func run<Map: LogitMap>(
        _ p: Problem, tiles: Tiles, _ out: FusedCrossEntropy.Outputs, _ grads: Gradients, threads: Int, map: Map
    ) -> FusedCrossEntropy.Totals {
        let n = p.rows, d = p.features, v = p.k.classes, k = p.k
        let blockRows = Swift.max(1, Swift.min(tiles.rows, n)), chunk = Swift.max(1, tiles.vocab)
        let chunks = (v + chunk - 1) / chunk
        let tasks = Swift.max(1, Swift.min(threads, chunks))
        // Chunk range of each task: fixed for the whole call, so ∂W's columns have one writer.
        let chunkRanges = (0..<tasks).map { Parallel.range($0, of: tasks, count: chunks) }

        let logits = UnsafeMutablePointer<Float>.allocate(capacity: blockRows * v)
        let packedH = UnsafeMutablePointer<Float>.allocate(capacity: MatrixMultiply.packedASize(m: blockRows, k: d))
        // ∂W's shared operand: Hᵀ as A (D×V layout) or H as B (V×D layout), packed once a block.
        let packedHt = UnsafeMutablePointer<Float>.allocate(
            capacity: Swift.max(MatrixMultiply.packedASize(m: d, k: blockRows), MatrixMultiply.packedBSize(k: blockRows, n: d)))
        let tileG = UnsafeMutablePointer<Float>.allocate(capacity: tasks * blockRows * chunk)
        let partialH = UnsafeMutablePointer<Float>.allocate(capacity: tasks * blockRows * d)
        let partialStats = UnsafeMutablePointer<RowStatistics>.allocate(capacity: tasks * blockRows)
        let stats = UnsafeMutablePointer<RowStatistics>.allocate(capacity: blockRows)
        let smoothingParts = UnsafeMutablePointer<Float>.allocate(capacity: tasks * blockRows)
        // f'_y of each row, taken when its tile is computed (the tile is overwritten by the next block's).
        let labelLogits = UnsafeMutablePointer<Float>.allocate(capacity: 2 * blockRows)
        let workspaces = (0..<tasks).map { _ in MatrixMultiply.Workspace(columns: chunk) }
        defer {
            logits.deallocate(); packedH.deallocate(); packedHt.deallocate(); tileG.deallocate(); partialH.deallocate()
            partialStats.deallocate(); stats.deallocate(); smoothingParts.deallocate(); labelLogits.deallocate()
            for w in workspaces { w.deallocate() }
        }
        grads.classifier?.update(repeating: 0, count: d * v)
        grads.bias?.update(repeating: 0, count: v)
        // The smoothing part of the loss needs a pass over the logits with the row's final max.
        let needsSecondPass = grads.any || k.smoothing > 0
        let blocks = (n + blockRows - 1) / blockRows
        func rows(_ block: Int) -> Int { Swift.min(blockRows, n - block * blockRows) }

        /// Block `block`'s logits for chunk `c` (bias, then H·W), their statistics merged into the
        /// task's partials, and the label logits of the rows whose label falls in the chunk.
        func forward(_ t: Int, _ c: Int, block: Int) {
            let b = rows(block), c0 = c * chunk, width = Swift.min(chunk, v - c0)
            let labels = p.labels + block * blockRows, mine = partialStats + t * blockRows
            let labelLogit = labelLogits + (block % 2) * blockRows
            for i in 0..<b {
                let row = logits + i * v + c0
                if let bias = p.bias { row.update(from: bias + c0, count: width) } else { row.update(repeating: 0, count: width) }
            }
            MatrixMultiply.accumulateSerial(
                m: b, n: width, k: d, a: .packed(packedH),
                b: p.transposed ? .transposed(p.classifier + c0 * d, ldbt: d) : .rowMajor(p.classifier + c0, ldb: v),
                c: logits + c0, ldc: v, workspaces[t])
            for i in 0..<b {
                var s = RowKernel.statistics(UnsafePointer(logits + i * v + c0), width, map: map, argmax: k.argmax)
                s.argmax += c0
                mine[i].merge(s)
                let y = Int(labels[i])
                if y >= c0 && y < c0 + width { labelLogit[i] = logits[i * v + y] }
            }
        }

        /// Block `block`'s gradient tile for chunk `c` from its logits and the rows' statistics,
        /// then the three products that use it; the rows' smoothing parts are added up on the way.
        func backward(_ t: Int, _ c: Int, block: Int, blockMax: UnsafeMutablePointer<Float>) {
            let b = rows(block), c0 = c * chunk, width = Swift.min(chunk, v - c0)
            let labels = p.labels + block * blockRows
            let g = tileG + t * blockRows * chunk, dh = partialH + t * blockRows * d, parts = smoothingParts + t * blockRows
            for i in 0..<b {
                let f = logits + i * v, y = labels[i]
                let gRow: UnsafeMutablePointer<Float>? = grads.any ? g + i * width : nil
                if y == k.ignoreIndex {
                    gRow?.update(repeating: 0, count: width)
                    continue
                }
                if let gRow {
                    _ = RowKernel.statistics(UnsafePointer(f + c0), width, map: map, exps: gRow, blockMax: blockMax, sloped: k.slopedExps(map))
                }
                // The tile's row as `writeClassIndexGradient` indexes it: by column of the whole row.
                let shifted = gRow.map { $0 - c0 }
                parts[i] += RowKernel.writeClassIndexGradient(
                    UnsafePointer(f), exps: shifted, into: shifted, blockMax: blockMax, label: Int(y), stats: stats[i],
                    columns: c0..<(c0 + width), k, map: map)
            }
            guard grads.any, !(grads.filter > 0 && largestMagnitude(g, b * width) < grads.filter) else { return }
            if let dw = grads.classifier, p.transposed {
                // ∂Wᵀ's rows c0..<c0+width (contiguous): G_cᵀ · H_b.
                MatrixMultiply.accumulateSerial(
                    m: width, n: d, k: b, a: .strided(.init(base: g, rowStride: 1, colStride: width)),
                    b: .packed(packedHt), c: dw + c0 * d, ldc: d, workspaces[t])
            } else if let dw = grads.classifier {
                MatrixMultiply.accumulateSerial(
                    m: d, n: width, k: b, a: .packed(packedHt), b: .rowMajor(g, ldb: width),
                    c: dw + c0, ldc: v, workspaces[t])
            }
            if grads.hidden != nil {
                MatrixMultiply.accumulateSerial(
                    m: b, n: d, k: width, a: .strided(.init(base: g, rowStride: width, colStride: 1)),
                    b: p.transposed ? .rowMajor(p.classifier + c0 * d, ldb: d) : .transposed(p.classifier + c0, ldbt: v),
                    c: dh, ldc: d, workspaces[t])
            }
            if let db = grads.bias {
                for i in 0..<b { for j in 0..<width { db[c0 + j] += g[i * width + j] } }
            }
        }

        func prepackHidden(_ block: Int) {
            MatrixMultiply.prepackA(.init(base: p.hidden + block * blockRows * d, rowStride: d, colStride: 1), m: rows(block), k: d, into: packedH)
        }
        func mergeStatistics(_ block: Int) {
            for i in 0..<rows(block) {
                var s = partialStats[i]
                for t in 1..<tasks { s.merge(partialStats[t * blockRows + i]) }
                stats[i] = s
            }
        }

        var totals = FusedCrossEntropy.Totals()
        // Block 0's forward alone; then each pass over the vocabulary does block r's backward and,
        // tile by tile while that tile of W is still in cache, block r + 1's forward: W is read
        // from memory once a block, not twice.
        prepackHidden(0)
        for i in 0..<(tasks * blockRows) { partialStats[i] = RowStatistics() }
        Parallel.forEach(tasks, tasks: tasks) { t, _ in for c in chunkRanges[t] { forward(t, c, block: 0) } }
        mergeStatistics(0)
        for block in 0..<blocks {
            let b = rows(block), r0 = block * blockRows
            let next = block + 1 < blocks ? block + 1 : nil
            let labels = p.labels + r0, h = p.hidden + r0 * d
            if let next {
                prepackHidden(next)
                for i in 0..<(tasks * blockRows) { partialStats[i] = RowStatistics() }
            }
            if needsSecondPass {
                if grads.classifier != nil && !p.transposed {
                    MatrixMultiply.prepackA(.init(base: h, rowStride: 1, colStride: d), m: d, k: b, into: packedHt)
                } else if grads.classifier != nil {
                    MatrixMultiply.prepackB(h, ldb: d, k: b, n: d, into: packedHt, workspaces[0])
                }
                if grads.hidden != nil { partialH.update(repeating: 0, count: tasks * blockRows * d) }
                for i in 0..<(tasks * blockRows) { smoothingParts[i] = 0 }
            }
            if needsSecondPass || next != nil {
                Parallel.forEach(tasks, tasks: tasks) { t, _ in
                    withUnsafeTemporaryAllocation(of: Float.self, capacity: RowKernel.blockCount(chunk)) { blockMax in
                        for c in chunkRanges[t] {
                            if needsSecondPass { backward(t, c, block: block, blockMax: blockMax.baseAddress!) }
                            if let next { forward(t, c, block: next) }
                        }
                    }
                }
            }

            let labelLogit = labelLogits + (block % 2) * blockRows
            for i in 0..<b {
                let row = r0 + i, y = labels[i], s = stats[i]
                out.lse?[row] = s.lse
                out.predictions?[row] = Int32(s.argmax)
                if !s.finite && totals.firstNonFiniteRow == nil { totals.firstNonFiniteRow = row }
                guard y != k.ignoreIndex else {
                    out.rowLoss?[row] = 0
                    continue
                }
                var part: Float = 0
                for t in 0..<tasks { part += smoothingParts[t * blockRows + i] }
                let loss = RowKernel.rowLoss(labelLogit[i], smoothingPart: k.smoothing > 0 ? part : 0, stats: s, label: Int(y), k, map: map)
                let z = k.zLoss.loss(lse: s.lse)
                out.rowLoss?[row] = loss + z
                totals.loss += Double(loss)
                totals.z += Double(z)
                if k.argmax && Int(y) == s.argmax { totals.correct += 1 }
            }
            if let dhOut = grads.hidden {
                let dst = dhOut + r0 * d
                dst.update(from: partialH, count: b * d)
                for t in 1..<tasks {
                    let src = partialH + t * blockRows * d
                    for e in 0..<(b * d) { dst[e] += src[e] }
                }
            }
            if let next { mergeStatistics(next) }
        }
        return totals
    }
}
