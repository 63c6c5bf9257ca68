import Foundation
import SoftmaxCore
import SoftmaxLabCLI
import SoftmaxReference
import Testing

@Suite struct LossCommandTests {
    struct Output: Decodable {
        var loss: Double
        var rows: Int
        var classes: Int
        var rowLosses: [Float]?
    }

    func run(_ args: [String]) throws -> (CommandRunner.Result, Output?) {
        let r = CommandRunner.run(args)
        return (r, r.exitCode == 0 ? try JSONDecoder().decode(Output.self, from: Data(r.standardOutput.utf8)) : nil)
    }

    /// A random problem written as .npy (float32 logits, int64 labels) and as CSV/text.
    func problem(_ files: TestFiles, rows n: Int, classes c: Int, seed: UInt64) throws -> (Matrix, [Int32]) {
        var rng = SeededGenerator(seed: seed)
        let logits = Matrix(rows: n, cols: c, storage: (0..<(n * c)).map { _ in Float.random(in: -5...5, using: &rng) })
        let labels = (0..<n).map { _ in Int32.random(in: 0..<Int32(c), using: &rng) }
        try files.bytes("logits.npy", TestFiles.npy(descr: "<f4", shape: [n, c], payload: TestFiles.float32LE(logits.storage)))
        try files.bytes("labels.npy", TestFiles.npy(descr: "<i8", shape: [n], payload: TestFiles.int64LE(labels.map(Int64.init))))
        try files.text("logits.csv", (0..<n).map { i in logits.row(i).map { "\($0)" }.joined(separator: ",") }.joined(separator: "\n") + "\n")
        try files.text("labels.txt", labels.map(String.init).joined(separator: "\n") + "\n")
        return (logits, labels)
    }

    @Test func npyAndCsvInputsGiveTheOracleLoss() throws {
        let files = try TestFiles()
        let (logits, labels) = try problem(files, rows: 37, classes: 11, seed: 3)
        let options = CrossEntropyOptions(reduction: .sum, classWeights: (0..<11).map { Float($0 % 3 + 1) }, labelSmoothing: 0.1)
        let want = ReferenceCrossEntropy.evaluate(logits: DoubleMatrix(logits), targets: .classIndices(labels), options: options).loss
        let flags = ["--reduction", "sum", "--weights", "1,2,3,1,2,3,1,2,3,1,2", "--label-smoothing", "0.1", "--json"]
        for (l, y) in [("logits.npy", "labels.npy"), ("logits.csv", "labels.txt")] {
            let (r, out) = try run(["loss", "--logits", files.path(l), "--labels", files.path(y)] + flags)
            #expect(r.exitCode == 0, "\(l): \(r.standardError)")
            #expect(abs(out!.loss - want) <= 1e-5 * abs(want), "\(l): \(out!.loss) vs oracle \(want)")
            #expect(out!.rows == 37 && out!.classes == 11)
        }
    }

