#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Running max and Σ exp(f − max) of part of a row; merges across blocks and across column ranges.
struct RowStatistics {
    var max: Float = -.infinity
    var sum: Float = 0
    var finite = true

    /// Combines the statistics of two disjoint parts of a row.
    mutating func merge(_ other: RowStatistics) {
        let m = Swift.max(max, other.max)
        guard m > -.infinity else { finite = finite && other.finite; return }
        sum = sum * expf(max - m) + other.sum * expf(other.max - m)
        max = m
        finite = finite && other.finite
    }

    var logSum: Float { logf(sum) }
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

    func weight(_ j: Int) -> Float { weights?[j] ?? 1 }
}

/// The row-at-a-time kernel for C beyond a handful of classes, in two passes over the row:
///
/// 1. online statistics, block by block: the block's max (updating the running max m_b and
///    rescaling the running sum), then exp(f_j − m_b) summed and stored into the gradient row;
/// 2. the gradient: each stored exponential times a·exp(m_b − m), minus the target term.
///
/// One exponential per element, because the exp is the bottleneck on this machine (the copy
/// bandwidth is not). A row of up to ~100k floats stays in L2 between the passes, so DRAM sees one
/// read of the logits and one write of the gradient; the gradient is the only N×C buffer.
enum RowKernel {
    /// Block of the online max/sum: small enough to be re-read from L1 for the exponentials.
    static let block = 2048

    static func blockCount(_ count: Int) -> Int { (count + block - 1) / block }

    /// Pass one over `count` floats. When `exps` is given, exp(f_j − m_b) goes there and each
    /// block's max m_b into `blockMax` (blockCount(count) entries).
    static func statistics(
        _ f: UnsafePointer<Float>, _ count: Int,
        exps: UnsafeMutablePointer<Float>? = nil, blockMax: UnsafeMutablePointer<Float>? = nil
    ) -> RowStatistics {
        var m = -Float.infinity
        var s = Vec(repeating: 0)
        // x − x is 0 for finite x and NaN for ±inf and NaN, so one sum flags any non-finite input.
        var check = Vec(repeating: 0)
        var scalarCheck: Float = 0
        var scalarSum: Float = 0
        var j = 0
        var blockIndex = 0
        while j < count {
            let end = Swift.min(j + block, count)
            var blockMaxVec = Vec(repeating: -.infinity)
            var k = j
            while k + vecWidth <= end {
                let x = load(f + k)
                blockMaxVec = maximum(blockMaxVec, x)
                check += x - x
                k += vecWidth
            }
            var newMax = Swift.max(m, blockMaxVec.max())
            for t in k..<end {
                newMax = Swift.max(newMax, f[t])
                scalarCheck += f[t] - f[t]
            }
            if newMax > m {
                // Rescale what was summed against the old max (exp(−inf) = 0 on the first block).
                let r = expf(m - newMax)
                s *= Vec(repeating: r)
                scalarSum *= r
                m = newMax
            }
            let mv = Vec(repeating: m)
            k = j
            if let exps {
                blockMax![blockIndex] = m
                while k + vecWidth <= end {
                    let e = exp(load(f + k) - mv)
                    store(e, exps + k)
                    s += e
                    k += vecWidth
                }
                for t in k..<end {
                    exps[t] = expf(f[t] - m)
                    scalarSum += exps[t]
                }
            } else {
                while k + vecWidth <= end {
                    s += exp(load(f + k) - mv)
                    k += vecWidth
                }
                for t in k..<end { scalarSum += expf(f[t] - m) }
            }
            j = end
            blockIndex += 1
        }
        let total = check.sum() + scalarCheck
        return RowStatistics(max: m, sum: s.sum() + scalarSum, finite: total == 0)
    }

    /// Pass two: g_j = a·exp(f_j − m) − b·w_j over `count` columns, where g holds pass one's
    /// exp(f_j − m_b). Returns Σ_j w_j·(m − f_j) when `smoothingSum` is set (the label-smoothing
    /// part of the loss), else 0. Without g only that sum is computed.
    static func writeGradient(
        _ f: UnsafePointer<Float>, _ g: UnsafeMutablePointer<Float>?, _ count: Int, blockMax: UnsafePointer<Float>?,
        max m: Float, a: Float, b: Float, weights w: UnsafePointer<Float>?, smoothingSum: Bool
    ) -> Float {
        guard let g, let blockMax else {
            var sum: Float = 0
            if smoothingSum { for t in 0..<count { sum += (w?[t] ?? 1) * (m - f[t]) } }
            return sum
        }
        let mv = Vec(repeating: m), bv = Vec(repeating: b)
        var acc = Vec(repeating: 0)
        var scalarAcc: Float = 0
        var j = 0
        var blockIndex = 0
        while j < count {
            let end = Swift.min(j + block, count)
            // exp(f − m) = exp(f − m_b)·exp(m_b − m)
            let factor = a * expf(blockMax[blockIndex] - m)
            let fv = Vec(repeating: factor)
            var k = j
            if !smoothingSum {
                while k + vecWidth <= end {
                    store(fv * load(g + k), g + k)
                    k += vecWidth
                }
            } else if let w {
                while k + vecWidth <= end {
                    let wj = load(w + k)
                    store(fv * load(g + k) - bv * wj, g + k)
                    acc = multiplyAdd(wj, mv - load(f + k), acc)
                    k += vecWidth
                }
            } else {
                while k + vecWidth <= end {
                    store(fv * load(g + k) - bv, g + k)
                    acc += mv - load(f + k)
                    k += vecWidth
                }
            }
            for t in k..<end {
                let wj = w?[t] ?? 1
                g[t] = factor * g[t] - (smoothingSum ? b * wj : 0)
                if smoothingSum { scalarAcc += wj * (m - f[t]) }
            }
            j = end
            blockIndex += 1
        }
        return acc.sum() + scalarAcc
    }

