/// The vector type of the hot loops. SIMD16 maps onto one AVX-512 register (or two AVX2 ones);
/// SIMD32 is scalarized by the compiler and must not be used (ARCHITECTURE.md, "Performance facts").
typealias Vec = SIMD16<Float>
let vecWidth = 16

@inline(__always)
func load(_ p: UnsafePointer<Float>) -> Vec {
    UnsafeRawPointer(p).loadUnaligned(as: Vec.self)
}

@inline(__always)
func store(_ v: Vec, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vec.self)
}

/// a·b + c, fused where the target has FMA. Without FMA hardware `addingProduct` becomes a libm call
/// per lane, 10× slower than the unfused form, so the choice is made at compile time.
@inline(__always)
func multiplyAdd(_ a: Vec, _ b: Vec, _ c: Vec) -> Vec {
    #if SOFTMAXLAB_FMA || arch(arm64)
    return c.addingProduct(a, b)
    #else
    return a * b + c
    #endif
}

/// Lane-wise maximum. `pointwiseMax` compiles to a scalar loop; this compiles to one `vmaxps`.
@inline(__always)
func maximum(_ a: Vec, _ b: Vec) -> Vec {
    a.replacing(with: b, where: b .> a)
}

/// exp(x) for 16 lanes with x ≤ 88 (larger x give garbage: every caller passes f − max ≤ 0, or
/// at most the row kernel's headroom, and sweeps again past it); x below −87.3 gives ~1e-38, not 0.
/// NaN lanes give garbage, so callers detect non-finite input separately.
///
/// exp(x) = 2^t with t = x·log2 e = n + r, n = round(t), r ∈ [−½, ½]: 2^r by Cephes exp2f's
/// degree-6 polynomial, 2^n by adding n to the exponent bits. Rounding to an integer by adding
/// 1.5·2^23 leaves n in the low bits of the sum T, shifting T's bits left by 23 yields n·2^23 alone
/// (the constant's own bits shift out), and r = x·log2 e + (1.5·2^23 − T) in one fused
/// multiply-add. Error: 1.1 ulp near 0, growing as |x|·2^−24 relative (20 ulp at −87, 9 at −40,
/// measured against double exp; `VectorMathTests` holds it to 1.5 + |x|/4 ulp): log2 e is rounded to a float, which costs
/// what rounding x itself costs, and x = f − max is a rounded float difference already. Eleven
/// vector operations against the eighteen of a Cody–Waite e^r form, 1.3× the rate in L1: the
/// exponential is what the fused kernel's pass one spends its time on.
@inline(__always)
func exp(_ v: Vec) -> Vec {
    let x = v.replacing(with: -87.3, where: v .< -87.3)
    let magic = Vec(repeating: 12582912)
    let log2e = Vec(repeating: 1.44269502162933349609375)
    let t = multiplyAdd(x, log2e, magic)
    let r = multiplyAdd(x, log2e, magic - t)
    var p = Vec(repeating: 1.535336188319500e-4)
    p = multiplyAdd(p, r, Vec(repeating: 1.339887440266574e-3))
    p = multiplyAdd(p, r, Vec(repeating: 9.618437357674640e-3))
    p = multiplyAdd(p, r, Vec(repeating: 5.550332471162809e-2))
    p = multiplyAdd(p, r, Vec(repeating: 2.402264791363012e-1))
    p = multiplyAdd(p, r, Vec(repeating: 6.931472028550421e-1))
    p = multiplyAdd(p, r, Vec(repeating: 1))
    let exponent = unsafeBitCast(t, to: SIMD16<Int32>.self) &<< 23
    return unsafeBitCast(unsafeBitCast(p, to: SIMD16<Int32>.self) &+ exponent, to: Vec.self)
}

