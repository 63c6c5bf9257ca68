/// The math of one row, written once for every Swift kernel: the target coefficients t_j and their
/// sum T, the row loss Σ_j t_j·(lse − f_j) and the gradient scale·(T·p_j − t_j). It implements
/// `ReferenceCrossEntropy.evaluate`'s t, row loss and gradient (the oracle's formulas, in float32),
/// arranged so that no term cancels: with m the row's max and S = Σ_j exp(f_j − m),
/// lse − f_j = (m − f_j) + log S is a sum of non-negative terms, so logits of 1e4 lose nothing.
///
/// `RowLanes` is Float for the row kernel (one row) and SIMD16<Float> for the lanes kernel (lane r
/// holds row r): the same source, specialized to each. Adding an option to the row math is an edit
/// here, in `Kernels/row_math.cl` and in the oracle.
protocol RowLanes {
    init(splat: Float)
    static func + (a: Self, b: Self) -> Self
    static func - (a: Self, b: Self) -> Self
    static func * (a: Self, b: Self) -> Self
    static func / (a: Self, b: Self) -> Self
}

extension Float: RowLanes {
    @inline(__always) init(splat: Float) { self = splat }
}

extension SIMD16<Float>: RowLanes {
    @inline(__always) init(splat: Float) { self.init(repeating: splat) }
}

/// A class-index row's targets: t_j = w_j·((1 − ε)·δ_jy + ε/C), so t_j = uniform·w_j + hot·δ_jy.
struct ClassIndexTarget<V: RowLanes> {
    /// ε/C: every class's share, times its weight.
    let uniform: Float
    /// (1 − ε)·w_y: what the label's class gets beyond its share.
    let hot: V
    /// T = Σ_j t_j = (1 − ε)·w_y + (ε/C)·Σ_j w_j.
    let total: V

    /// `labelWeight`: w_y of each row (0 where a row is ignored makes every term 0).
    @inline(__always)
    init(labelWeight wy: V, _ k: XentConstants) {
        uniform = k.smoothing / Float(k.classes)
        hot = V(splat: 1 - k.smoothing) * wy
        total = hot + V(splat: uniform * k.weightSum)
    }

    /// The gradient's coefficients: g_j = a·exp(f_j − m) − b·w_j, and g_y −= hotScaled at the label.
    @inline(__always)
    func gradient(sum s: V, scale: Float) -> (a: V, b: Float, hotScaled: V) {
        (V(splat: scale) * total / s, scale * uniform, V(splat: scale) * hot)
    }

    /// L = (1 − ε)·w_y·(m − f_y + log S) + (ε/C)·(Σ_j w_j·(m − f_j) + W·log S), where
    /// `smoothingPart` is Σ_j w_j·(m − f_j) (0 without smoothing).
    @inline(__always)
    func loss(labelLogit fy: V, max m: V, logSum logS: V, smoothingPart: V, _ k: XentConstants) -> V {
        let labelPart = hot * (m - fy + logS)
        guard k.smoothing > 0 else { return labelPart }
        return labelPart + V(splat: uniform) * (smoothingPart + V(splat: k.weightSum) * logS)
    }
}

/// A probability row's targets: t_j = w_j·((1 − ε)·q_j + ε/C); L = Σ_j t_j·(m − f_j) + T·log S.
enum ProbabilityTarget {
    @inline(__always)
    static func coefficient(_ q: Float, weight: Float, _ k: XentConstants) -> Float {
        weight * ((1 - k.smoothing) * q + k.smoothing / Float(k.classes))
    }
}