    /// One class-index row: loss, log-sum-exp and (when g is given) the gradient, scaled.
    /// The caller has checked that y is the ignore index or in 0..<C.
    static func classIndexRow(
        _ f: UnsafePointer<Float>, _ g: UnsafeMutablePointer<Float>?, label y: Int32, _ k: XentConstants
    ) -> (loss: Float, lse: Float, finite: Bool) {
        let c = k.classes
        return withUnsafeTemporaryAllocation(of: Float.self, capacity: blockCount(c)) { blockMax in
            let ignored = y == k.ignoreIndex
            let stats = statistics(f, c, exps: ignored ? nil : g, blockMax: blockMax.baseAddress)
            let lse = stats.max + stats.logSum
            if ignored {
                g?.update(repeating: 0, count: c)
                return (0, lse, stats.finite)
            }
            let part = writeClassIndexGradient(f, g, blockMax: blockMax.baseAddress, label: Int(y), stats: stats, columns: 0..<c, k)
            return (rowLoss(f[Int(y)], smoothingPart: part, stats: stats, label: Int(y), k), lse, stats.finite)
        }
    }

    /// Pass two of a class-index row over a range of its columns, given the whole row's statistics
    /// (so a long row can be split across threads) and the range's block maxima from pass one.
    /// Returns that range's Σ_j w_j·(m − f_j).
    static func writeClassIndexGradient(
        _ f: UnsafePointer<Float>, _ g: UnsafeMutablePointer<Float>?, blockMax: UnsafePointer<Float>?,
        label y: Int, stats: RowStatistics,
        columns: Range<Int>, _ k: XentConstants
    ) -> Float {
        let target = ClassIndexTarget<Float>(labelWeight: k.weight(y), k)
        let (a, b, hot) = target.gradient(sum: stats.sum, scale: k.scale)
        let part = writeGradient(
            f + columns.lowerBound, g.map { $0 + columns.lowerBound }, columns.count, blockMax: blockMax,
            max: stats.max, a: a, b: b, weights: k.weights.map { $0 + columns.lowerBound }, smoothingSum: k.smoothing > 0)
        if let g, columns.contains(y) { g[y] -= hot }
        return part
    }

    /// The row's loss (`ClassIndexTarget.loss`), given pass two's smoothing part.
    static func rowLoss(_ fy: Float, smoothingPart: Float, stats: RowStatistics, label y: Int, _ k: XentConstants) -> Float {
        ClassIndexTarget<Float>(labelWeight: k.weight(y), k)
            .loss(labelLogit: fy, max: stats.max, logSum: stats.logSum, smoothingPart: smoothingPart, k)
    }

    /// One row with probability targets q (`ProbabilityTarget`): L = Σ_j t_j·(m − f_j) + T·log S,
    /// ∂L/∂f_j = scale·(T·p_j − t_j). Each t_j is computed once: it waits in the gradient row for T.
    static func probabilityRow(
        _ f: UnsafePointer<Float>, _ q: UnsafePointer<Float>, _ g: UnsafeMutablePointer<Float>?, _ k: XentConstants
    ) -> (loss: Float, lse: Float, finite: Bool) {
        let c = k.classes
        let stats = statistics(f, c)
        let logS = stats.logSum, m = stats.max
        var total: Float = 0, weighted: Float = 0
        for j in 0..<c {
            let t = ProbabilityTarget.coefficient(q[j], weight: k.weight(j), k)
            g?[j] = t
            total += t
            weighted += t * (m - f[j])
        }
        if let g {
            let a = k.scale * total / stats.sum
            for j in 0..<c { g[j] = a * expf(f[j] - m) - k.scale * g[j] }
        }
        return (weighted + total * logS, m + logS, stats.finite)
    }
}

