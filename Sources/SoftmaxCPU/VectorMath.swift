/// The kernels' own vector `exp`, `log` and `tanh` (`Vector.swift`) over arrays, for the tests
/// that hold them to the accuracy their comments state: the kernels are checked against the
/// float64 oracle as a whole, where a few ulp more in a function would hide inside the tolerances.
public enum VectorMath {
    public static func exp(_ x: [Float]) -> [Float] { map(x) { SoftmaxCPU.exp($0) } }
    public static func log(_ x: [Float]) -> [Float] { map(x) { SoftmaxCPU.log($0) } }
    public static func tanh(_ x: [Float]) -> [Float] { map(x) { SoftmaxCPU.tanh($0) } }

    /// `f` over 16 lanes at a time; the last vector padded with the last value.
    private static func map(_ x: [Float], _ f: (Vec) -> Vec) -> [Float] {
        var out = [Float](repeating: 0, count: x.count)
        var i = 0
        while i < x.count {
            var v = Vec(repeating: x[x.count - 1])
            for l in 0..<Swift.min(vecWidth, x.count - i) { v[l] = x[i + l] }
            let r = f(v)
            for l in 0..<Swift.min(vecWidth, x.count - i) { out[i + l] = r[l] }
            i += vecWidth
        }
        return out
    }
}
