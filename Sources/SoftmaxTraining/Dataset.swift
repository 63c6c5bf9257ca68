import SoftmaxCore

/// Examples for a classifier: features (N×D, row-major) and class indices in 0..<classes.
public struct Dataset: Sendable {
    public var name: String
    public var features: Matrix
    public var labels: [Int32]
    public var classes: Int
    /// Names of the classes, when the source has them.
    public var classNames: [String]?

    public init(name: String, features: Matrix, labels: [Int32], classes: Int, classNames: [String]? = nil) {
        precondition(features.rows == labels.count, "one label per row")
        self.name = name
        self.features = features
        self.labels = labels
        self.classes = classes
        self.classNames = classNames
    }

    public var count: Int { labels.count }
    public var featureCount: Int { features.cols }

    /// The rows at `indices`, in that order.
    public func subset(_ indices: [Int], name: String) -> Dataset {
        var storage: [Float] = []
        storage.reserveCapacity(indices.count * featureCount)
        for i in indices { storage += features.row(i) }
        return Dataset(name: name, features: Matrix(rows: indices.count, cols: featureCount, storage: storage),
                       labels: indices.map { labels[$0] }, classes: classes, classNames: classNames)
    }

    /// A deterministic shuffle-and-split: the first ⌊fraction·N⌋ shuffled rows validate, the rest train.
    /// `fraction` 0 trains on everything and returns no validation set.
    public func split(validationFraction fraction: Double, seed: UInt64) -> (train: Dataset, validation: Dataset?) {
        var rng = SeededGenerator(seed: seed ^ 0x5EED_5917)
        let order = Array(0..<count).shuffled(using: &rng)
        let validationCount = Int(Double(count) * fraction)
        guard validationCount > 0 else { return (self, nil) }
        return (subset(Array(order[validationCount...]), name: "\(name) (train)"),
                subset(Array(order[..<validationCount]), name: "\(name) (validation)"))
    }

    /// Per-feature mean and standard deviation (a constant feature gets 1, so it maps to 0).
    public func featureStatistics() -> (mean: [Float], std: [Float]) {
        let n = Double(count), d = featureCount
        var mean = [Double](repeating: 0, count: d), square = [Double](repeating: 0, count: d)
        for i in 0..<count {
            for j in 0..<d {
                let v = Double(features[i, j])
                mean[j] += v
                square[j] += v * v
            }
        }
        let m = mean.map { $0 / n }
        let s = (0..<d).map { j in (square[j] / n - m[j] * m[j]).squareRoot() }
        return (m.map(Float.init), s.map { $0 > 1e-12 ? Float($0) : 1 })
    }

    /// (x − mean) / std per feature.
    public func standardized(mean: [Float], std: [Float]) -> Dataset {
        var copy = self
        for i in 0..<count {
            for j in 0..<featureCount { copy.features[i, j] = (features[i, j] - mean[j]) / std[j] }
        }
        return copy
    }
}
