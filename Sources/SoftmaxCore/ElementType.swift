/// How a float buffer stores its elements. Computation is float32 whatever the storage: 16-bit
/// values are widened on load and rounded (to nearest, ties to even) once, on store.
public enum ElementType: String, Sendable, Codable, CaseIterable {
    case f32
    /// IEEE 754 binary16 (numpy's float16, `.npy` `<f2`): 11-bit significand, range ±65504.
    case f16
    /// bfloat16: float32's range with an 8-bit significand (the upper half of a float32's bits).
    case bf16

    public var bytes: Int { self == .f32 ? 4 : 2 }

    /// The float32 value nearest-even to `x` in this type, as a float32 (x itself for f32).
    public func rounded(_ x: Float) -> Float {
        switch self {
        case .f32: x
        case .f16: Float(Float16(x))
        case .bf16: Self.bfloat16(bits: Self.bfloat16Bits(x))
        }
    }

    /// The bfloat16 nearest to x, ties to even; NaN stays a (quiet) NaN.
    public static func bfloat16Bits(_ x: Float) -> UInt16 {
        let bits = x.bitPattern
        if x.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
        let rounding = 0x7FFF + ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
    }

    public static func bfloat16(bits: UInt16) -> Float { Float(bitPattern: UInt32(bits) << 16) }

    /// A 16-bit type's bits of x, rounded to nearest even (f32 has no 16-bit form: its upper half).
    public func bits(_ x: Float) -> UInt16 {
        self == .f16 ? Float16(x).bitPattern : Self.bfloat16Bits(x)
    }

    /// The value of a 16-bit type's bits, as a float32.
    public func value(bits: UInt16) -> Float {
        self == .f16 ? Float(Float16(bitPattern: bits)) : Self.bfloat16(bits: bits)
    }
}
