import SoftmaxCore

/// 16-bit floats to float32 and back, 16 at a time: float16 through Swift's `Float16` (F16C's
/// `vcvtph2ps`/`vcvtps2ph` where the build has them), bfloat16 by shifting bits, rounding to
/// nearest, ties to even (`ElementType.bfloat16Bits` is the scalar rule).
enum HalfConversion {
    static func widen(_ source: UnsafeRawPointer, _ type: ElementType, count: Int, into destination: UnsafeMutablePointer<Float>) {
        switch type {
        case .f32:
            destination.update(from: source.assumingMemoryBound(to: Float.self), count: count)
        case .f16:
            var i = 0
            while i + vecWidth <= count {
                let h = (source + 2 * i).loadUnaligned(as: SIMD16<Float16>.self)
                store(SIMD16<Float>(h), destination + i)
                i += vecWidth
            }
            while i < count {
                destination[i] = Float((source + 2 * i).loadUnaligned(as: Float16.self))
                i += 1
            }
        case .bf16:
            var i = 0
            while i + vecWidth <= count {
                let b = (source + 2 * i).loadUnaligned(as: SIMD16<UInt16>.self)
                store(unsafeBitCast(SIMD16<UInt32>(truncatingIfNeeded: b) &<< 16, to: Vec.self), destination + i)
                i += vecWidth
            }
            while i < count {
                destination[i] = ElementType.bfloat16(bits: (source + 2 * i).loadUnaligned(as: UInt16.self))
                i += 1
            }
        }
    }

    /// `finite`: the caller knows every value is finite (a fused call's gradient, whose inputs were
    /// checked), which saves bfloat16 its NaN case; uploads keep it, so NaN never becomes a number.
    static func narrow(_ source: UnsafePointer<Float>, count: Int, into destination: UnsafeMutableRawPointer, _ type: ElementType,
                       finite: Bool = false) {
        switch type {
        case .f32:
            destination.assumingMemoryBound(to: Float.self).update(from: source, count: count)
        case .f16:
            var i = 0
            while i + vecWidth <= count {
                (destination + 2 * i).storeBytes(of: SIMD16<Float16>(load(source + i)), as: SIMD16<Float16>.self)
                i += vecWidth
            }
            while i < count {
                (destination + 2 * i).storeBytes(of: Float16(source[i]), as: Float16.self)
                i += 1
            }
        case .bf16:
            var i = 0
            while i + vecWidth <= count {
                let v = load(source + i)
                let bits = unsafeBitCast(v, to: SIMD16<UInt32>.self)
                var rounded = (bits &+ (((bits &>> 16) & 1) &+ 0x7FFF)) &>> 16
                // Rounding would carry some NaNs into infinity or −0: keep them NaN.
                if !finite { rounded.replace(with: (bits &>> 16) | 0x0040, where: v .!= v) }
                (destination + 2 * i).storeBytes(of: SIMD16<UInt16>(truncatingIfNeeded: rounded), as: SIMD16<UInt16>.self)
                i += vecWidth
            }
            while i < count {
                (destination + 2 * i).storeBytes(of: ElementType.bfloat16Bits(source[i]), as: UInt16.self)
                i += 1
            }
        }
    }
}