/// Natural log for 16 lanes of positive normal floats, within ~2 ulp of logf (Cephes logf):
/// x = 2^e · m with m ∈ [√½, √2), log x = e·ln 2 + log(m), log(1 + f) by a degree-9 polynomial.
@inline(__always)
func log(_ v: Vec) -> Vec {
    let bits = unsafeBitCast(v, to: SIMD16<Int32>.self)
    var e = Vec(((bits &>> 23) & 0xff) &- 126)
    // Mantissa in [0.5, 1).
    var m = unsafeBitCast((bits & 0x007f_ffff) | 0x3f00_0000, to: Vec.self)
    let small = m .< 0.707106781186547524
    e.replace(with: e - 1, where: small)
    m.replace(with: m + m, where: small)
    let x = m - 1
    let z = x * x
    var y = Vec(repeating: 7.0376836292e-2)
    y = multiplyAdd(y, x, Vec(repeating: -1.1514610310e-1))
    y = multiplyAdd(y, x, Vec(repeating: 1.1676998740e-1))
    y = multiplyAdd(y, x, Vec(repeating: -1.2420140846e-1))
    y = multiplyAdd(y, x, Vec(repeating: 1.4249322787e-1))
    y = multiplyAdd(y, x, Vec(repeating: -1.6668057665e-1))
    y = multiplyAdd(y, x, Vec(repeating: 2.0000714765e-1))
    y = multiplyAdd(y, x, Vec(repeating: -2.4999993993e-1))
    y = multiplyAdd(y, x, Vec(repeating: 3.3333331174e-1))
    y = y * x * z
    y = multiplyAdd(e, Vec(repeating: -2.12194440e-4), y)
    y = multiplyAdd(z, Vec(repeating: -0.5), y)
    return multiplyAdd(e, Vec(repeating: 0.693359375), x + y)
}

/// tanh for 16 lanes, within 5.2 ulp of tanh for finite x (`VectorMathTests` holds it to that):
/// x·P(x²)/Q(x²) with x clamped to [−9, 9] (tanh(9) is 1 to float precision), P of degree 5 and Q of degree 3 fitted here to tanh's
/// relative error on [0, 9] (iterated weighted least squares, checked in float32 on 400,000
/// points). Odd by construction; one division and nine multiply-adds, a third of what an
/// exponential-based tanh costs, because the softcap's tanh is on the fused kernel's hot path.
/// P and Q are evaluated in powers of z² (Estrin's scheme: three short chains instead of one of
/// five): 1.15–1.25× the softcapped pass's rate in L1; 5.11 ulp at worst against double tanh,
/// where Horner's order gave 6.6.
@inline(__always)
func tanh(_ v: Vec) -> Vec {
    var x = v.replacing(with: 9, where: v .> 9)
    x.replace(with: -9, where: x .< -9)
    let z = x * x
    let z2 = z * z
    let p01 = multiplyAdd(Vec(repeating: 0.12933944165706635), z, Vec(repeating: 1))
    let p23 = multiplyAdd(Vec(repeating: 9.406468052475248e-06), z, Vec(repeating: 0.0029364018701016903))
    let p45 = multiplyAdd(Vec(repeating: 1.9242385462803213e-11), z, Vec(repeating: -1.3182359204222394e-08))
    let p = multiplyAdd(multiplyAdd(p45, z2, p23), z2, p01)
    let q01 = multiplyAdd(Vec(repeating: 0.46267253160476685), z, Vec(repeating: 1))
    let q23 = multiplyAdd(Vec(repeating: 0.0002302375214640051), z, Vec(repeating: 0.02382768504321575))
    let q = multiplyAdd(q23, z2, q01)
    return x * p / q
}

/// Floats in one 64-byte cache line: the step of the prefetches below.
let floatsPerCacheLine = 16

/// LLVM's prefetch intrinsic, which Swift does not expose: a hint to bring a cache line in for
/// writing (`prefetchw`) ahead of its use. The arguments must be literal constants at the call.
@_silgen_name("llvm.prefetch.p0")
private func llvmPrefetch(_ address: UnsafeRawPointer, _ write: Int32, _ locality: Int32, _ dataCache: Int32)

/// The line holding `p`, into all cache levels, to be written: for data that the hardware
/// prefetchers miss because it comes in short runs far apart (a column chunk of a D×V matrix:
/// rows of 1 KB, 128 KB apart).
@inline(__always)
func prefetchForWriting(_ p: UnsafeRawPointer) { llvmPrefetch(p, 1, 3, 1) }

/// The same for reading.
@inline(__always)
func prefetchForReading(_ p: UnsafeRawPointer) { llvmPrefetch(p, 0, 3, 1) }
