@_exported import SoftmaxReference
@_exported import SoftmaxCore

/// Random inputs for conformance tests, all drawn from one seeded generator.
public enum RandomData {
    /// Uniform logits in [−scale, scale].
    public static func logits(_ rows: Int, _ cols: Int, scale: Float, _ rng: inout SeededGenerator) -> Matrix {
        Matrix(rows: rows, cols: cols, storage: (0..<(rows * cols)).map { _ in Float.random(in: -scale...scale, using: &rng) })
    }

    /// Labels in 0..<classes, with roughly `ignoredFraction` of them set to `ignoreIndex`.
    public static func labels(_ rows: Int, classes: Int, ignoredFraction: Double = 0, ignoreIndex: Int32 = -100,
                              _ rng: inout SeededGenerator) -> [Int32] {
        (0..<rows).map { _ in
            Double.random(in: 0..<1, using: &rng) < ignoredFraction ? ignoreIndex : Int32.random(in: 0..<Int32(classes), using: &rng)
        }
    }

    /// Rows of probabilities (positive, summing to 1).
    public static func probabilities(_ rows: Int, _ cols: Int, _ rng: inout SeededGenerator) -> Matrix {
        var m = Matrix(rows: rows, cols: cols)
        for i in 0..<rows {
            var total: Float = 0
            for j in 0..<cols {
                let v = Float.random(in: 0.01...1, using: &rng)
                m[i, j] = v
                total += v
            }
            for j in 0..<cols { m[i, j] /= total }
        }
        return m
    }

    public static func weights(_ count: Int, _ rng: inout SeededGenerator) -> [Float] {
        (0..<count).map { _ in Float.random(in: 0.1...3, using: &rng) }
    }
}
