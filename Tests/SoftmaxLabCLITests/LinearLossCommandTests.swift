import Foundation
import SoftmaxCore
import SoftmaxLabCLI
import SoftmaxReference
import Testing
import TestSupport

/// `loss --hidden H --classifier W [--bias B]`: the fused linear cross-entropy from files, its
/// gradients written as .npy in the classifier's layout, and bad input as one sentence.
@Suite struct LinearLossCommandTests {
    struct Output: Decodable {
        var loss: Double
        var zLoss: Double
        var rows: Int
        var classes: Int
        var features: Int?
        var accuracy: Double?
        var rowLosses: [Float]?
    }

    struct Problem {
        var h: Matrix, w: Matrix, bias: [Float], labels: [Int32]
    }

    /// H (N×D), W (D×V) and its transpose, b, labels, written as .npy.
    func problem(_ files: TestFiles, n: Int, d: Int, v: Int, seed: UInt64) throws -> Problem {
        var rng = SeededGenerator(seed: seed)
        let h = Matrix(rows: n, cols: d, storage: (0..<(n * d)).map { _ in Float.random(in: -1...1, using: &rng) })
        let w = Matrix(rows: d, cols: v, storage: (0..<(d * v)).map { _ in Float.random(in: -1...1, using: &rng) })
        let bias = (0..<v).map { _ in Float.random(in: -1...1, using: &rng) }
        let labels = (0..<n).map { _ in Int32.random(in: 0..<Int32(v), using: &rng) }
        try files.bytes("h.npy", TestFiles.npy(descr: "<f4", shape: [n, d], payload: TestFiles.float32LE(h.storage)))
        try files.bytes("w.npy", TestFiles.npy(descr: "<f4", shape: [d, v], payload: TestFiles.float32LE(w.storage)))
        try files.bytes("wt.npy", TestFiles.npy(descr: "<f4", shape: [v, d], payload: TestFiles.float32LE(w.transposed.storage)))
        try files.bytes("b.npy", TestFiles.npy(descr: "<f4", shape: [v], payload: TestFiles.float32LE(bias)))
        try files.bytes("y.npy", TestFiles.npy(descr: "<i8", shape: [n], payload: TestFiles.int64LE(labels.map(Int64.init))))
        return Problem(h: h, w: w, bias: bias, labels: labels)
    }

    @Test(arguments: ["swift"] + (TestBackends.openCLDevices.isEmpty ? [] : ["opencl"]))
    func lossAndGradientsMatchTheOracleInBothLayouts(_ backend: String) throws {
        let files = try TestFiles()
        let p = try problem(files, n: 23, d: 9, v: 301, seed: 12)
        let options = CrossEntropyOptions(labelSmoothing: 0.1, softcap: 3, zLoss: 0.01)
        let want = ReferenceLinear.linearCrossEntropy(hidden: DoubleMatrix(p.h), classifier: DoubleMatrix(p.w), bias: p.bias.map(Double.init),
                                                      targets: .classIndices(p.labels), options: options)
        for (file, layout) in [("w.npy", "dv"), ("wt.npy", "vd")] {
            let r = CommandRunner.run([
                "loss", "--backend", backend, "--hidden", files.path("h.npy"), "--classifier", files.path(file), "--classifier-layout", layout,
                "--bias", files.path("b.npy"),
                "--labels", files.path("y.npy"), "--label-smoothing", "0.1", "--softcap", "3", "--z-loss", "0.01", "--json",
                "--grad-hidden-out", files.path("dh-\(layout).npy"), "--grad-classifier-out", files.path("dw-\(layout).npy"),
                "--grad-bias-out", files.path("db-\(layout).npy"),
            ])
            #expect(r.exitCode == 0, "\(layout): \(r.standardError)")
            guard r.exitCode == 0 else { continue }
            let out = try JSONDecoder().decode(Output.self, from: Data(r.standardOutput.utf8))
            #expect(abs(out.loss - want.crossEntropy.loss) <= 1e-5 * abs(want.crossEntropy.loss), "\(layout): \(out.loss) vs \(want.crossEntropy.loss)")
            #expect(abs(out.zLoss - want.crossEntropy.zLoss) <= 1e-5 * abs(want.crossEntropy.zLoss) + 1e-7)
            #expect(out.rows == 23 && out.classes == 301 && out.features == 9)
            let (dhHeader, dh) = try TestFiles.readFloat32(files.path("dh-\(layout).npy"))
            let (dwHeader, dw) = try TestFiles.readFloat32(files.path("dw-\(layout).npy"))
            let (dbHeader, db) = try TestFiles.readFloat32(files.path("db-\(layout).npy"))
            #expect(dhHeader.contains("'shape': (23, 9)"))
            #expect(dwHeader.contains(layout == "dv" ? "'shape': (9, 301)" : "'shape': (301, 9)"), "\(dwHeader)")
            #expect(dbHeader.contains("'shape': (301,)"))
            let wantW = layout == "dv" ? want.classifierGradient.storage
                : Matrix(rows: 9, cols: 301, storage: want.classifierGradient.storage.map(Float.init)).transposed.storage.map(Double.init)
            for (name, got, expected) in [("dH", dh, want.hiddenGradient.storage), ("dW", dw, wantW), ("db", db, want.biasGradient)] {
                let largest = expected.map(abs).max() ?? 0
                let worst = zip(got, expected).map { abs(Double($0) - $1) }.max() ?? .infinity
                #expect(got.count == expected.count && worst <= 1e-5 * largest + 1e-7, "\(layout) \(name): worst error \(worst) of \(largest)")
            }
        }
    }

