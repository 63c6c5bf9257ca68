import Foundation
import SoftmaxCore
import SoftmaxTraining
import Testing

@Suite struct DatasetTests {
    @Test func embeddedRealDataSets() throws {
        let digits = try BuiltinDatasets.digits()
        #expect(digits.count == 1797 && digits.featureCount == 64 && digits.classes == 10)
        #expect(digits.features.storage.allSatisfy { $0 >= 0 && $0 <= 1 }, "pixel counts / 16")
        #expect(digits.features.storage.contains(1))
        #expect(Set(digits.labels) == Set(0..<10))
        let iris = try BuiltinDatasets.iris()
        #expect(iris.count == 150 && iris.featureCount == 4 && iris.classes == 3)
        #expect(iris.classNames == ["setosa", "versicolor", "virginica"])
        #expect(iris.features[0, 0] == 5.1 && iris.labels[0] == 0 && iris.labels[149] == 2)
    }

    @Test func splitIsDeterministicDisjointAndComplete() throws {
        let d = try BuiltinDatasets.blobs(samples: 101, features: 3, classes: 4, seed: 9)
        let (a, va) = d.split(validationFraction: 0.25, seed: 5)
        let (b, vb) = d.split(validationFraction: 0.25, seed: 5)
        #expect(a.features == b.features && va!.labels == vb!.labels)
        #expect(va!.count == 25 && a.count == 76)
        // Every original row appears exactly once across the two parts.
        let rows = Set((0..<d.count).map { Array(d.features.row($0)) })
        let parts = (0..<a.count).map { Array(a.features.row($0)) } + (0..<va!.count).map { Array(va!.features.row($0)) }
        #expect(Set(parts) == rows && parts.count == d.count)
        let (other, _) = d.split(validationFraction: 0.25, seed: 6)
        #expect(other.features != a.features, "another seed shuffles differently")
        let (all, none) = d.split(validationFraction: 0, seed: 5)
        #expect(none == nil && all.count == d.count)
    }

    @Test func standardizationUsesTheGivenStatistics() throws {
        let d = try BuiltinDatasets.blobs(samples: 200, features: 3, classes: 2, seed: 1)
        let (mean, std) = d.featureStatistics()
        let s = d.standardized(mean: mean, std: std)
        let (m2, s2) = s.featureStatistics()
        for j in 0..<3 {
            #expect(abs(m2[j]) < 1e-5)
            #expect(abs(s2[j] - 1) < 1e-4)
        }
    }

    @Test func csvWithHeaderNamesAndLabelColumn() throws {
        let d = try CSVDataset.parse("species,a,b\ncat,1,2\ndog,3,4\ncat,5,6\n", name: "pets.csv", labelColumn: 0).0
        #expect(d.classes == 2 && d.classNames == ["cat", "dog"] && d.labels == [0, 1, 0])
        #expect(d.features == Matrix([[1, 2], [3, 4], [5, 6]]))
        let numeric = try CSVDataset.parse("# comment\n0.5,1\n\n1.5,0\n", name: "n.csv").0
        #expect(numeric.labels == [1, 0] && numeric.classes == 2 && numeric.classNames == nil)
    }

    @Test(arguments: [
        ("1,2,0\n3,4\n", -1, "bad.csv line 2: 2 fields, expected 3"),
        ("1,2,0\n3,x,1\n", -1, "bad.csv line 2, field 2: 'x' is not a finite number"),
        ("1,2,0\n3,inf,1\n", -1, "bad.csv line 2, field 2: 'inf' is not a finite number"),
        ("1,2,0\n3,4,-2\n", -1, "bad.csv line 2: label -2 is negative; classes are 0, 1, 2, …"),
        ("1,2,0\n", 5, "--label-column 5 is outside the 3 columns of bad.csv"),
        ("\n\n", -1, "bad.csv has no rows"),
        ("a,b,c\n", -1, "bad.csv has a header but no rows"),
    ])
    func badCSVNamesTheLine(_ text: String, _ column: Int, _ message: String) {
        #expect(throws: InputError(message)) { _ = try CSVDataset.parse(text, name: "bad.csv", labelColumn: column) }
    }

    @Test func syntheticDataIsSeeded() throws {
        let a = try BuiltinDatasets.spiral(samples: 300, classes: 3, seed: 4)
        let b = try BuiltinDatasets.spiral(samples: 300, classes: 3, seed: 4)
        #expect(a.features == b.features && a.count == 300 && a.featureCount == 2)
        #expect(throws: InputError("--classes must be at least 2, got 1")) { _ = try BuiltinDatasets.blobs(samples: 10, features: 2, classes: 1, seed: 0) }
    }
}
