#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Small C (2...16 classes): 16 rows in the 16 lanes. A row of 10 logits fills less than one vector,
/// so the row-at-a-time kernel spends its time on horizontal reductions and tails (2 GB/s measured);
/// with lane r holding row r, max, sum and gradient are plain element-wise vector operations.
///
/// C is a generic value parameter so each class count gets its own fully unrolled code: with a
/// run-time C the transposes were scalar loops with overflow checks, most of the time spent.
struct LanesKernel<let C: Int> {
    /// Whole blocks of 16 rows of `rows`, starting at rows.lowerBound; returns the summed loss,
    /// the first row with a non-finite logit, and where the blocks ended.
    static func blocks(
        _ f: UnsafePointer<Float>, rows: Range<Int>, labels: UnsafePointer<Int32>, _ k: XentConstants,
        _ out: FusedCrossEntropy.Outputs
    ) -> (loss: Double, firstBad: Int?, end: Int) {
        var total = 0.0
        var firstBad: Int?
        var i = rows.lowerBound
        withUnsafeTemporaryAllocation(of: Vec.self, capacity: 2 * C) { scratch in
            while i + vecWidth <= rows.upperBound {
                let r = block(f + i &* C, out.gradient.map { $0 + i &* C }, labels: labels + i,
                              rowLoss: out.rowLoss.map { $0 + i }, lse: out.lse.map { $0 + i },
                              scratch: scratch.baseAddress!, k)
                total += r.loss
                if !r.finite && firstBad == nil {
                    firstBad = (i..<(i + vecWidth)).first { row in
                        UnsafeBufferPointer(start: f + row * C, count: C).contains { !$0.isFinite }
                    }
                }
                i += vecWidth
            }
        }
        return (total, firstBad, i)
    }

    /// One block of 16 class-index rows starting at `f` (16·C floats). `scratch` holds 2·C vectors.
    /// Returns the block's summed loss and whether all its logits are finite.
    @inline(__always)
    static func block(
        _ f: UnsafePointer<Float>, _ g: UnsafeMutablePointer<Float>?, labels: UnsafePointer<Int32>,
        rowLoss: UnsafeMutablePointer<Float>?, lse: UnsafeMutablePointer<Float>?,
        scratch: UnsafeMutablePointer<Vec>, _ k: XentConstants
    ) -> (loss: Double, finite: Bool) {
        let c = C
        let xs = scratch, es = scratch + c
        let xf = UnsafeMutableRawPointer(xs).assumingMemoryBound(to: Float.self)
        let ef = UnsafeMutableRawPointer(es).assumingMemoryBound(to: Float.self)
        // Transpose in: vector j holds column j of the 16 rows.
        for r in 0..<vecWidth {
            for j in 0..<c { xf[j &* vecWidth &+ r] = f[r &* c &+ j] }
        }
        var m = xs[0]
        var check = xs[0] - xs[0]
        for j in 1..<c {
            m = maximum(m, xs[j])
            check += xs[j] - xs[j]
        }
        var s = Vec(repeating: 0)
        for j in 0..<c {
            let e = exp(xs[j] - m)
            es[j] = e
            s += e
        }

        let y = UnsafeRawPointer(labels).loadUnaligned(as: SIMD16<Int32>.self)
        let ignored = y .== SIMD16(repeating: k.ignoreIndex)
        var wy = Vec(repeating: 1)
        if let w = k.weights {
            for r in 0..<vecWidth where !ignored[r] { wy[r] = w[Int(y[r])] }
        }
        let eps = k.smoothing, uniform = eps / Float(c)
        let zero = Vec(repeating: 0)
        // t_j = (1 − ε)·w_y·δ_jy + (ε/C)·w_j; ∂L/∂f_j = scale·(T·p_j − t_j), zero on ignored rows.
        let total = (1 - eps) * wy + uniform * k.weightSum
        let a = (k.scale * total / s).replacing(with: zero, where: ignored)
        let b = Vec(repeating: k.scale * uniform).replacing(with: zero, where: ignored)
        let hot = (k.scale * (1 - eps) * wy).replacing(with: zero, where: ignored)
        var smooth = zero, fy = zero
        // Integer lane comparisons compile to a scalar loop here; float ones to one vcmpps, and
        // labels below 16 are exact in float.
        let yf = Vec(y)
        for j in 0..<c {
            let isLabel = yf .== Vec(repeating: Float(j))
            let wj = Vec(repeating: k.weight(j))
            var gj = a * es[j] - b * wj
            gj.replace(with: gj - hot, where: isLabel)
            es[j] = gj
            if eps > 0 { smooth = multiplyAdd(wj, m - xs[j], smooth) }
            fy.replace(with: xs[j], where: isLabel)
        }
        let logS = log(s)
        // L = (1 − ε)·w_y·(m − f_y + log S) + (ε/C)·(Σ_j w_j·(m − f_j) + W·log S)
        var loss = (1 - eps) * wy * (m - fy + logS)
        if eps > 0 { loss += uniform * (smooth + k.weightSum * logS) }
        loss.replace(with: zero, where: ignored)
        if let g {
            for r in 0..<vecWidth {
                for j in 0..<c { g[r &* c &+ j] = ef[j &* vecWidth &+ r] }
            }
        }
        if let rowLoss { store(loss, rowLoss) }
        if let lse { store(m + logS, lse) }
        return (Double(loss.sum()), check.sum() == 0)
    }
}

/// Chooses the LanesKernel specialization for a run-time class count.
enum LanesKernels {
    static let classRange = 2...16

    static func blocks(
        _ f: UnsafePointer<Float>, rows: Range<Int>, labels: UnsafePointer<Int32>, _ k: XentConstants,
        _ out: FusedCrossEntropy.Outputs
    ) -> (loss: Double, firstBad: Int?, end: Int) {
        switch k.classes {
        case 2: LanesKernel<2>.blocks(f, rows: rows, labels: labels, k, out)
        case 3: LanesKernel<3>.blocks(f, rows: rows, labels: labels, k, out)
        case 4: LanesKernel<4>.blocks(f, rows: rows, labels: labels, k, out)
        case 5: LanesKernel<5>.blocks(f, rows: rows, labels: labels, k, out)
        case 6: LanesKernel<6>.blocks(f, rows: rows, labels: labels, k, out)
        case 7: LanesKernel<7>.blocks(f, rows: rows, labels: labels, k, out)
        case 8: LanesKernel<8>.blocks(f, rows: rows, labels: labels, k, out)
        case 9: LanesKernel<9>.blocks(f, rows: rows, labels: labels, k, out)
        case 10: LanesKernel<10>.blocks(f, rows: rows, labels: labels, k, out)
        case 11: LanesKernel<11>.blocks(f, rows: rows, labels: labels, k, out)
        case 12: LanesKernel<12>.blocks(f, rows: rows, labels: labels, k, out)
        case 13: LanesKernel<13>.blocks(f, rows: rows, labels: labels, k, out)
        case 14: LanesKernel<14>.blocks(f, rows: rows, labels: labels, k, out)
        case 15: LanesKernel<15>.blocks(f, rows: rows, labels: labels, k, out)
        case 16: LanesKernel<16>.blocks(f, rows: rows, labels: labels, k, out)
        default: (0, nil, rows.lowerBound)
        }
    }
}