    @Test func badInputIsOneSentenceNamingTheFile() throws {
        let files = try TestFiles()
        _ = try problem(files, n: 4, d: 3, v: 7, seed: 2)
        try files.bytes("y-bad.npy", TestFiles.npy(descr: "<i8", shape: [4], payload: TestFiles.int64LE([0, 1, 9, 2])))
        let base = ["loss", "--hidden", files.path("h.npy")]
        let cases: [([String], String)] = [
            (base + ["--classifier", files.path("wt.npy"), "--labels", files.path("y.npy")],
             "wt.npy has shape 7x3 but h.npy has 3 features per row; the classifier needs 3 rows (D×V)"),
            (base + ["--classifier", files.path("w.npy"), "--labels", files.path("y-bad.npy")],
             "y-bad.npy row 2: label 9 is outside 0..<7"),
            (base + ["--classifier", files.path("w.npy"), "--bias", "1,2", "--labels", files.path("y.npy")],
             "--bias has 2 values but the classifier has 7 classes (V)"),
            (base + ["--classifier", files.path("w.npy"), "--targets", files.path("h.npy")],
             "--hidden takes class-index --labels only"),
            (base + ["--labels", files.path("y.npy")], "--hidden needs --classifier"),
            (["loss", "--logits", files.path("h.npy"), "--classifier", files.path("w.npy"), "--labels", files.path("y.npy")],
             "--classifier is for --hidden"),
            (base + ["--classifier", files.path("w.npy"), "--labels", files.path("y.npy"), "--grad-out", files.path("g.npy")],
             "--grad-out is for --logits"),
            (["loss", "--logits", files.path("h.npy"), "--labels", files.path("y.npy"), "--filter-epsilon", "0.01"],
             "--filter-epsilon is for --hidden"),
            (base + ["--classifier", files.path("w.npy"), "--labels", files.path("y.npy"), "--filter-epsilon", "-1"],
             "--filter-epsilon must be a finite number ≥ 0, got -1.0"),
            (["bench", "--op", "xent", "--filter-epsilon", "0.01", "--no-record"], "--filter-epsilon applies to --op linear-xent"),
        ]
        for (args, words) in cases {
            let r = CommandRunner.run(args)
            #expect(r.exitCode != 0, "\(args.joined(separator: " ")) exited 0")
            #expect(r.standardError.contains(words), "\(args.last!): \(r.standardError)")
            #expect(r.standardError.split(separator: "\n").filter { $0.hasPrefix("Error") || $0.hasPrefix("error") }.count <= 1)
        }
    }

    /// `bench --filter-epsilon`: the filtered op under its own name, checked within the filter's bound.
    @Test func benchTimesTheFilteredOpUnderItsOwnName() throws {
        struct Row: Decodable { var op: String; var check: String }
        let r = CommandRunner.run(["bench", "--op", "linear-xent", "--backend", "swift", "--shapes", "40x16x3000", "--repeat", "1",
                                   "--warmup", "0", "--filter-epsilon", "0.001", "--no-record", "--json"])
        #expect(r.exitCode == 0, "\(r.standardError)")
        let rows = try JSONDecoder().decode([Row].self, from: Data(r.standardOutput.utf8))
        #expect(rows.map(\.op) == ["linear-xent+filter"] && rows.map(\.check) == ["ok"], "\(r.standardOutput)")
    }
}
