/// Single-precision C += A·B: packed panels and a register-blocked micro-kernel, rows of C spread
/// over the cores. The micro-tile is 6×32 with AVX-512 (12 accumulators of 16 floats, two vectors of
/// B and one broadcast of A per step: 15 of its 32 registers) and 6×16 otherwise: with AVX2's 16
/// registers of 8 floats the 6×32 tile needs 24 for its accumulators alone, and measured at 45% of
/// OpenBLAS on this Zen 3, spilling to the stack in its inner loop.
///
/// Blocking follows the usual layered scheme: a KC×32 sliver of B (packed) stays in L1 while the
/// MC×KC block of A (packed) streams from L2 through the micro-kernel.
enum MatrixMultiply {
    static let mr = 6
    #if SOFTMAXLAB_AVX512
    static let nr = 32
    #else
    static let nr = 16
    #endif
    static let kc = 256
    static let mcMax = 96
    static let nc = 2048

    /// A (M×K) read through strides, so Xᵀ needs no copy: A(i, p) = base[i·rowStride + p·colStride].
    struct StridedMatrix {
        var base: UnsafePointer<Float>
        var rowStride: Int
        var colStride: Int
    }

    /// c (M×N, row stride ldc) += A (M×K) · b (K×N, row stride ldb).
    static func accumulate(
        m: Int, n: Int, k: Int, a: StridedMatrix,
        b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard m > 0, n > 0, k > 0 else { return }
        // Below ~4 MFLOP (all of training on digits) waking a second thread saves less than it costs,
        // and leaves that core to the store's writer thread.
        let workers = m * n * k < 1 << 21 ? 1 : Parallel.workerCount
        // Enough row blocks for every core, in multiples of the micro-tile.
        let perWorker = (m + workers - 1) / workers
        let mc = Swift.max(mr, Swift.min(mcMax, roundUp(perWorker, mr)))
        let packedB = UnsafeMutablePointer<Float>.allocate(capacity: kc * roundUp(Swift.min(nc, n), nr))
        defer { packedB.deallocate() }
        for jc in stride(from: 0, to: n, by: nc) {
            let nb = Swift.min(nc, n - jc)
            for pc in stride(from: 0, to: k, by: kc) {
                let kb = Swift.min(kc, k - pc)
                packB(b + pc * ldb + jc, ldb: ldb, k: kb, n: nb, into: packedB)
                let blocks = (m + mc - 1) / mc
                let pb = UncheckedSendable(UnsafePointer(packedB))
                Parallel.forEach(blocks, tasks: workers == 1 ? 1 : Parallel.taskCount(blocks, minimum: 1)) { _, blockRange in
                    withUnsafeTemporaryAllocation(of: Float.self, capacity: mc * kb) { packedA in
                        for block in blockRange {
                            let ic = block * mc
                            let mb = Swift.min(mc, m - ic)
                            let origin = a.base + ic * a.rowStride + pc * a.colStride
                            packA(StridedMatrix(base: origin, rowStride: a.rowStride, colStride: a.colStride),
                                  m: mb, k: kb, into: packedA.baseAddress!)
                            macroKernel(mb, nb, kb, packedA.baseAddress!, pb.value, c + ic * ldc + jc, ldc)
                        }
                    }
                }
            }
        }
    }

    /// B as `accumulateSerial` reads it: row-major with a row stride, or transposed (Wᵀ of a
    /// row-major W, without a copy).
    enum BOperand {
        case rowMajor(UnsafePointer<Float>, ldb: Int)
        case transposed(UnsafePointer<Float>, ldbt: Int)
        /// Packed once by `prepackB` with the workspace's column count, for an operand many
        /// calls share.
        case packed(UnsafePointer<Float>)
    }

    /// A as `accumulateSerial` reads it: strided (packed by the call), or packed once beforehand by
    /// `prepackA` for an operand many calls share.
    enum AOperand {
        case strided(StridedMatrix)
        case packed(UnsafePointer<Float>)
    }

    /// One thread's packing buffers for `accumulateSerial`; `columns` bounds the packed B block.
    struct Workspace {
        let packedA: UnsafeMutablePointer<Float>
        let packedB: UnsafeMutablePointer<Float>
        let columns: Int

        init(columns: Int) {
            self.columns = roundUp(Swift.max(columns, 1), nr)
            packedA = .allocate(capacity: mcMax * kc)
            packedB = .allocate(capacity: kc * self.columns)
        }

        func deallocate() { packedA.deallocate(); packedB.deallocate() }

        static func bytes(columns: Int) -> Int { (mcMax * kc + kc * roundUp(Swift.max(columns, 1), nr)) * MemoryLayout<Float>.size }
    }

