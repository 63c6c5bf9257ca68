/// Central finite differences and the error measures used to compare gradients.
public enum GradientCheck {
    /// ∂f/∂v_i ≈ (f(v + h·e_i) − f(v − h·e_i)) / 2h for every i; error O(h²).
    public static func centralDifference(at point: [Double], step h: Double = 1e-5, _ f: ([Double]) -> Double) -> [Double] {
        var v = point
        var result = [Double](repeating: 0, count: point.count)
        for i in point.indices {
            let saved = v[i]
            v[i] = saved + h
            let up = f(v)
            v[i] = saved - h
            let down = f(v)
            v[i] = saved
            result[i] = (up - down) / (2 * h)
        }
        return result
    }

    /// ‖a − b‖ / max(‖a‖ + ‖b‖, tiny): scale-free, and well defined where single entries are near 0.
    public static func relativeError(_ a: [Double], _ b: [Double]) -> Double {
        precondition(a.count == b.count)
        var diff = 0.0, na = 0.0, nb = 0.0
        for i in a.indices {
            diff += (a[i] - b[i]) * (a[i] - b[i])
            na += a[i] * a[i]
            nb += b[i] * b[i]
        }
        return diff.squareRoot() / max(na.squareRoot() + nb.squareRoot(), 1e-30)
    }

    /// The largest |a_i − b_i| and where it is.
    public static func maxAbsoluteError(_ a: [Double], _ b: [Double]) -> (index: Int, error: Double) {
        precondition(a.count == b.count)
        var worst = (index: 0, error: 0.0)
        for i in a.indices where abs(a[i] - b[i]) > worst.error { worst = (i, abs(a[i] - b[i])) }
        return worst
    }
}
