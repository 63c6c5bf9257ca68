#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Rows of up to 64 classes: 16 rows in the 16 lanes. A row of 10 logits fills less than one
/// vector, so the row-at-a-time kernel spends its time on horizontal reductions and tails (2 GB/s
/// measured at C = 10, 2.3 at C = 17); with lane r holding row r, max, sum and gradient are plain
/// element-wise vector operations.
///
/// The 16 rows come in 16 columns at a time (a chunk): 16 overlapping row vectors (row r at
/// f + r·C + 16q, its lanes past the row's end being the next row's logits) through a register
/// transpose (`Transpose16`); the gradient goes back the same way.
///
/// The class count is a type (`ClassCount`) so that the compiler specializes the kernel for each
/// C in 2...16 (fully unrolled code; `@inline(__always)` with a constant argument was not honoured
/// here and cost a third of the speed at C = 10), while longer rows share one loop over C.
protocol ClassCount {
    var value: Int { get }
}

struct FixedClassCount<let C: Int>: ClassCount {
    var value: Int { C }
}

struct RuntimeClassCount: ClassCount {
    let value: Int
}

enum LanesKernel {
    /// Whole blocks of 16 rows of `rows`, starting at rows.lowerBound; returns the summed loss,
    /// the first row with a non-finite logit, and where the blocks ended.
    static func run<Classes: ClassCount, Map: LogitMap>(
        _ f: UnsafePointer<Float>, rows: Range<Int>, labels: UnsafePointer<Int32>, classes: Classes, _ k: XentConstants,
        _ out: FusedCrossEntropy.Outputs, map: Map
    ) -> (totals: FusedCrossEntropy.Totals, end: Int) {
        let c = classes.value
        var totals = FusedCrossEntropy.Totals()
        var i = rows.lowerBound
        let end = rows.upperBound
        let chunks = (c &+ vecWidth &- 1) / vecWidth
        // Column vectors of logits and of gradients (16 per chunk each), and room for a block's
        // 16·C logits plus the floats its last row vectors read past them.
        withUnsafeTemporaryAllocation(of: Vec.self, capacity: 2 &* vecWidth &* chunks &+ c &+ 1) { buffer in
            let x = buffer.baseAddress!, e = x + vecWidth &* chunks
            let staging = UnsafeMutableRawPointer(e + vecWidth &* chunks).assumingMemoryBound(to: Float.self)
            while i + vecWidth <= end {
                var source = f + i &* c
                // A row vector must not read past the range (its end may be the end of the array).
                if (i &+ vecWidth &- 1) &* c &+ vecWidth &* chunks > end &* c {
                    staging.update(from: source, count: vecWidth &* c)
                    source = UnsafePointer(staging)
                }
                let r = block(source, out.gradient.map { $0 + i &* c }, labels: labels + i,
                              rowLoss: out.rowLoss.map { $0 + i }, lse: out.lse.map { $0 + i },
                              predictions: out.predictions.map { $0 + i },
                              x: x, e: e, staging: staging, classes: classes, k, map: map)
                totals.loss += r.loss
                totals.z += r.z
                totals.correct += r.correct
                if !r.finite && totals.firstNonFiniteRow == nil {
                    totals.firstNonFiniteRow = (i..<(i + vecWidth)).first { row in
                        UnsafeBufferPointer(start: f + row * c, count: c).contains { !$0.isFinite }
                    }
                }
                i += vecWidth
            }
        }
        return (totals, i)
    }

