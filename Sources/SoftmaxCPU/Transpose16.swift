/// A 16×16 float transpose: sixteen vectors in place, 64 two-source shuffles in registers.
///
/// Built from `zipLow`/`zipHigh`, whose constant lane indices LLVM folds into one `vpermt2ps`
/// each. Gathers and scatters did the same job in the lanes kernel at a fraction of the speed
/// (scatters are microcoded on this machine), and Swift has no shuffle intrinsic to call.
/// Written as straight-line code over locals: a tuple behind a subscript was kept on the stack.
enum Transpose16 {
    /// Each round interleaves vector i with vector i + 8. Reading an element's place as 8 bits
    /// (4 of vector index, 4 of lane), a round rotates those bits left by one, so four rounds swap
    /// vector index and lane.
    @inline(__always)
    static func transpose(_ p: UnsafeMutablePointer<Vec>) {
        var v0 = p[0], v1 = p[1], v2 = p[2], v3 = p[3], v4 = p[4], v5 = p[5], v6 = p[6], v7 = p[7]
        var v8 = p[8], v9 = p[9], v10 = p[10], v11 = p[11], v12 = p[12], v13 = p[13], v14 = p[14], v15 = p[15]
        for _ in 0..<4 {
            (v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15) = (
                zipLow(v0, v8), zipHigh(v0, v8), zipLow(v1, v9), zipHigh(v1, v9),
                zipLow(v2, v10), zipHigh(v2, v10), zipLow(v3, v11), zipHigh(v3, v11),
                zipLow(v4, v12), zipHigh(v4, v12), zipLow(v5, v13), zipHigh(v5, v13),
                zipLow(v6, v14), zipHigh(v6, v14), zipLow(v7, v15), zipHigh(v7, v15))
        }
        p[0] = v0; p[1] = v1; p[2] = v2; p[3] = v3; p[4] = v4; p[5] = v5; p[6] = v6; p[7] = v7
        p[8] = v8; p[9] = v9; p[10] = v10; p[11] = v11; p[12] = v12; p[13] = v13; p[14] = v14; p[15] = v15
    }

    /// a0 b0 a1 b1 … a7 b7
    @inline(__always)
    static func zipLow(_ a: Vec, _ b: Vec) -> Vec {
        var r = Vec()
        for l in 0..<8 { r[2 &* l] = a[l]; r[2 &* l &+ 1] = b[l] }
        return r
    }

    /// a8 b8 a9 b9 … a15 b15
    @inline(__always)
    static func zipHigh(_ a: Vec, _ b: Vec) -> Vec {
        var r = Vec()
        for l in 0..<8 { r[2 &* l] = a[l &+ 8]; r[2 &* l &+ 1] = b[l &+ 8] }
        return r
    }
}
