import Foundation
import SoftmaxCPU
import Testing

/// The Swift backend's vector functions against double precision, in units in the last place of
/// the float result, on every seventh float of each range (about a million points a range): the
/// bounds their comments state, so a change that costs accuracy fails here by name.
@Suite struct VectorMathTests {
    /// About `count` floats from lo to hi (both of one sign), evenly spaced in their bit patterns,
    /// so every binade between them is sampled alike.
    static func floats(_ lo: Float, _ hi: Float, count: Int = 400_000) -> [Float] {
        let a = Int64(lo.magnitude.bitPattern), b = Int64(hi.magnitude.bitPattern)
        let step = Swift.max(1, abs(b - a) / Int64(count))
        return stride(from: Swift.min(a, b), through: Swift.max(a, b), by: Int(step)).map {
            lo < 0 ? -Float(bitPattern: UInt32($0)) : Float(bitPattern: UInt32($0))
        }
    }

    /// The largest error in ulps of the float nearest the exact value, and where.
    static func worst(_ x: [Float], _ got: [Float], _ exact: (Double) -> Double) -> (ulps: Double, at: Float) {
        var result = (ulps: 0.0, at: Float.nan)
        for (xi, g) in zip(x, got) {
            let e = exact(Double(xi))
            let ulps = abs(Double(g) - e) / Double(Float(e).ulp)
            if !(ulps <= result.ulps) { result = (ulps, xi) }
        }
        return result
    }

    /// exp: 1.1 ulp near 0, growing as |x|·2⁻²⁴ relative (log2 e rounded to a float): at most
    /// 1.5 + |x|/4 ulp over the range the kernels pass it, f − max ≤ 0 up to the row kernel's headroom.
    @Test(arguments: [(Float(-87), Float(-40)), (-40, -1), (-1, -1e-30), (1e-30, 1), (1, 64)])
    func expIsWithinItsBound(_ lo: Float, _ hi: Float) {
        let x = Self.floats(lo, hi)
        let bound = 1.5 + Double(max(abs(lo), abs(hi))) / 4
        let (ulps, at) = Self.worst(x, VectorMath.exp(x), Foundation.exp)
        #expect(ulps <= bound, "exp on [\(lo), \(hi)]: \(ulps) ulp at \(at), bound \(bound)")
        if max(abs(lo), abs(hi)) <= 1 { #expect(ulps <= 1.2, "exp on [\(lo), \(hi)]: \(ulps) ulp at \(at)") }
    }

    @Test(arguments: [(Float(1e-6), Float(0.01)), (0.01, 0.5), (0.5, 2), (2, 9), (9, 20), (-20, -1e-6)])
    func tanhIsWithinFivePointTwoUlp(_ lo: Float, _ hi: Float) {
        let x = Self.floats(lo, hi)
        let (ulps, at) = Self.worst(x, VectorMath.tanh(x), Foundation.tanh)
        #expect(ulps <= 5.2, "tanh on [\(lo), \(hi)]: \(ulps) ulp at \(at)")
    }

    @Test(arguments: [(Float(1e-30), Float(1e-3)), (1e-3, 0.9), (0.9, 1.1), (1.1, 1e30)])
    func logIsWithinTwoUlp(_ lo: Float, _ hi: Float) {
        let x = Self.floats(lo, hi)
        let (ulps, at) = Self.worst(x, VectorMath.log(x), Foundation.log)
        #expect(ulps <= 2, "log on [\(lo), \(hi)]: \(ulps) ulp at \(at)")
    }
}
