#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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

    /// The gradient's coefficients: g_j = a·exp(f_j − m) − b·w_j, and g_y −= hotScaled at the label;
    /// `zCoefficient` is the z part's coefficient of p (`ZLossTerm.pCoefficient`).
    @inline(__always)
    func gradient(sum s: V, scale: Float, zCoefficient: V) -> (a: V, b: Float, hotScaled: V) {
        ((V(splat: scale) * total + zCoefficient) / s, scale * uniform, V(splat: scale) * hot)
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

/// What the logits go through before the loss: nothing (`Uncapped`), or the softcap
/// f' = s·tanh(f/s) with ∂f'/∂f = 1 − (f'/s)². The kernels are generic over it so that the
/// uncapped path compiles to exactly the code it had before softcap existed. Both maps are
/// increasing, so the row's max of f' is the map of its max of f (one tanh per block, not per
/// element), and its argmax is that of f.
protocol LogitMap {
    func value(_ x: Vec) -> Vec
    func value(_ x: Float) -> Float
    /// ∂f'/∂f, given f' (`value(x)`).
    func slope(capped: Vec) -> Vec
    func slope(capped: Float) -> Float
    var isIdentity: Bool { get }
}

struct Uncapped: LogitMap {
    @inline(__always) func value(_ x: Vec) -> Vec { x }
    @inline(__always) func value(_ x: Float) -> Float { x }
    @inline(__always) func slope(capped: Vec) -> Vec { Vec(repeating: 1) }
    @inline(__always) func slope(capped: Float) -> Float { 1 }
    var isIdentity: Bool { true }
}

struct Softcap: LogitMap {
    let cap: Float
    let inverse: Float
    init(_ s: Float) { cap = s; inverse = 1 / s }
    @inline(__always) func value(_ x: Vec) -> Vec { Vec(repeating: cap) * tanh(x * Vec(repeating: inverse)) }
    @inline(__always) func value(_ x: Float) -> Float { cap * tanhf(x * inverse) }
    @inline(__always) func slope(capped f: Vec) -> Vec {
        let t = f * Vec(repeating: inverse)
        return 1 - t * t
    }
    @inline(__always) func slope(capped f: Float) -> Float {
        let t = f * inverse
        return 1 - t * t
    }
    var isIdentity: Bool { false }
}

/// The z part of a row: λ·lse², whose gradient 2λ·lse·p_j joins the T·p_j term as an extra
/// coefficient of p. `scale` is the reduction's for the z part: 1/(counted rows) for mean.
struct ZLossTerm {
    let lambda: Float
    let scale: Float

    @inline(__always) func loss<V: RowLanes>(lse: V) -> V { V(splat: lambda) * lse * lse }
    /// What multiplies p_j in the row's scaled gradient.
    @inline(__always) func pCoefficient<V: RowLanes>(lse: V) -> V { V(splat: 2 * lambda * scale) * lse }
}
