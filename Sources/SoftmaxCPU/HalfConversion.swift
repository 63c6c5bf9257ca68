import SoftmaxCore

/// 16-bit floats to float32 and back, 16 at a time: float16 through Swift's `Float16` (F16C's
/// `vcvtph2ps`/`vcvtps2ph` where the build has them), bfloat16 by shifting bits, rounding to
/// nearest, ties to even (`ElementType.bfloat16Bits` is the scalar rule).
enum HalfConversion {
    static func widen(_ source: UnsafeRawPointer, _ type: ElementType, count: Int, into destination: UnsafeMutablePointer<Float>) {
        switch type {
        case .f32:
            destination.update(from: source.assumingMemoryBound(to: Float.self), count: count)
        case .f16, .bf16:
            var i = 0
            while i + vecWidth <= count {
                store(widen16(source + 2 * i, type), destination + i)
                i += vecWidth
            }
            while i < count {
                destination[i] = widen(source + 2 * i, type)
                i += 1
            }
        }
    }

    /// 16 values of a 16-bit type at `source`.
    /// Element by element on purpose: the optimizer merges the 16 scalar conversions into one
    /// vector instruction, where the standard library's generic vector conversions were left as
    /// calls inside the row kernel (spilling every vector register around them).
    @inline(__always)
    static func widen16(_ source: UnsafeRawPointer, _ type: ElementType) -> Vec {
        var v = Vec()
        if type == .f16 {
            let h = source.loadUnaligned(as: SIMD16<Float16>.self)
            for i in 0..<vecWidth { v[i] = Float(h[i]) }
            return v
        }
        let b = source.loadUnaligned(as: SIMD16<UInt16>.self)
        var bits = SIMD16<UInt32>()
        for i in 0..<vecWidth { bits[i] = UInt32(b[i]) }
        return unsafeBitCast(bits &<< 16, to: Vec.self)
    }

    @inline(__always)
    static func widen(_ source: UnsafeRawPointer, _ type: ElementType) -> Float {
        type.value(bits: source.loadUnaligned(as: UInt16.self))
    }

    /// `finite`: the caller knows every value is finite (a fused call's gradient, whose inputs were
    /// checked), which saves bfloat16 its NaN case; uploads keep it, so NaN never becomes a number.
    static func narrow(_ source: UnsafePointer<Float>, count: Int, into destination: UnsafeMutableRawPointer, _ type: ElementType,
                       finite: Bool = false) {
        switch type {
        case .f32:
            destination.assumingMemoryBound(to: Float.self).update(from: source, count: count)
        case .f16, .bf16:
            var i = 0
            while i + vecWidth <= count {
                narrow16(load(source + i), into: destination + 2 * i, type, finite: finite)
                i += vecWidth
            }
            while i < count {
                narrow(source[i], into: destination + 2 * i, type)
                i += 1
            }
        }
    }

    /// 16 floats rounded into a 16-bit type at `destination`.
    @inline(__always)
    static func narrow16(_ v: Vec, into destination: UnsafeMutableRawPointer, _ type: ElementType, finite: Bool) {
        // Element by element for the reason `widen16` gives.
        if type == .f16 {
            var h = SIMD16<Float16>()
            for i in 0..<vecWidth { h[i] = Float16(v[i]) }
            destination.storeBytes(of: h, as: SIMD16<Float16>.self)
            return
        }
        let bits = unsafeBitCast(v, to: SIMD16<UInt32>.self)
        var rounded = (bits &+ (((bits &>> 16) & 1) &+ 0x7FFF)) &>> 16
        // Rounding would carry some NaNs into infinity or −0: keep them NaN.
        if !finite { rounded.replace(with: (bits &>> 16) | 0x0040, where: v .!= v) }
        var narrow = SIMD16<UInt16>()
        for i in 0..<vecWidth { narrow[i] = UInt16(truncatingIfNeeded: rounded[i]) }
        destination.storeBytes(of: narrow, as: SIMD16<UInt16>.self)
    }

    @inline(__always)
    static func narrow(_ x: Float, into destination: UnsafeMutableRawPointer, _ type: ElementType) {
        destination.storeBytes(of: type.bits(x), as: UInt16.self)
    }
}
