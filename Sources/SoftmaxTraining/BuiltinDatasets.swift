import Foundation
import SoftmaxCore

/// The real data sets embedded in the binary (Data/README.md) and the synthetic ones.
public enum BuiltinDatasets {
    public static let names = ["digits", "iris", "blobs", "spiral"]

    /// UCI handwritten digits: 1797 8×8 images, pixel counts divided by 16 so features are in [0, 1].
    public static func digits() throws -> Dataset {
        var d = try CSVDataset.parse(EmbeddedFiles.files["digits.csv"]!, name: "digits").0
        d.features.storage = d.features.storage.map { $0 / 16 }
        return d
    }

    /// Fisher's iris: 150 flowers, 4 measurements, 3 species (its header names them).
    public static func iris() throws -> Dataset {
        let text = EmbeddedFiles.files["iris.csv"]!
        let header = text.prefix { $0 != "\n" }.split(separator: ",")
        var d = try CSVDataset.parse(String(text.drop { $0 != "\n" }), name: "iris").0
        d.classNames = header.dropFirst(2).map(String.init)
        d.classes = d.classNames!.count
        return d
    }

    /// Gaussian clusters: one centre per class drawn from N(0, 4²) per feature, unit-variance points.
    public static func blobs(samples: Int, features: Int, classes: Int, seed: UInt64) throws -> Dataset {
        try requireSynthetic(samples: samples, features: features, classes: classes)
        var rng = SeededGenerator(seed: seed)
        let centres = (0..<(classes * features)).map { _ in 4 * Float(normal(&rng)) }
        var storage: [Float] = [], labels: [Int32] = []
        for i in 0..<samples {
            let k = i % classes
            labels.append(Int32(k))
            for j in 0..<features { storage.append(centres[k * features + j] + Float(normal(&rng))) }
        }
        return Dataset(name: "blobs", features: Matrix(rows: samples, cols: features, storage: storage), labels: labels, classes: classes)
    }

    /// The classic spiral (2-D, `classes` arms): not linearly separable, so a linear classifier
    /// stays well below 100% — a useful contrast to blobs.
    public static func spiral(samples: Int, classes: Int, seed: UInt64) throws -> Dataset {
        try requireSynthetic(samples: samples, features: 2, classes: classes)
        var rng = SeededGenerator(seed: seed)
        let perClass = max(1, samples / classes)
        var storage: [Float] = [], labels: [Int32] = []
        for k in 0..<classes {
            for i in 0..<perClass {
                let r = Double(i) / Double(max(perClass - 1, 1))
                let t = Double(k) * 4 + 4 * r + 0.2 * normal(&rng)
                storage += [Float(r * sin(t)), Float(r * cos(t))]
                labels.append(Int32(k))
            }
        }
        return Dataset(name: "spiral", features: Matrix(rows: labels.count, cols: 2, storage: storage), labels: labels, classes: classes)
    }

    private static func requireSynthetic(samples: Int, features: Int, classes: Int) throws {
        guard samples >= 1 else { throw InputError("--samples must be at least 1, got \(samples)") }
        guard features >= 1 else { throw InputError("--features must be at least 1, got \(features)") }
        guard classes >= 2 else { throw InputError("--classes must be at least 2, got \(classes)") }
        guard samples >= classes else { throw InputError("--samples (\(samples)) must be at least --classes (\(classes))") }
        // Before anything is allocated: the features (and their split copies), the class centres.
        try MemoryBudget.require("--samples \(samples) with --features \(features)", shape: [samples, features], copies: 3)
        try MemoryBudget.require("--classes \(classes) with --features \(features)", shape: [classes, features], copies: 4)
    }

    /// A standard normal draw (Box–Muller).
    static func normal(_ rng: inout SeededGenerator) -> Double {
        let u = Double.random(in: Double.ulpOfOne..<1, using: &rng), v = Double.random(in: 0..<1, using: &rng)
        return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
    }
}
