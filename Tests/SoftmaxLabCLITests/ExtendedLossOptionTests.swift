import ExperimentStore
import Foundation
import SoftmaxCore
import SoftmaxLabCLI
import SoftmaxReference
import Testing
import TestSupport

/// `--softcap` and `--z-loss` through every command that takes them, and the outputs they bring:
/// the z part and the accuracy in `loss --json`, the predictions file.
@Suite struct ExtendedLossOptionTests {
    struct LossOutput: Decodable {
        var loss: Double
        var zLoss: Double
        var accuracy: Double?
    }

    @Test func lossReportsTheZPartAndAccuracyAndWritesPredictions() throws {
        let files = try TestFiles()
        var rng = SeededGenerator(seed: 11)
        let (n, c) = (29, 13)
        let logits = RandomData.logits(n, c, scale: 9, &rng)
        let labels = RandomData.labels(n, classes: c, ignoredFraction: 0.2, &rng)
        try files.bytes("f.npy", TestFiles.npy(descr: "<f4", shape: [n, c], payload: TestFiles.float32LE(logits.storage)))
        try files.bytes("y.npy", TestFiles.npy(descr: "<i8", shape: [n], payload: TestFiles.int64LE(labels.map(Int64.init))))
        let options = CrossEntropyOptions(labelSmoothing: 0.05, softcap: 3, zLoss: 0.02)
        let want = ReferenceCrossEntropy.evaluate(logits: DoubleMatrix(logits), targets: .classIndices(labels), options: options)
        for backend in ["swift"] + (TestBackends.openCLDevices.isEmpty ? [] : ["opencl"]) {
            let r = CommandRunner.run(["loss", "--logits", files.path("f.npy"), "--labels", files.path("y.npy"), "--backend", backend,
                                       "--label-smoothing", "0.05", "--softcap", "3", "--z-loss", "0.02",
                                       "--predictions-out", files.path("p-\(backend).npy"), "--json"])
            try #require(r.exitCode == 0, "\(backend): \(r.standardError)")
            let out = try JSONDecoder().decode(LossOutput.self, from: Data(r.standardOutput.utf8))
            #expect(abs(out.loss - want.loss) <= 2e-5 * abs(want.loss), "\(backend): loss \(out.loss) vs oracle \(want.loss)")
            #expect(abs(out.zLoss - want.zLoss) <= 2e-5 * abs(want.zLoss) && want.zLoss > 0.1, "\(backend): z \(out.zLoss) vs \(want.zLoss)")
            #expect(out.accuracy == Double(want.correct) / Double(want.counted), "\(backend): accuracy")
            let bytes = try Data(contentsOf: URL(fileURLWithPath: files.path("p-\(backend).npy")))
            let header = String(decoding: bytes.prefix(128), as: UTF8.self)
            #expect(header.contains("'descr': '<i8'") && header.contains("'shape': (\(n),)"), "\(header)")
            let values = bytes.suffix(n * 8).withUnsafeBytes { raw in (0..<n).map { raw.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self) } }
            #expect(values == want.predictions.map(Int64.init))
        }
    }

    @Test(arguments: [
        (["loss", "--softcap", "0"], "--softcap must be a finite number above 0, got 0.0"),
        (["loss", "--softcap", "inf"], "--softcap must be a finite number above 0, got inf"),
        (["loss", "--z-loss", "nan"], "--z-loss must be a finite number of at least 0, got nan"),
        (["bench", "--softcap", "0"], "--softcap must be a finite number above 0"),
        (["train", "--z-loss", "inf"], "--z-loss must be a finite number of at least 0"),
        (["loss", "--predictions-out", "p.txt"], "--predictions-out must name a .npy file"),
    ])
    func badValuesAreOneSentence(_ args: [String], _ message: String) throws {
        let files = try TestFiles()
        try files.text("f.csv", "1,2\n")
        try files.text("y.txt", "0\n")
        let input = args[0] == "loss" ? ["--logits", files.path("f.csv"), "--labels", files.path("y.txt")] : []
        let r = CommandRunner.run(args + input)
        #expect(r.exitCode != 0)
        #expect(r.standardError.contains(message), "stderr: \(r.standardError)")
    }

    struct Gradcheck: Decodable { var passed: Bool }

    /// The analytic gradient through the softcap and the z part against differences of the float64
    /// objective, on every backend.
    @Test func gradcheckPassesWithSoftcapAndZLoss() throws {
        let r = CommandRunner.run(["gradcheck", "--rows", "12", "--classes", "6", "--features", "4", "--seed", "5",
                                   "--softcap", "1.5", "--z-loss", "0.1", "--label-smoothing", "0.1", "--no-record", "--json"])
        #expect(r.exitCode == 0, "\(r.standardError)")
        #expect(try JSONDecoder().decode(Gradcheck.self, from: Data(r.standardOutput.utf8)).passed)
    }

    struct BenchRow: Decodable { var op: String; var check: String }

    @Test func benchNamesTheOpAfterItsOptions() throws {
        let r = CommandRunner.run(["bench", "--backend", "swift", "--shapes", "64x10,3x20000", "--softcap", "30", "--z-loss", "1e-4",
                                   "--repeat", "2", "--warmup", "0", "--no-record", "--json"])
        #expect(r.exitCode == 0, "\(r.standardError)")
        let rows = try JSONDecoder().decode([BenchRow].self, from: Data(r.standardOutput.utf8))
        #expect(Set(rows.map(\.op)) == ["copy", "xent+softcap+z"])
        #expect(rows.allSatisfy { $0.check == "ok" }, "\(rows)")
    }

    @Test func trainRecordsSoftcapAndZLoss() throws {
        let files = try TestFiles()
        let db = files.path("s.sqlite")
        let r = CommandRunner.run(["train", "--dataset", "iris", "--epochs", "3", "--softcap", "5", "--z-loss", "0.001", "--db", db])
        #expect(r.exitCode == 0, "\(r.standardError)")
        let store = try ExperimentStore(path: db)
        let params = try store.query("SELECT key, value FROM params WHERE run_id = 1 AND key IN ('softcap', 'zLoss') ORDER BY key")
        #expect(params.map { $0["value"] ?? "" } == ["5", "0.001"], "\(params)")
        #expect(try store.metrics(1, key: "train_loss").allSatisfy { ($0.value ?? .nan) > 0 })
    }

    /// A float16 `.npy` stays 16-bit on the backend, and its gradient comes back as float16 (or as
    /// float32 with `--grad-dtype f32`), each entry within one float16 ulp of the float64 result.
    @Test func float16LogitsGiveAFloat16Gradient() throws {
        let files = try TestFiles()
        var rng = SeededGenerator(seed: 21)
        let (n, c) = (17, 300)
        let logits = RandomData.logits(n, c, scale: 6, &rng).storage.map { Float(Float16($0)) }
        let labels = RandomData.labels(n, classes: c, &rng)
        let halfBytes = logits.map { Float16($0).bitPattern }.flatMap { [UInt8($0 & 0xff), UInt8($0 >> 8)] }
        try files.bytes("f.npy", TestFiles.npy(descr: "<f2", shape: [n, c], payload: halfBytes))
        try files.bytes("y.npy", TestFiles.npy(descr: "<i8", shape: [n], payload: TestFiles.int64LE(labels.map(Int64.init))))
        let want = ReferenceCrossEntropy.evaluate(logits: DoubleMatrix(rows: n, cols: c, storage: logits.map(Double.init)),
                                                  targets: .classIndices(labels))
        for (extra, descr) in [([String](), "<f2"), (["--grad-dtype", "f32"], "<f4")] {
            let r = CommandRunner.run(["loss", "--logits", files.path("f.npy"), "--labels", files.path("y.npy"), "--backend", "swift",
                                       "--grad-out", files.path("g.npy"), "--json"] + extra)
            try #require(r.exitCode == 0, "\(r.standardError)")
            let out = try JSONDecoder().decode(LossOutput.self, from: Data(r.standardOutput.utf8))
            #expect(abs(out.loss - want.loss) <= 2e-5 * want.loss)
            let bytes = try Data(contentsOf: URL(fileURLWithPath: files.path("g.npy")))
            #expect(String(decoding: bytes.prefix(128), as: UTF8.self).contains("'descr': '\(descr)'"))
            let size = descr == "<f2" ? 2 : 4
            let got: [Double] = bytes.suffix(n * c * size).withUnsafeBytes { raw in
                (0..<(n * c)).map { i in
                    size == 2 ? Double(Float16(bitPattern: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                              : Double(raw.loadUnaligned(fromByteOffset: 4 * i, as: Float.self))
                }
            }
            let worst = zip(got, want.gradient.storage).map { abs($0 - $1) / Double(Float16(Float(abs($1))).ulp) }.max() ?? 0
            #expect(worst <= (size == 2 ? 1 : 0.01), "\(descr): worst error \(worst) float16 ulps")
        }
    }

    /// A bfloat16 `.npy` in ml_dtypes' layout (`<V2`: the upper half of each float32's bits, little-
    /// endian; the bytes are made here, not by the code under test) stays 16-bit on the backend, and
    /// its gradient comes back as `<V2` (or `<f2`, `<f4` with `--grad-dtype`), each entry within one
    /// ulp of its storage type of the float64 result from the same bfloat16 inputs.
    @Test func bfloat16LogitsInTheMlDtypesLayoutGiveABfloat16Gradient() throws {
        let files = try TestFiles()
        var rng = SeededGenerator(seed: 22)
        let (n, c) = (13, 257)
        let bits = RandomData.logits(n, c, scale: 8, &rng).storage.map { UInt16(truncatingIfNeeded: ($0.bitPattern &+ 0x8000) >> 16) }
        let logits = bits.map { Float(bitPattern: UInt32($0) << 16) }
        let labels = RandomData.labels(n, classes: c, &rng)
        try files.bytes("b.npy", TestFiles.npy(descr: "<V2", shape: [n, c], payload: bits.flatMap { [UInt8($0 & 0xff), UInt8($0 >> 8)] }))
        try files.bytes("y.npy", TestFiles.npy(descr: "<i8", shape: [n], payload: TestFiles.int64LE(labels.map(Int64.init))))
        let want = ReferenceCrossEntropy.evaluate(logits: DoubleMatrix(rows: n, cols: c, storage: logits.map(Double.init)),
                                                  targets: .classIndices(labels))
        for (extra, descr) in [([String](), "<V2"), (["--grad-dtype", "f16"], "<f2"), (["--grad-dtype", "f32"], "<f4")] {
            let r = CommandRunner.run(["loss", "--logits", files.path("b.npy"), "--labels", files.path("y.npy"), "--backend", "swift",
                                       "--grad-out", files.path("g.npy"), "--json"] + extra)
            try #require(r.exitCode == 0, "\(r.standardError)")
            let out = try JSONDecoder().decode(LossOutput.self, from: Data(r.standardOutput.utf8))
            #expect(abs(out.loss - want.loss) <= 2e-5 * want.loss, "\(descr): loss \(out.loss), float64 \(want.loss)")
            let bytes = try Data(contentsOf: URL(fileURLWithPath: files.path("g.npy")))
            #expect(String(decoding: bytes.prefix(128), as: UTF8.self).contains("'descr': '\(descr)'"))
            let size = descr == "<f4" ? 4 : 2
            let got: [Double] = bytes.suffix(n * c * size).withUnsafeBytes { raw in
                (0..<(n * c)).map { i in
                    switch descr {
                    case "<V2": Double(Float(bitPattern: UInt32(raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16))
                    case "<f2": Double(Float16(bitPattern: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                    default: Double(raw.loadUnaligned(fromByteOffset: 4 * i, as: Float.self))
                    }
                }
            }
            // One ulp of the storage type at the true value (bfloat16 keeps 8 significant bits).
            func ulp(_ x: Double) -> Double {
                switch descr {
                case "<V2": Double(Float(abs(x)).ulp) * 65536
                case "<f2": Double(Float16(Float(abs(x))).ulp)
                default: Double(Float(abs(x)).ulp) * 80  // computed in float32: a few float32 ulps of exp and lse
                }
            }
            let worst = zip(got, want.gradient.storage).map { abs($0 - $1) / max(ulp($1), 1e-45) }.max() ?? 0
            #expect(worst <= 1, "\(descr): worst error \(worst) ulps")
        }
    }

    struct DtypeRow: Decodable { var op: String; var check: String; var bytes: Int; var elementsPerSecond: Double? }

    @Test func benchTimesSixteenBitStorage() throws {
        for dtype in ["f16", "bf16"] {
            let r = CommandRunner.run(["bench", "--backend", "swift", "--shapes", "64x10,8x3000", "--dtype", dtype,
                                       "--repeat", "2", "--warmup", "0", "--no-record", "--json"])
            try #require(r.exitCode == 0, "\(r.standardError)")
            let rows = try JSONDecoder().decode([DtypeRow].self, from: Data(r.standardOutput.utf8))
            #expect(Set(rows.map(\.op)) == ["copy-\(dtype)", "xent-\(dtype)"])
            #expect(rows.allSatisfy { $0.check == "ok" && ($0.elementsPerSecond ?? 0) > 0 }, "\(rows)")
            #expect(rows.filter { $0.op.hasPrefix("xent") }.map(\.bytes).sorted() == [2 * 2 * 640, 2 * 2 * 24000], "true bytes: 2 of each")
        }
        let refused = CommandRunner.run(["bench", "--op", "linear", "--dtype", "bf16", "--no-record"])
        #expect(refused.exitCode != 0 && refused.standardError.contains("--dtype bf16 applies to --op xent"))
    }
}
