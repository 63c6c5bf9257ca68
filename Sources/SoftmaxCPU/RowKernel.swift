#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Running max and Σ exp(f' − max) of part of a row; merges across blocks and across column ranges.
/// `max` is in the map's domain (f' = softcap(f), or f); `rawMax` and `argmax` (the first index of
/// `rawMax`, when asked for) are in f's, since the map is increasing and float rounding could make
/// two different logits equal after it.
struct RowStatistics {
    var max: Float = -.infinity
    var sum: Float = 0
    var finite = true
    var rawMax: Float = -.infinity
    var argmax = 0

    /// Combines the statistics of two disjoint parts of a row (`other` after this one).
    mutating func merge(_ other: RowStatistics) {
        if other.rawMax > rawMax { rawMax = other.rawMax; argmax = other.argmax }
        let m = Swift.max(max, other.max)
        guard m > -.infinity else { finite = finite && other.finite; return }
        sum = sum * expf(max - m) + other.sum * expf(other.max - m)
        max = m
        finite = finite && other.finite
    }

    var logSum: Float { logf(sum) }
    var lse: Float { max + logSum }
}

/// One row's results: its cross-entropy and z part (their sum is the row's loss), lse, whether its
/// logits were finite, and its argmax (when asked for).
struct RowResult {
    var loss: Float
    var z: Float
    var lse: Float
    var finite: Bool
    var argmax: Int
}

/// Per-call constants of the fused loss+gradient.
struct XentConstants {
    var classes: Int
    /// 1 for sum and none, 1/denominator for mean: the gradient is written already scaled.
    var scale: Float
    var smoothing: Float
    /// C class weights, or nil for all ones.
    var weights: UnsafePointer<Float>?
    /// Σ_j w_j.
    var weightSum: Float
    var ignoreIndex: Int32
    var zLoss: ZLossTerm
    /// Whether each row's argmax is wanted (predictions or accuracy).
    var argmax: Bool

    func weight(_ j: Int) -> Float { weights?[j] ?? 1 }

    /// Whether pass one stores exp(f' − m_b) times the softcap's slope (`RowKernel.statistics`).
    func slopedExps<Map: LogitMap>(_ map: Map) -> Bool { !map.isIdentity && smoothing == 0 }
}

/// The row-at-a-time kernel for C beyond a handful of classes, in two passes over the row:
///
/// 1. online statistics, block by block, in one sweep over each block: exp(f'_j − r_b) summed and
///    stored into the gradient row, against a reference r_b (the running max of f' before the
///    block), while the block's max is gathered; then the running max and sum are updated;
/// 2. the gradient: each stored exponential times a·exp(r_b − m), minus the target term.
///
/// One exponential per element and one read of each block, because the arithmetic, not the copy
/// bandwidth, is the bottleneck on this machine. A block may rise above its reference: exponentials
/// up to e^`headroom` are stored as they are, and a block that rises further (the first block of a
/// row, whose reference is only its first vector's max; a row whose logits climb) is swept again
/// against its own max. A row of up to ~100k floats stays in L2 between the passes, so DRAM sees
/// one read of the logits and one write of the gradient; the gradient is the only N×C buffer.
enum RowKernel {
    /// Block of the online max/sum: small enough to be re-read from L1 if it must be swept again.
    static let block = 2048

    /// How far above its reference a block's f' may rise before it is swept again: e^64·`block`
    /// stays far inside float's range. (An entry stored against a reference far below the row's
    /// final max meets a tiny factor in pass two, down to subnormals, and keeps fewer digits: only
    /// where its probability is below float's resolution of 1 anyway.)
    static let headroom: Float = 64

    static func blockCount(_ count: Int) -> Int { (count + block - 1) / block }

