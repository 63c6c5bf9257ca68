#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Small C (2...16 classes): 16 rows in the 16 lanes. A row of 10 logits fills less than one vector,
/// so the row-at-a-time kernel spends its time on horizontal reductions and tails (2 GB/s measured);
/// with lane r holding row r, max, sum and gradient are plain element-wise vector operations.
///
/// The 16 rows come in as 16 overlapping row vectors (row r at f + r·C, its lanes past C being the
/// next row's logits) and go through a register transpose (`Transpose16`); the gradient goes back
/// the same way. C is a generic value parameter so each class count gets its own fully unrolled code.
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
        let end = rows.upperBound
        // 16 column vectors of logits, 16 of gradients, and room for a block's 16·C logits plus
        // the 16 − C floats its last row vector reads past them.
        withUnsafeTemporaryAllocation(of: Vec.self, capacity: 2 * vecWidth + 17) { buffer in
            let scratch = buffer.baseAddress!
            let staging = UnsafeMutableRawPointer(scratch + 2 * vecWidth).assumingMemoryBound(to: Float.self)
            while i + vecWidth <= end {
                var source = f + i &* C
                // A row vector must not read past the range (its end may be the end of the array).
                if (i &+ vecWidth &- 1) &* C &+ vecWidth > end &* C {
                    staging.update(from: source, count: vecWidth &* C)
                    source = UnsafePointer(staging)
                }
                let r = block(source, out.gradient.map { $0 + i &* C }, labels: labels + i,
                              rowLoss: out.rowLoss.map { $0 + i }, lse: out.lse.map { $0 + i },
                              scratch: scratch, staging: staging, k)
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

    /// One block of 16 class-index rows starting at `f`; 15·C + 16 floats must be readable there.
    /// `scratch` holds 32 vectors, `staging` 16 floats for the last gradient rows. Returns the
    /// block's summed loss and whether all its logits are finite.
    @inline(__always)
    static func block(
        _ f: UnsafePointer<Float>, _ g: UnsafeMutablePointer<Float>?, labels: UnsafePointer<Int32>,
        rowLoss: UnsafeMutablePointer<Float>?, lse: UnsafeMutablePointer<Float>?,
        scratch: UnsafeMutablePointer<Vec>, staging: UnsafeMutablePointer<Float>, _ k: XentConstants
    ) -> (loss: Double, finite: Bool) {
        let c = C
        // After the transpose vector j of x holds column j of the 16 rows (vectors C..<16 are unused).
        let x = scratch, e = scratch + vecWidth
        for r in 0..<vecWidth { x[r] = load(f + r &* c) }
        Transpose16.transpose(x)
        var m = x[0]
        var check = x[0] - x[0]
        for j in 1..<c {
            m = maximum(m, x[j])
            check += x[j] - x[j]
        }
        var s = Vec(repeating: 0)
        for j in 0..<c {
            let ej = exp(x[j] - m)
            e[j] = ej
            s += ej
        }
        // Before any lane mask exists: `log` may stay a call, and a mask live across a call came
        // back as a scalar loop per lane.
        let logS = log(s)

        let y = UnsafeRawPointer(labels).loadUnaligned(as: SIMD16<Int32>.self)
        // Integer lane comparisons (and every `replace` under their mask) compile to scalar loops
        // here; float ones to one vcmpps. Labels are already checked to be in 0..<C or the ignore
        // index, and no float that a label in 0...15 converts to equals a different ignore index.
        let yf = Vec(y)
        let ignored = yf .== Vec(repeating: Float(k.ignoreIndex))
        var wy = Vec(repeating: 1)
        if let w = k.weights {
            for r in 0..<vecWidth where !ignored[r] { wy[r] = w[Int(y[r])] }
        }
        let eps = k.smoothing, uniform = eps / Float(c)
        let zero = Vec(repeating: 0)
        // t_j = (1 − ε)·w_y·δ_jy + (ε/C)·w_j; ∂L/∂f_j = scale·(T·p_j − t_j), zero on ignored rows.
        let total = (1 - eps) * wy + uniform * k.weightSum
        // 1 on rows that count, 0 on ignored ones: multiplying by it stays one vector operation
        // where a `replace` under a mask that lives this long became a loop over lanes (all the
        // values it multiplies are finite; non-finite logits are an error).
        let kept = Vec(repeating: 1).replacing(with: zero, where: ignored)
        let a = k.scale * total / s * kept
        let b = k.scale * uniform * kept
        let hot = k.scale * (1 - eps) * wy * kept
        var smooth = zero, fy = zero
        for j in 0..<c {
            let isLabel = yf .== Vec(repeating: Float(j))
            let wj = Vec(repeating: k.weight(j))
            var gj = a * e[j] - b * wj
            gj.replace(with: gj - hot, where: isLabel)
            e[j] = gj
            if eps > 0 { smooth = multiplyAdd(wj, m - x[j], smooth) }
            fy.replace(with: x[j], where: isLabel)
        }
        // L = (1 − ε)·w_y·(m − f_y + log S) + (ε/C)·(Σ_j w_j·(m − f_j) + W·log S)
        var loss = (1 - eps) * wy * (m - fy + logS)
        if eps > 0 { loss += uniform * (smooth + k.weightSum * logS) }
        loss *= kept
        if let g {
            for j in c..<vecWidth { e[j] = zero }
            Transpose16.transpose(e)
            // Row r's vector spills 16 − C floats into the rows after it, which later stores
            // rewrite; rows whose spill would pass the block's end go through `staging` instead
            // (only row 15 for C ≥ 8, none for C = 16).
            for r in 0..<vecWidth {
                if r &* c &+ vecWidth <= vecWidth &* c {
                    store(e[r], g + r &* c)
                } else {
                    store(e[r], staging)
                    (g + r &* c).update(from: staging, count: c)
                }
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