    /// One block of 16 class-index rows starting at `f`; 15·C + 16·chunks floats must be readable
    /// there. `x` and `e` hold 16 vectors per chunk, `staging` 16 floats for the last gradient rows.
    /// Returns the block's summed cross-entropy and z parts, its rows predicted right (when
    /// k.argmax) and whether all its logits are finite.
    @inline(__always)
    static func block<Classes: ClassCount, Map: LogitMap>(
        _ f: UnsafePointer<Float>, _ g: UnsafeMutablePointer<Float>?, labels: UnsafePointer<Int32>,
        rowLoss: UnsafeMutablePointer<Float>?, lse: UnsafeMutablePointer<Float>?, predictions: UnsafeMutablePointer<Int32>?,
        x: UnsafeMutablePointer<Vec>, e: UnsafeMutablePointer<Vec>, staging: UnsafeMutablePointer<Float>,
        classes: Classes, _ k: XentConstants, map: Map
    ) -> (loss: Double, z: Double, correct: Int, finite: Bool) {
        let c = classes.value
        let chunks = (c &+ vecWidth &- 1) / vecWidth
        // After the transposes vector j of x holds column j of the 16 rows (vectors C... are unused).
        for q in 0..<chunks {
            let xq = x + q &* vecWidth
            for r in 0..<vecWidth { xq[r] = load(f + (r &* c &+ q &* vecWidth)) }
            Transpose16.transpose(xq)
        }
        var m = x[0]
        var check = x[0] - x[0]
        for j in 1..<c {
            m = maximum(m, x[j])
            check += x[j] - x[j]
        }
        // The first column holding each row's max (of f: the map is increasing), scanned backwards.
        var argmax = Vec(repeating: 0)
        if k.argmax {
            for j in stride(from: c &- 1, through: 0, by: -1) { argmax.replace(with: Float(j), where: x[j] .== m) }
        }
        if !map.isIdentity {
            for j in 0..<c { x[j] = map.value(x[j]) }
            m = map.value(m)
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
        // index; labels below 128 are exact in float, and none equals a different ignore index
        // after conversion (that would take an ignore index beyond 2^24).
        let yf = Vec(y)
        let ignored = yf .== Vec(repeating: Float(k.ignoreIndex))
        var wy = Vec(repeating: 1)
        if let w = k.weights {
            for r in 0..<vecWidth where !ignored[r] { wy[r] = w[Int(y[r])] }
        }
        let zero = Vec(repeating: 0)
        let target = ClassIndexTarget<Vec>(labelWeight: wy, k)
        // 1 on rows that count, 0 on ignored ones: multiplying by it stays one vector operation
        // where a `replace` under a mask that lives this long became a loop over lanes (all the
        // values it multiplies are finite; non-finite logits are an error).
        let kept = Vec(repeating: 1).replacing(with: zero, where: ignored)
        let rowLse = m + logS
        let coefficients = target.gradient(sum: s, scale: k.scale, zCoefficient: k.zLoss.pCoefficient(lse: rowLse))
        let a = coefficients.a * kept, b = coefficients.b * kept, hot = coefficients.hotScaled * kept
        let smoothing = k.smoothing > 0
        var smooth = zero, fy = zero
        for j in 0..<c {
            let isLabel = yf .== Vec(repeating: Float(j))
            let wj = Vec(repeating: k.weight(j))
            var gj = a * e[j] - b * wj
            gj.replace(with: gj - hot, where: isLabel)
            if !map.isIdentity { gj *= map.slope(capped: x[j]) }
            e[j] = gj
            if smoothing { smooth = multiplyAdd(wj, m - x[j], smooth) }
            fy.replace(with: x[j], where: isLabel)
        }
        let loss = target.loss(labelLogit: fy, max: m, logSum: logS, smoothingPart: smooth, k) * kept
        let z = k.zLoss.loss(lse: rowLse) * kept
        var correct = 0
        if k.argmax {
            let hits = kept.replacing(with: zero, where: argmax .!= yf)
            correct = Int(hits.sum())
            if let predictions { UnsafeMutableRawPointer(predictions).storeBytes(of: SIMD16<Int32>(argmax), as: SIMD16<Int32>.self) }
        }
        if let g {
            for j in c..<(vecWidth &* chunks) { e[j] = zero }
            for q in 0..<chunks { Transpose16.transpose(e + q &* vecWidth) }
            // Now e[16q + r] is chunk q of row r's gradient. A chunk's vector that passes its row's
            // end spills into the rows after it, which later stores rewrite (rows are stored in
            // order); one whose spill would pass the block's end goes through `staging` instead.
            for r in 0..<vecWidth {
                for q in 0..<chunks {
                    let offset = r &* c &+ q &* vecWidth
                    if offset &+ vecWidth <= vecWidth &* c {
                        store(e[q &* vecWidth &+ r], g + offset)
                    } else {
                        store(e[q &* vecWidth &+ r], staging)
                        (g + offset).update(from: staging, count: c &- q &* vecWidth)
                    }
                }
            }
        }
        if let rowLoss { store(loss + z, rowLoss) }
        if let lse { store(rowLse, lse) }
        return (Double(loss.sum()), Double(z.sum()), correct, check.sum() == 0)
    }
}

/// Chooses the lanes kernel's specialization for a run-time class count: one per C up to 16, one
/// shared loop for 17...64.
enum LanesKernels {
    /// Beyond 64 classes the row kernel was as fast or faster (measured at 100 and 128).
    static let classRange = 2...64

    static func blocks<Map: LogitMap>(
        _ f: UnsafePointer<Float>, rows: Range<Int>, labels: UnsafePointer<Int32>, _ k: XentConstants,
        _ out: FusedCrossEntropy.Outputs, map: Map
    ) -> (totals: FusedCrossEntropy.Totals, end: Int) {
        switch k.classes {
        case 2: LanesKernel.run(f, rows: rows, labels: labels, classes: FixedClassCount<2>(), k, out, map: map)
        case 3: LanesKernel.run(f, rows: rows, labels: labels, classes: FixedClassCount<3>(), k, out, map: map)
        case 4: LanesKernel.run(f, rows: rows, labels: labels, classes: FixedClassCount<4>(), k, out, map: map)
        case 5: LanesKernel.run(f, rows: rows, labels: labels, classes: FixedClassCount<5>(), k, out, map: map)
        case 6: LanesKernel.run(f, rows: rows, labels: labels, classes: FixedClassCount<6>(), k, out, map: map)
        case 7: LanesKernel.run(f, rows: rows, labels: labels, classes: FixedClassCount<7>(), k, out, map: map)
        case 8: LanesKernel.run(f, rows: rows, labels: labels, classes: FixedClassCount<8>(), k, out, map: map)
        case 9: LanesKernel.run(f, rows: rows, labels: labels, classes: FixedClassCount<9>(), k, out, map: map)
        case 10: LanesKernel.run(f, rows: rows, labels: labels, classes: FixedClassCount<10>(), k, out, map: map)
        case 11: LanesKernel.run(f, rows: rows, labels: labels, classes: FixedClassCount<11>(), k, out, map: map)
        case 12: LanesKernel.run(f, rows: rows, labels: labels, classes: FixedClassCount<12>(), k, out, map: map)
        case 13: LanesKernel.run(f, rows: rows, labels: labels, classes: FixedClassCount<13>(), k, out, map: map)
        case 14: LanesKernel.run(f, rows: rows, labels: labels, classes: FixedClassCount<14>(), k, out, map: map)
        case 15: LanesKernel.run(f, rows: rows, labels: labels, classes: FixedClassCount<15>(), k, out, map: map)
        case 16: LanesKernel.run(f, rows: rows, labels: labels, classes: FixedClassCount<16>(), k, out, map: map)
        case classRange: LanesKernel.run(f, rows: rows, labels: labels, classes: RuntimeClassCount(value: k.classes), k, out, map: map)
        default: (FusedCrossEntropy.Totals(), rows.lowerBound)
        }
    }
}