    /// Pass one over `count` floats. When `exps` is given, exp(f'_j − r_b) goes there and each
    /// block's reference r_b (in f') into `blockMax` (blockCount(count) entries); with `sloped`
    /// (a softcap without smoothing, whose gradient is then a·exp(f'_j − m)·∂f'_j/∂f_j alone), the
    /// exponential times the slope goes there instead, so that pass two needs no second tanh.
    /// With `argmax`, the first index of the max is found by scanning the block where the max last rose.
    static func statistics<Map: LogitMap, Row: LogitRow>(
        _ f: Row, _ count: Int, map: Map, argmax: Bool = false,
        exps: UnsafeMutablePointer<Float>? = nil, blockMax: UnsafeMutablePointer<Float>? = nil, sloped: Bool = false
    ) -> RowStatistics {
        // m: running max of f; mc: of f' (the map of m); sum: Σ exp(f' − mc) so far.
        var m = -Float.infinity, mc = -Float.infinity
        var sum: Float = 0
        // x·0 is 0 for finite x and NaN for ±inf and NaN, so one sum flags any non-finite input.
        var check = Vec(repeating: 0)
        var scalarCheck: Float = 0
        // The first block's reference: the max of its first vector (or of the short row).
        var reference = -Float.infinity
        for t in 0..<Swift.min(vecWidth, count) { reference = Swift.max(reference, f.value(at: t)) }
        reference = map.value(reference)
        var j = 0
        var blockIndex = 0
        var maxBlockStart = 0
        while j < count {
            let end = Swift.min(j + block, count)
            var sweep = sweepBlock(f, j..<end, reference: reference, map: map, exps: exps, sloped: sloped, check: &check)
            let tailCheck = sweep.tailCheck
            if map.value(sweep.max) - reference > headroom {
                reference = map.value(sweep.max)
                var discard = Vec(repeating: 0)
                sweep = sweepBlock(f, j..<end, reference: reference, map: map, exps: exps, sloped: sloped, check: &discard)
            }
            scalarCheck += tailCheck
            blockMax?[blockIndex] = reference
            if sweep.max > m {
                let capped = map.value(sweep.max)
                // exp(−inf) = 0 rescales nothing on the first block.
                sum = sum * expf(mc - capped) + sweep.sum * expf(reference - capped)
                m = sweep.max
                mc = capped
                maxBlockStart = j
            } else {
                sum += sweep.sum * expf(reference - mc)
            }
            reference = mc
            j = end
            blockIndex += 1
        }
        let total = check.sum() + scalarCheck
        var first = 0
        if argmax {
            let end = Swift.min(maxBlockStart + block, count)
            first = (maxBlockStart..<end).first { f.value(at: $0) == m } ?? maxBlockStart
        }
        return RowStatistics(max: mc, sum: sum, finite: total == 0, rawMax: m, argmax: first)
    }

    /// One block's sweep: its raw max, Σ exp(f'_j − reference), and the exponentials stored (times
    /// the slope when `sloped`); the vector loop's finiteness check goes into `check`, the scalar
    /// tail's into `tailCheck`.
    /// Not inlined: a call per block costs nothing, and inlined twice it made `statistics` too
    /// large for the optimizer to inline the 16-bit conversions into it (they became calls).
    @inline(never)
    private static func sweepBlock<Map: LogitMap, Row: LogitRow>(
        _ f: Row, _ range: Range<Int>, reference: Float, map: Map, exps: UnsafeMutablePointer<Float>?, sloped: Bool,
        check: inout Vec
    ) -> (max: Float, sum: Float, tailCheck: Float) {
        let rv = Vec(repeating: reference), zero = Vec(repeating: 0)
        var maxVec = Vec(repeating: -.infinity)
        var s0 = Vec(repeating: 0), s1 = Vec(repeating: 0)
        @inline(__always) func sweep(_ k: Int, _ s: inout Vec) {
            f.prefetch(after: k)
            let x = f.vector(at: k)
            check = multiplyAdd(x, zero, check)
            maxVec = maximum(maxVec, x)
            let fc = map.value(x)
            let e = exp(fc - rv)
            if let exps { store(sloped ? e * map.slope(capped: fc) : e, exps + k) }
            s += e
        }
        var k = range.lowerBound
        let vectorEnd = range.lowerBound + (range.count / vecWidth) * vecWidth
        // Two vectors a step: two independent exponentials in flight (their chains of dependent
        // multiply-adds, not the operation count, set the pace: 7% faster with the rows in cache; four
        // a step measured no better).
        while k &+ 2 * vecWidth <= vectorEnd {
            sweep(k, &s0)
            sweep(k &+ vecWidth, &s1)
            k &+= 2 * vecWidth
        }
        if k < vectorEnd { sweep(k, &s0) }
        let s = s0 + s1
        var blockMax = maxVec.max()
        var scalarSum: Float = 0, tailCheck: Float = 0
        for t in vectorEnd..<range.upperBound {
            let x = f.value(at: t)
            tailCheck += x - x
            blockMax = Swift.max(blockMax, x)
            let fc = map.value(x)
            let e = expf(fc - reference)
            exps?[t] = sloped ? e * map.slope(capped: fc) : e
            scalarSum += e
        }
        return (blockMax, s.sum() + scalarSum, tailCheck)
    }

