/// Compares a float32 result with the float64 oracle, element by element, with tolerance
/// atol + rtol·|expected|, and describes the worst mismatches (as llm.c's validate_result does).
public struct Comparison: Sendable {
    public var atol: Double
    public var rtol: Double

    public init(atol: Double, rtol: Double) {
        self.atol = atol
        self.rtol = rtol
    }

    /// nil when every element is within tolerance (NaN matches only NaN: a mean over no rows is NaN
    /// in the oracle too); otherwise the context (seed, shape, …), the count
    /// of mismatches, the first ten with their index, and the largest absolute error.
    public func mismatches(_ actual: [Float], _ expected: [Double], cols: Int = 1, context: String) -> String? {
        guard actual.count == expected.count else {
            return "\(context): \(actual.count) values, expected \(expected.count)"
        }
        var lines: [String] = []
        var count = 0
        var worst = (index: 0, error: 0.0)
        for i in actual.indices {
            let a = Double(actual[i]), e = expected[i]
            if a.isNaN && e.isNaN { continue }
            let error = abs(a - e)
            if error > worst.error || a.isNaN { worst = (i, a.isNaN ? .infinity : error) }
            if !(error <= atol + rtol * abs(e)) {
                count += 1
                if lines.count < 10 {
                    lines.append("  [\(i / cols), \(i % cols)] got \(a), expected \(e), error \(error)")
                }
            }
        }
        guard count > 0 else { return nil }
        return "\(context): \(count) of \(actual.count) values outside atol \(atol) + rtol \(rtol)·|expected|; "
            + "max error \(worst.error) at [\(worst.index / cols), \(worst.index % cols)]\n" + lines.joined(separator: "\n")
    }
}