    @Test func gradientIsWrittenAsFloat32Npy() throws {
        let files = try TestFiles()
        let (logits, labels) = try problem(files, rows: 9, classes: 5, seed: 4)
        let r = CommandRunner.run(["loss", "--logits", files.path("logits.npy"), "--labels", files.path("labels.npy"),
                                   "--grad-out", files.path("grad.npy")])
        #expect(r.exitCode == 0, "\(r.standardError)")
        let (header, values) = try TestFiles.readFloat32(files.path("grad.npy"))
        #expect(header.contains("'descr': '<f4'") && header.contains("'shape': (9, 5)") && header.contains("False"))
        let want = ReferenceCrossEntropy.evaluate(logits: DoubleMatrix(logits), targets: .classIndices(labels)).gradient.storage
        #expect(values.count == want.count)
        for (g, w) in zip(values, want) { #expect(abs(Double(g) - w) < 1e-6) }
    }

    @Test func probabilityTargetsAndReductionNone() throws {
        let files = try TestFiles()
        try files.text("f.csv", "1,2,3\n0,0,0\n")
        try files.text("t.csv", "0.2,0.3,0.5\n1,0,0\n")
        let (r, out) = try run(["loss", "--logits", files.path("f.csv"), "--targets", files.path("t.csv"), "--reduction", "none", "--json"])
        #expect(r.exitCode == 0, "\(r.standardError)")
        let lse0 = log(exp(1.0) + exp(2.0) + exp(3.0))
        let expected = [0.2 * (lse0 - 1) + 0.3 * (lse0 - 2) + 0.5 * (lse0 - 3), log(3.0)]
        for (g, w) in zip(out!.rowLosses!, expected) { #expect(abs(Double(g) - w) < 1e-5) }
    }

    @Test func bigEndianFloat64AndFloatLabelsAreRead() throws {
        let files = try TestFiles()
        try files.bytes("f.npy", TestFiles.npy(descr: ">f8", shape: [2, 2], payload: TestFiles.float64BE([0, 0, 1, 3])))
        try files.bytes("y.npy", TestFiles.npy(descr: "<f4", shape: [2], payload: TestFiles.float32LE([1, 0]), version: 2))
        let (r, out) = try run(["loss", "--logits", files.path("f.npy"), "--labels", files.path("y.npy"), "--reduction", "sum", "--json"])
        #expect(r.exitCode == 0, "\(r.standardError)")
        #expect(abs(out!.loss - (log(2.0) + log(exp(1.0) + exp(3.0)) - 1)) < 1e-5)
    }

    static let badInputs: [(String, [String: [UInt8]], [String], String)] = {
        let f = TestFiles.float32LE
        let npy = TestFiles.npyFile
        let goodLogits = npy("<f4", [3, 2], f([1, 2, 3, 4, 5, 6]), false, 1)
        return [
            ("label out of range", ["l.csv": Array("1,2\n3,4\n5,6\n".utf8), "y.txt": Array("0\n1\n7\n".utf8)], ["--labels", "y.txt"],
             "y.txt line 3: label 7 is outside 0..<2"),
            ("label count", ["l.csv": Array("1,2\n3,4\n5,6\n".utf8), "y.txt": Array("0\n1\n".utf8)], ["--labels", "y.txt"],
             "y.txt: expected 3 labels (one per logits row), got 2"),
            ("NaN logit", ["l.csv": Array("1,2\n3,nan\n5,6\n".utf8), "y.txt": Array("0\n1\n1\n".utf8)], ["--labels", "y.txt"],
             "l.csv line 2, field 2: logits value nan"),
            ("inf logit in npy", ["l.npy": npy("<f4", [2, 2], f([1, 2, .infinity, 4]), false, 1), "y.txt": Array("0\n1\n".utf8)],
             ["--labels", "y.txt"], "l.npy row 1, column 0: logits value inf"),
            ("empty file", ["l.csv": [], "y.txt": Array("0\n".utf8)], ["--labels", "y.txt"], "l.csv has no rows of numbers"),
            ("ragged CSV", ["l.csv": Array("1,2\n3,4,5\n".utf8), "y.txt": Array("0\n1\n".utf8)], ["--labels", "y.txt"],
             "l.csv line 2: 3 fields, but line 1 has 2"),
            ("not a number", ["l.csv": Array("1,2\n3,x4\n".utf8), "y.txt": Array("0\n1\n".utf8)], ["--labels", "y.txt"],
             "l.csv line 2, field 2: 'x4' is not a number"),
            ("bad label text", ["l.csv": Array("1,2\n3,4\n".utf8), "y.txt": Array("0\none\n".utf8)], ["--labels", "y.txt"],
             "y.txt line 2: 'one' is not an integer label"),
            ("npy bad magic", ["l.npy": Array("hello world, not numpy".utf8), "y.txt": Array("0\n".utf8)], ["--labels", "y.txt"],
             "l.npy is not a .npy file"),
            ("npy fortran", ["l.npy": npy("<f4", [3, 2], f([1, 2, 3, 4, 5, 6]), true, 1), "y.txt": Array("0\n".utf8)],
             ["--labels", "y.txt"], "l.npy is in Fortran (column-major) order"),
            ("npy complex", ["l.npy": npy("<c8", [1, 1], [UInt8](repeating: 0, count: 8), false, 1), "y.txt": Array("0\n".utf8)],
             ["--labels", "y.txt"], "l.npy: dtype <c8 is not supported"),
            ("npy truncated", ["l.npy": Array(goodLogits.dropLast(5)), "y.txt": Array("0\n".utf8)], ["--labels", "y.txt"],
             "l.npy is truncated"),
            ("npy 3-D", ["l.npy": npy("<f4", [1, 1, 2], f([1, 2]), false, 1), "y.txt": Array("0\n".utf8)], ["--labels", "y.txt"],
             "l.npy: logits must be a 2-D array (N, C), got shape [1, 1, 2]"),
            ("weights length", ["l.npy": goodLogits, "y.txt": Array("0\n1\n0\n".utf8)], ["--labels", "y.txt", "--weights", "1,2,3"],
             "--weights has 3 values but the logits have 2 classes"),
            ("negative weight", ["l.npy": goodLogits, "y.txt": Array("0\n1\n0\n".utf8)], ["--labels", "y.txt", "--weights", "1,-2"],
             "--weights entry 1 is -2.0"),
            ("smoothing", ["l.npy": goodLogits, "y.txt": Array("0\n1\n0\n".utf8)], ["--labels", "y.txt", "--label-smoothing", "1"],
             "--label-smoothing must be in [0, 1), got 1.0"),
            ("reduction", ["l.npy": goodLogits, "y.txt": Array("0\n1\n0\n".utf8)], ["--labels", "y.txt", "--reduction", "avg"],
             "The value 'avg' is invalid for '--reduction <reduction>'"),
            ("labels and targets", ["l.npy": goodLogits, "y.txt": Array("0\n1\n0\n".utf8)], ["--labels", "y.txt", "--targets", "y.txt"],
             "give exactly one of --labels (class indices) and --targets (probabilities)"),
            ("grad-out extension", ["l.npy": goodLogits, "y.txt": Array("0\n1\n0\n".utf8)], ["--labels", "y.txt", "--grad-out", "g.csv"],
             "--grad-out must name a .npy file"),
            ("missing file", ["y.txt": Array("0\n".utf8)], ["--labels", "y.txt"], "l.csv: cannot read the file"),
        ]
    }()

    @Test(arguments: badInputs.indices)
    func badInputIsOneClearSentence(_ index: Int) throws {
        let (name, contents, flags, message) = Self.badInputs[index]
        let files = try TestFiles()
        for (file, bytes) in contents { try files.bytes(file, bytes) }
        let logitsFile = contents.keys.first { $0.hasPrefix("l.") } ?? "l.csv"
        let args = ["loss", "--logits", files.path(logitsFile)] + flags.map { contents[$0] != nil ? files.path($0) : $0 }
        let r = CommandRunner.run(args)
        #expect(r.exitCode != 0, "\(name): exit code 0")
        #expect(r.standardError.contains(message), "\(name): stderr was \(r.standardError)")
        #expect(r.standardError.hasPrefix("Error: "), "\(name): \(r.standardError)")
        #expect(r.standardOutput.isEmpty, "\(name): printed \(r.standardOutput)")
    }
}

extension TestFiles {
    /// Positional form, for the table of bad inputs.
    static func npyFile(_ descr: String, _ shape: [Int], _ payload: [UInt8], _ fortran: Bool, _ version: UInt8) -> [UInt8] {
        npy(descr: descr, shape: shape, payload: payload, fortran: fortran, version: version)
    }
}
