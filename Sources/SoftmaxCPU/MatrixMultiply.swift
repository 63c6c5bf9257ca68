/// Single-precision C += A·B: packed panels and a 6×32 register-blocked micro-kernel (12 vector
/// accumulators, two vectors of B and one broadcast of A per step), rows of C spread over the cores.
///
/// Blocking follows the usual layered scheme: a KC×32 sliver of B (packed) stays in L1 while the
/// MC×KC block of A (packed) streams from L2 through the micro-kernel.
enum MatrixMultiply {
    static let mr = 6
    static let nr = 32
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

    @inline(__always)
    static func roundUp(_ x: Int, _ multiple: Int) -> Int { (x + multiple - 1) / multiple * multiple }

    /// B (k×n) → slivers of 32 columns, each k rows of 32 contiguous floats, zero-padded.
    private static func packB(_ b: UnsafePointer<Float>, ldb: Int, k: Int, n: Int, into dst: UnsafeMutablePointer<Float>) {
        for (s, j0) in stride(from: 0, to: n, by: nr).enumerated() {
            let width = Swift.min(nr, n - j0)
            let sliver = dst + s * k * nr
            for p in 0..<k {
                let from = b + p * ldb + j0, to = sliver + p * nr
                if width == nr {
                    store(load(from), to)
                    store(load(from + 16), to + 16)
                } else {
                    for j in 0..<width { to[j] = from[j] }
                    for j in width..<nr { to[j] = 0 }
                }
            }
        }
    }

    /// A (m×k, strided) → slivers of 6 rows, each k columns of 6 contiguous floats, zero-padded.
    private static func packA(_ a: StridedMatrix, m: Int, k: Int, into dst: UnsafeMutablePointer<Float>) {
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
        for (js, j0) in stride(from: 0, to: n, by: nr).enumerated() {
            let bSliver = pb + js * k * nr
            for (isl, i0) in stride(from: 0, to: m, by: mr).enumerated() {
                microKernel(k, pa + isl * k * mr, bSliver, c + i0 * ldc + j0, ldc,
                            rows: Swift.min(mr, m - i0), cols: Swift.min(nr, n - j0))
            }
        }
    }

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
            for i in 0..<rows {
                for j in 0..<cols { c[i * ldc + j] += t[i * nr + j] }
            }
        }
    }

    @inline(__always)
    private static func addRow(_ row: UnsafeMutablePointer<Float>, _ lo: Vec, _ hi: Vec) {
        store(load(row) + lo, row)
        store(load(row + 16) + hi, row + 16)
    }
}