    /// Floats `prepackB` writes for a k×n B.
    static func packedBSize(k: Int, n: Int) -> Int { k * roundUp(n, nr) }

    /// A row-major B (k×n) packed whole, in the order `accumulateSerial` with workspace `w`
    /// consumes it: for each block of w.columns columns, each kc block of rows.
    static func prepackB(_ b: UnsafePointer<Float>, ldb: Int, k: Int, n: Int, into dst: UnsafeMutablePointer<Float>, _ w: Workspace) {
        for jc in stride(from: 0, to: n, by: w.columns) {
            let nb = Swift.min(w.columns, n - jc)
            for pc in stride(from: 0, to: k, by: kc) {
                packB(b + pc * ldb + jc, ldb: ldb, k: Swift.min(kc, k - pc), n: nb, into: dst + jc * k + pc * roundUp(nb, nr))
            }
        }
    }

    /// Floats `prepackA` writes for an m×k A.
    static func packedASize(m: Int, k: Int) -> Int { roundUp(m, mr) * k }

    /// A (m×k) packed whole, in the order `accumulateSerial` consumes it: for each kc block of
    /// columns, all m rows as slivers of 6.
    static func prepackA(_ a: StridedMatrix, m: Int, k: Int, into dst: UnsafeMutablePointer<Float>) {
        let mPad = roundUp(m, mr)
        for pc in stride(from: 0, to: k, by: kc) {
            packA(StridedMatrix(base: a.base + pc * a.colStride, rowStride: a.rowStride, colStride: a.colStride),
                  m: m, k: Swift.min(kc, k - pc), into: dst + pc * mPad)
        }
    }

    /// c (M×N, row stride ldc) += A (M×K) · B (K×N) on the calling thread: the building block of
    /// kernels that do their own threading (the fused linear cross-entropy).
    static func accumulateSerial(
        m: Int, n: Int, k: Int, a: AOperand, b: BOperand, c: UnsafeMutablePointer<Float>, ldc: Int, _ w: Workspace
    ) {
        guard m > 0, n > 0, k > 0 else { return }
        let mPad = roundUp(m, mr)
        for jc in stride(from: 0, to: n, by: w.columns) {
            let nb = Swift.min(w.columns, n - jc)
            for pc in stride(from: 0, to: k, by: kc) {
                let kb = Swift.min(kc, k - pc)
                let pb: UnsafePointer<Float>
                switch b {
                case .rowMajor(let base, let ldb):
                    packB(base + pc * ldb + jc, ldb: ldb, k: kb, n: nb, into: w.packedB)
                    pb = UnsafePointer(w.packedB)
                case .transposed(let base, let ldbt):
                    packTransposedB(base + jc * ldbt + pc, ldbt: ldbt, k: kb, n: nb, into: w.packedB)
                    pb = UnsafePointer(w.packedB)
                case .packed(let packed):
                    pb = packed + jc * k + pc * roundUp(nb, nr)
                }
                for ic in stride(from: 0, to: m, by: mcMax) {
                    let mb = Swift.min(mcMax, m - ic)
                    let pa: UnsafePointer<Float>
                    switch a {
                    case .packed(let packed):
                        pa = packed + pc * mPad + ic * kb
                    case .strided(let s):
                        packA(StridedMatrix(base: s.base + ic * s.rowStride + pc * s.colStride, rowStride: s.rowStride, colStride: s.colStride),
                              m: mb, k: kb, into: w.packedA)
                        pa = UnsafePointer(w.packedA)
                    }
                    macroKernel(mb, nb, kb, pa, pb, c + ic * ldc + jc, ldc)
                }
            }
        }
    }

    @inline(__always)
    static func roundUp(_ x: Int, _ multiple: Int) -> Int { (x + multiple - 1) / multiple * multiple }

    /// B (k×n) → slivers of nr columns, each k rows of nr contiguous floats, zero-padded. Row by
    /// row, so B is read sequentially: sliver by sliver read one cache line from each of k rows
    /// far apart (W's rows are V floats apart), and the fused linear forward waited on DRAM for
    /// half its time.
    private static func packB(_ b: UnsafePointer<Float>, ldb: Int, k: Int, n: Int, into dst: UnsafeMutablePointer<Float>) {
        let whole = n / nr * nr
        for p in 0..<k {
            let from = b + p * ldb
            // A few rows ahead: B's rows are short runs far apart too (a chunk of W's columns).
            if p + 4 < k { for j in stride(from: 0, to: n, by: floatsPerCacheLine) { prefetchForReading(from + 4 * ldb + j) } }
            var j0 = 0
            while j0 < whole {
                let to = dst + (j0 / nr) * k * nr + p * nr
                for v in stride(from: 0, to: nr, by: vecWidth) { store(load(from + j0 + v), to + v) }
                j0 += nr
            }
            if whole < n {
                let to = dst + (whole / nr) * k * nr + p * nr
                for j in 0..<(n - whole) { to[j] = from[whole + j] }
                for j in (n - whole)..<nr { to[j] = 0 }
            }
        }
    }