    /// Pass two: g_j = (a·exp(f'_j − m) − b·w_j)·∂f'_j/∂f_j over `count` columns into `out`, where
    /// g holds pass one's exp(f'_j − r_b) (times the slope already for a softcap without smoothing,
    /// where b = 0); `out` may be g itself. Returns Σ_j w_j·(m − f'_j) when `smoothingSum` is set
    /// (the label-smoothing part of the loss), else 0. Without g only that sum is computed.
    static func writeGradient<Map: LogitMap, Row: LogitRow, Out: GradientRow>(
        _ f: Row, _ g: UnsafeMutablePointer<Float>?, into out: Out?, _ count: Int, blockMax: UnsafePointer<Float>?,
        max m: Float, a: Float, b: Float, weights w: UnsafePointer<Float>?, smoothingSum: Bool, map: Map
    ) -> Float {
        guard let g, let out, let blockMax else {
            var sum: Float = 0
            if smoothingSum { for t in 0..<count { sum += (w?[t] ?? 1) * (m - map.value(f.value(at: t))) } }
            return sum
        }
        let mv = Vec(repeating: m), bv = Vec(repeating: b)
        var acc = Vec(repeating: 0)
        var scalarAcc: Float = 0
        var j = 0
        var blockIndex = 0
        while j < count {
            let end = Swift.min(j + block, count)
            let factor = blockFactor(blockMax[blockIndex], max: m, a: a)
            let fv = Vec(repeating: factor)
            var k = j
            if !map.isIdentity && smoothingSum {
                // The slope and the smoothing part need f' again: one more tanh per element.
                while k + vecWidth <= end {
                    let fc = map.value(f.vector(at: k))
                    let wj = w.map { load($0 + k) } ?? Vec(repeating: 1)
                    out.store((fv * load(g + k) - bv * wj) * map.slope(capped: fc), at: k)
                    acc = multiplyAdd(wj, mv - fc, acc)
                    k += vecWidth
                }
            } else if !smoothingSum {
                while k + vecWidth <= end {
                    out.store(fv * load(g + k), at: k)
                    k += vecWidth
                }
            } else if let w {
                while k + vecWidth <= end {
                    let wj = load(w + k)
                    out.store(fv * load(g + k) - bv * wj, at: k)
                    acc = multiplyAdd(wj, mv - f.vector(at: k), acc)
                    k += vecWidth
                }
            } else {
                while k + vecWidth <= end {
                    out.store(fv * load(g + k) - bv, at: k)
                    acc += mv - f.vector(at: k)
                    k += vecWidth
                }
            }
            for t in k..<end {
                out.set(gradient(f, g, at: t, factor: factor, b: b, weights: w, smoothing: smoothingSum, map: map), at: t)
                if smoothingSum { scalarAcc += (w?[t] ?? 1) * (m - map.value(f.value(at: t))) }
            }
            j = end
            blockIndex += 1
        }
        return acc.sum() + scalarAcc
    }

    /// a·exp(r_b − m): what pass two multiplies block b's stored exponentials by.
    @inline(__always)
    static func blockFactor(_ reference: Float, max m: Float, a: Float) -> Float { a * expf(reference - m) }

    /// Pass two's formula at one column (before the label's term), from the stored exponential g[t].
    @inline(__always)
    static func gradient<Map: LogitMap, Row: LogitRow>(
        _ f: Row, _ g: UnsafeMutablePointer<Float>, at t: Int, factor: Float, b: Float, weights w: UnsafePointer<Float>?,
        smoothing: Bool, map: Map
    ) -> Float {
        let wj = w?[t] ?? 1
        if map.isIdentity || !smoothing { return factor * g[t] - (smoothing ? b * wj : 0) }
        return (factor * g[t] - b * wj) * map.slope(capped: map.value(f.value(at: t)))
    }

    /// One class-index row: loss, log-sum-exp and (when `exps` and `out` are given) the gradient,
    /// scaled, with pass one's exponentials in `exps` (which may be `out` itself, for float32).
    /// The caller has checked that y is the ignore index or in 0..<C.
    static func classIndexRow<Map: LogitMap, Row: LogitRow, Out: GradientRow>(
        _ f: Row, exps g: UnsafeMutablePointer<Float>?, into out: Out?, label y: Int32, _ k: XentConstants, map: Map
    ) -> RowResult {
        let c = k.classes
        return withUnsafeTemporaryAllocation(of: Float.self, capacity: blockCount(c)) { blockMax in
            let ignored = y == k.ignoreIndex
            let stats = statistics(f, c, map: map, argmax: k.argmax, exps: ignored ? nil : g, blockMax: blockMax.baseAddress,
                                   sloped: k.slopedExps(map))
            if ignored {
                out?.zero(count: c)
                return RowResult(loss: 0, z: 0, lse: stats.lse, finite: stats.finite, argmax: stats.argmax)
            }
            let part = writeClassIndexGradient(f, exps: g, into: out, blockMax: blockMax.baseAddress, label: Int(y), stats: stats,
                                               columns: 0..<c, k, map: map)
            return RowResult(loss: rowLoss(f.value(at: Int(y)), smoothingPart: part, stats: stats, label: Int(y), k, map: map),
                             z: k.zLoss.loss(lse: stats.lse), lse: stats.lse, finite: stats.finite, argmax: stats.argmax)
        }
    }

