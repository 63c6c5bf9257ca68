import SoftmaxCore

/// Row-major float64 matrix for the oracle.
public struct DoubleMatrix: Sendable, Equatable {
    public let rows: Int
    public let cols: Int
    public var storage: [Double]

    public init(rows: Int, cols: Int, repeating value: Double = 0) {
        self.rows = rows
        self.cols = cols
        self.storage = [Double](repeating: value, count: rows * cols)
    }

    public init(rows: Int, cols: Int, storage: [Double]) {
        precondition(storage.count == rows * cols)
        self.rows = rows
        self.cols = cols
        self.storage = storage
    }

    /// The exact float64 values of a float32 matrix.
    public init(_ m: Matrix) {
        self.init(rows: m.rows, cols: m.cols, storage: m.storage.map(Double.init))
    }

    public subscript(r: Int, c: Int) -> Double {
        get { storage[r * cols + c] }
        set { storage[r * cols + c] = newValue }
    }
}