    /// The same slivers from a B stored transposed, B(p, j) = bt[j·ldbt + p] (Wᵀ read from W):
    /// 16×16 blocks go through the register transpose, so each load is 16 contiguous floats of one
    /// row of W instead of 16 gathers from 16 rows.
    static func packTransposedB(_ bt: UnsafePointer<Float>, ldbt: Int, k: Int, n: Int, into dst: UnsafeMutablePointer<Float>) {
        withUnsafeTemporaryAllocation(of: Vec.self, capacity: vecWidth) { block in
            let v = block.baseAddress!
            for (s, j0) in stride(from: 0, to: n, by: nr).enumerated() {
                let sliver = dst + s * k * nr
                for half in 0..<(nr / vecWidth) {
                    let jh = j0 + half * vecWidth
                    let width = Swift.max(0, Swift.min(vecWidth, n - jh))
                    var p = 0
                    if width == vecWidth {
                        // The next 16 rows' lines at the same columns, one group ahead.
                        let ahead = Swift.max(0, Swift.min(vecWidth, n - jh - vecWidth))
                        while p + vecWidth <= k {
                            for j in 0..<ahead { prefetchForReading(bt + (jh + vecWidth + j) * ldbt + p) }
                            for j in 0..<vecWidth { v[j] = load(bt + (jh + j) * ldbt + p) }
                            Transpose16.transpose(v)
                            for q in 0..<vecWidth { store(v[q], sliver + (p + q) * nr + half * vecWidth) }
                            p += vecWidth
                        }
                    }
                    for pp in p..<k {
                        let to = sliver + pp * nr + half * vecWidth
                        for j in 0..<width { to[j] = bt[(jh + j) * ldbt + pp] }
                        for j in width..<vecWidth { to[j] = 0 }
                    }
                }
            }
        }
    }

    /// A (m×k, strided) → slivers of 6 rows, each k columns of 6 contiguous floats, zero-padded.
    static func packA(_ a: StridedMatrix, m: Int, k: Int, into dst: UnsafeMutablePointer<Float>) {
        for (s, i0) in stride(from: 0, to: m, by: mr).enumerated() {
            let height = Swift.min(mr, m - i0)
            let sliver = dst + s * k * mr
            for p in 0..<k {
                let to = sliver + p * mr
                let from = a.base + i0 * a.rowStride + p * a.colStride
                for i in 0..<height { to[i] = from[i * a.rowStride] }
                for i in height..<mr { to[i] = 0 }
            }
        }
    }

    private static func macroKernel(
        _ m: Int, _ n: Int, _ k: Int, _ pa: UnsafePointer<Float>, _ pb: UnsafePointer<Float>,
        _ c: UnsafeMutablePointer<Float>, _ ldc: Int
    ) {
        // A short k (∂W from a block of a few dozen rows) makes C's read and write the cost: walk C
        // along its rows, so each of its six rows streams, instead of down its columns.
        // C's rows there are runs of a few lines far apart (∂W's column chunk), which the hardware
        // prefetchers miss: the next sliver's rows are asked for one row of tiles ahead.
        if k <= 64 {
            for (isl, i0) in stride(from: 0, to: m, by: mr).enumerated() {
                let ahead = Swift.min(mr, Swift.max(0, m - i0 - mr))
                for (js, j0) in stride(from: 0, to: n, by: nr).enumerated() {
                    let cols = Swift.min(nr, n - j0)
                    for r in 0..<ahead {
                        let next = c + (i0 + mr + r) * ldc + j0
                        for j in stride(from: 0, to: cols, by: floatsPerCacheLine) { prefetchForWriting(next + j) }
                    }
                    microKernel(k, pa + isl * k * mr, pb + js * k * nr, c + i0 * ldc + j0, ldc,
                                rows: Swift.min(mr, m - i0), cols: cols)
                }
            }
            return
        }
        for (js, j0) in stride(from: 0, to: n, by: nr).enumerated() {
            let bSliver = pb + js * k * nr
            for (isl, i0) in stride(from: 0, to: m, by: mr).enumerated() {
                microKernel(k, pa + isl * k * mr, bSliver, c + i0 * ldc + j0, ldc,
                            rows: Swift.min(mr, m - i0), cols: Swift.min(nr, n - j0))
            }
        }
    }