    /// Pass two of a class-index row over a range of its columns, given the whole row's statistics
    /// (so a long row can be split across threads) and the range's block references from pass one.
    /// The label's entry, p_y − 1 and all, is formed in float32 before pass two (which may round
    /// into a 16-bit `out`) and written after it. Returns that range's Σ_j w_j·(m − f'_j).
    static func writeClassIndexGradient<Map: LogitMap, Row: LogitRow, Out: GradientRow>(
        _ f: Row, exps g: UnsafeMutablePointer<Float>?, into out: Out?, blockMax: UnsafePointer<Float>?,
        label y: Int, stats: RowStatistics,
        columns: Range<Int>, _ k: XentConstants, map: Map
    ) -> Float {
        let target = ClassIndexTarget<Float>(labelWeight: k.weight(y), k)
        let (a, b, hot) = target.gradient(sum: stats.sum, scale: k.scale, zCoefficient: k.zLoss.pCoefficient(lse: stats.lse))
        let lo = columns.lowerBound
        var label: Float?
        if let g, let blockMax, columns.contains(y) {
            let t = y - lo
            let factor = blockFactor(blockMax[t / block], max: stats.max, a: a)
            label = gradient(f.advanced(by: lo), g + lo, at: t, factor: factor, b: b, weights: k.weights.map { $0 + lo },
                             smoothing: k.smoothing > 0, map: map)
                - hot * map.slope(capped: map.value(f.value(at: y)))
        }
        let part = writeGradient(
            f.advanced(by: lo), g.map { $0 + lo }, into: out?.advanced(by: lo), columns.count, blockMax: blockMax,
            max: stats.max, a: a, b: b, weights: k.weights.map { $0 + lo }, smoothingSum: k.smoothing > 0, map: map)
        if let label { out?.set(label, at: y) }
        return part
    }

    /// The row's cross-entropy (`ClassIndexTarget.loss`), given pass two's smoothing part.
    static func rowLoss<Map: LogitMap>(
        _ fy: Float, smoothingPart: Float, stats: RowStatistics, label y: Int, _ k: XentConstants, map: Map
    ) -> Float {
        ClassIndexTarget<Float>(labelWeight: k.weight(y), k)
            .loss(labelLogit: map.value(fy), max: stats.max, logSum: stats.logSum, smoothingPart: smoothingPart, k)
    }

    /// One row with probability targets q (`ProbabilityTarget`): L = Σ_j t_j·(m − f'_j) + T·log S,
    /// ∂L/∂f'_j = scale·(T·p_j − t_j) + the z part's. Each t_j is computed once: it waits in the
    /// gradient row for T. `targetArgmax` is set to the first argmax of q when k.argmax.
    static func probabilityRow<Map: LogitMap>(
        _ f: UnsafePointer<Float>, _ q: UnsafePointer<Float>, _ g: UnsafeMutablePointer<Float>?, _ k: XentConstants,
        map: Map, targetArgmax: inout Int
    ) -> RowResult {
        let c = k.classes
        let stats = statistics(f, c, map: map, argmax: k.argmax)
        let logS = stats.logSum, m = stats.max
        var total: Float = 0, weighted: Float = 0
        for j in 0..<c {
            let t = ProbabilityTarget.coefficient(q[j], weight: k.weight(j), k)
            g?[j] = t
            total += t
            weighted += t * (m - map.value(f[j]))
        }
        if k.argmax {
            targetArgmax = 0
            for j in 1..<Swift.max(c, 1) where q[j] > q[targetArgmax] { targetArgmax = j }
        }
        if let g {
            let a = (k.scale * total + k.zLoss.pCoefficient(lse: stats.lse)) / stats.sum
            for j in 0..<c {
                let fc = map.value(f[j])
                g[j] = (a * expf(fc - m) - k.scale * g[j]) * map.slope(capped: fc)
            }
        }
        return RowResult(loss: weighted + total * logS, z: k.zLoss.loss(lse: stats.lse), lse: stats.lse,
                         finite: stats.finite, argmax: stats.argmax)
    }
}
