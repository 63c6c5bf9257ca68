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

/// The row-at-a-time kernel for C beyond a handful of classes: one streaming pass for the statistics
/// (max and sum found together, block by block), one pass that writes the gradient. A row of up to
/// ~100k floats stays in L2 between the two, so DRAM sees one read of the logits and one write of
/// the gradient.
enum RowKernel {
    /// Block of the online max/sum: small enough to be re-read from L1 for the exponentials.
    static let block = 2048

    /// The statistics of `count` floats, and whether all of them are finite.
    static func statistics(_ f: UnsafePointer<Float>, _ count: Int) -> RowStatistics {
        var m = -Float.infinity
        var s = Vec(repeating: 0)
        // x − x is 0 for finite x and NaN for ±inf and NaN, so one sum flags any non-finite input.
        var check = Vec(repeating: 0)
        var scalarCheck: Float = 0
        var scalarSum: Float = 0
        var j = 0
        while j < count {
            let end = Swift.min(j + block, count)
            var blockMax = Vec(repeating: -.infinity)
            var k = j
            while k + vecWidth <= end {
                let x = load(f + k)
                blockMax = maximum(blockMax, x)
                check += x - x
                k += vecWidth
            }
            var newMax = Swift.max(m, blockMax.max())
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
            while k + vecWidth <= end {
                s += exp(load(f + k) - mv)
                k += vecWidth
            }
            for t in k..<end { scalarSum += expf(f[t] - m) }
            j = end
        }
        let total = check.sum() + scalarCheck
        return RowStatistics(max: m, sum: s.sum() + scalarSum, finite: total == 0)
    }

    /// g_j = a·exp(f_j − m) − b·w_j over `count` columns; returns Σ_j w_j·(m − f_j) when
    /// `smoothingSum` is set (the label-smoothing part of the loss), else 0.
    static func writeGradient(
        _ f: UnsafePointer<Float>, _ g: UnsafeMutablePointer<Float>?, _ count: Int,
        max m: Float, a: Float, b: Float, weights w: UnsafePointer<Float>?, smoothingSum: Bool
    ) -> Float {
        let mv = Vec(repeating: m), av = Vec(repeating: a), bv = Vec(repeating: b)
        var acc = Vec(repeating: 0)
        var scalarAcc: Float = 0
        var j = 0
        if let g {
            if !smoothingSum {
                while j + vecWidth <= count {
                    store(av * exp(load(f + j) - mv), g + j)
                    j += vecWidth
                }
            } else if let w {
                while j + vecWidth <= count {
                    let x = load(f + j), wj = load(w + j)
                    store(av * exp(x - mv) - bv * wj, g + j)
                    acc = multiplyAdd(wj, mv - x, acc)
                    j += vecWidth
                }
            } else {
                while j + vecWidth <= count {
                    let x = load(f + j)
                    store(av * exp(x - mv) - bv, g + j)
                    acc += mv - x
                    j += vecWidth
                }
            }
            for t in j..<count {
                let wj = w?[t] ?? 1
                g[t] = a * expf(f[t] - m) - (smoothingSum ? b * wj : 0)
                if smoothingSum { scalarAcc += wj * (m - f[t]) }
            }
        } else if smoothingSum {
            for t in 0..<count { scalarAcc += (w?[t] ?? 1) * (m - f[t]) }
        }
        return acc.sum() + scalarAcc
    }

    /// One class-index row: loss, log-sum-exp and (when g is given) the gradient, scaled.
    /// The caller has checked that y is the ignore index or in 0..<C.
    static func classIndexRow(
        _ f: UnsafePointer<Float>, _ g: UnsafeMutablePointer<Float>?, label y: Int32, _ k: XentConstants
    ) -> (loss: Float, lse: Float, finite: Bool) {
        let c = k.classes
        let stats = statistics(f, c)
        let lse = stats.max + stats.logSum
        if y == k.ignoreIndex {
            g?.update(repeating: 0, count: c)
            return (0, lse, stats.finite)
        }
        let part = writeClassIndexGradient(f, g, label: Int(y), stats: stats, columns: 0..<c, k)
        return (rowLoss(f[Int(y)], smoothingPart: part, stats: stats, label: Int(y), k), lse, stats.finite)
    }

    /// Pass two of a class-index row over a range of its columns, given the whole row's statistics
    /// (so a long row can be split across threads). Returns that range's Σ_j w_j·(m − f_j).
    static func writeClassIndexGradient(
        _ f: UnsafePointer<Float>, _ g: UnsafeMutablePointer<Float>?, label y: Int, stats: RowStatistics,
        columns: Range<Int>, _ k: XentConstants
    ) -> Float {
        let eps = k.smoothing, c = Float(k.classes)
        let wy = k.weight(y)
        // t_j = (1 − ε)·w_y·δ_jy + (ε/C)·w_j and T = Σ_j t_j; ∂L/∂f_j = scale·(T·p_j − t_j).
        let total = (1 - eps) * wy + eps / c * k.weightSum
        let a = k.scale * total / stats.sum
        let b = k.scale * eps / c
        let part = writeGradient(
            f + columns.lowerBound, g.map { $0 + columns.lowerBound }, columns.count,
            max: stats.max, a: a, b: b, weights: k.weights.map { $0 + columns.lowerBound }, smoothingSum: eps > 0)
        if let g, columns.contains(y) { g[y] -= k.scale * (1 - eps) * wy }
        return part
    }

    /// L = (1 − ε)·w_y·(m − f_y + log S) + (ε/C)·(Σ_j w_j·(m − f_j) + W·log S): a sum of non-negative
    /// terms, so logits of 1e4 lose no precision to cancellation.
    static func rowLoss(_ fy: Float, smoothingPart: Float, stats: RowStatistics, label y: Int, _ k: XentConstants) -> Float {
        let eps = k.smoothing, logS = stats.logSum
        var loss = (1 - eps) * k.weight(y) * (stats.max - fy + logS)
        if eps > 0 { loss += eps / Float(k.classes) * (smoothingPart + k.weightSum * logS) }
        return loss
    }

    /// One row with probability targets q: t_j = w_j·((1 − ε)·q_j + ε/C), L = Σ_j t_j·(lse − f_j),
    /// ∂L/∂f_j = scale·(T·p_j − t_j).
    static func probabilityRow(
        _ f: UnsafePointer<Float>, _ q: UnsafePointer<Float>, _ g: UnsafeMutablePointer<Float>?, _ k: XentConstants
    ) -> (loss: Float, lse: Float, finite: Bool) {
        let n = k.classes, eps = k.smoothing, uniform = eps / Float(n)
        let stats = statistics(f, n)
        let logS = stats.logSum, m = stats.max
        var total: Float = 0, weighted: Float = 0
        for j in 0..<n {
            let t = k.weight(j) * ((1 - eps) * q[j] + uniform)
            total += t
            weighted += t * (m - f[j])
        }
        if let g {
            let a = k.scale * total / stats.sum
            for j in 0..<n {
                let t = k.weight(j) * ((1 - eps) * q[j] + uniform)
                g[j] = a * expf(f[j] - m) - k.scale * t
            }
        }
        return (weighted + total * logS, m + logS, stats.finite)
    }
}