    #if SOFTMAXLAB_AVX512
    /// C[0..<rows, 0..<cols] += the 6×32 product of one A sliver and one B sliver over k.
    @inline(__always)
    private static func microKernel(
        _ k: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
        _ c: UnsafeMutablePointer<Float>, _ ldc: Int, rows: Int, cols: Int
    ) {
        let z = Vec(repeating: 0)
        var c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z
        var c30 = z, c31 = z, c40 = z, c41 = z, c50 = z, c51 = z
        var pa = a, pb = b
        for _ in 0..<k {
            let b0 = load(pb), b1 = load(pb + 16)
            var x = Vec(repeating: pa[0])
            c00 = multiplyAdd(x, b0, c00); c01 = multiplyAdd(x, b1, c01)
            x = Vec(repeating: pa[1])
            c10 = multiplyAdd(x, b0, c10); c11 = multiplyAdd(x, b1, c11)
            x = Vec(repeating: pa[2])
            c20 = multiplyAdd(x, b0, c20); c21 = multiplyAdd(x, b1, c21)
            x = Vec(repeating: pa[3])
            c30 = multiplyAdd(x, b0, c30); c31 = multiplyAdd(x, b1, c31)
            x = Vec(repeating: pa[4])
            c40 = multiplyAdd(x, b0, c40); c41 = multiplyAdd(x, b1, c41)
            x = Vec(repeating: pa[5])
            c50 = multiplyAdd(x, b0, c50); c51 = multiplyAdd(x, b1, c51)
            pa += mr
            pb += nr
        }
        if rows == mr && cols == nr {
            addRow(c, c00, c01)
            addRow(c + ldc, c10, c11)
            addRow(c + 2 * ldc, c20, c21)
            addRow(c + 3 * ldc, c30, c31)
            addRow(c + 4 * ldc, c40, c41)
            addRow(c + 5 * ldc, c50, c51)
            return
        }
        // Edge tile: spill to the stack, then add only the rows and columns that exist.
        withUnsafeTemporaryAllocation(of: Float.self, capacity: mr * nr) { tile in
            let t = tile.baseAddress!
            store(c00, t); store(c01, t + 16); store(c10, t + 32); store(c11, t + 48)
            store(c20, t + 64); store(c21, t + 80); store(c30, t + 96); store(c31, t + 112)
            store(c40, t + 128); store(c41, t + 144); store(c50, t + 160); store(c51, t + 176)
            addEdge(t, c, ldc, rows: rows, cols: cols)
        }
    }

    @inline(__always)
    private static func addRow(_ row: UnsafeMutablePointer<Float>, _ lo: Vec, _ hi: Vec) {
        store(load(row) + lo, row)
        store(load(row + 16) + hi, row + 16)
    }
    #else
    /// C[0..<rows, 0..<cols] += the 6×16 product of one A sliver and one B sliver over k: six
    /// accumulators of 16 floats (12 AVX2 registers), one vector of B, one broadcast of A.
    @inline(__always)
    private static func microKernel(
        _ k: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
        _ c: UnsafeMutablePointer<Float>, _ ldc: Int, rows: Int, cols: Int
    ) {
        let z = Vec(repeating: 0)
        var c0 = z, c1 = z, c2 = z, c3 = z, c4 = z, c5 = z
        var pa = a, pb = b
        for _ in 0..<k {
            let b0 = load(pb)
            c0 = multiplyAdd(Vec(repeating: pa[0]), b0, c0)
            c1 = multiplyAdd(Vec(repeating: pa[1]), b0, c1)
            c2 = multiplyAdd(Vec(repeating: pa[2]), b0, c2)
            c3 = multiplyAdd(Vec(repeating: pa[3]), b0, c3)
            c4 = multiplyAdd(Vec(repeating: pa[4]), b0, c4)
            c5 = multiplyAdd(Vec(repeating: pa[5]), b0, c5)
            pa += mr
            pb += nr
        }
        if rows == mr && cols == nr {
            store(load(c) + c0, c)
            store(load(c + ldc) + c1, c + ldc)
            store(load(c + 2 * ldc) + c2, c + 2 * ldc)
            store(load(c + 3 * ldc) + c3, c + 3 * ldc)
            store(load(c + 4 * ldc) + c4, c + 4 * ldc)
            store(load(c + 5 * ldc) + c5, c + 5 * ldc)
            return
        }
        withUnsafeTemporaryAllocation(of: Float.self, capacity: mr * nr) { tile in
            let t = tile.baseAddress!
            store(c0, t); store(c1, t + 16); store(c2, t + 32); store(c3, t + 48); store(c4, t + 64); store(c5, t + 80)
            addEdge(t, c, ldc, rows: rows, cols: cols)
        }
    }
    #endif

    /// The rows and columns of an edge tile that exist.
    @inline(__always)
    private static func addEdge(_ t: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, rows: Int, cols: Int) {
        for i in 0..<rows {
            for j in 0..<cols { c[i * ldc + j] += t[i * nr + j] }
        }
    }
}
