import Foundation
import SoftmaxLabCLI
import Testing
import TestSupport

@Suite struct GradcheckAndBenchTests {
    struct Gradcheck: Decodable {
        struct Row: Decodable { var computedBy: String; var relativeErrorH: Double?; var relativeErrorW: Double; var tolerance: Double; var passed: Bool }
        var results: [Row]
        var passed: Bool
    }

    @Test func gradcheckPassesForTheOracleAndEveryBackend() throws {
        let r = CommandRunner.run(["gradcheck", "--rows", "16", "--classes", "7", "--features", "5", "--seed", "3",
                                   "--label-smoothing", "0.1", "--weights", "1,2,1,2,1,2,3", "--no-record", "--json"])
        #expect(r.exitCode == 0, "\(r.standardError)")
        let g = try JSONDecoder().decode(Gradcheck.self, from: Data(r.standardOutput.utf8))
        #expect(g.passed)
        // The oracle, the Swift backend and every OpenCL device.
        #expect(Array(g.results.map(\.computedBy).prefix(2)) == ["float64 oracle", "swift backend"])
        // Then the fused linear cross-entropy's ∂H, ∂W, ∂b on every backend.
        let backends = 1 + TestBackends.openCLDevices.count
        #expect(g.results.count == 1 + 2 * backends)
        let fused = g.results.suffix(backends)
        #expect(fused.first?.computedBy == "swift backend, fused linear")
        #expect(fused.allSatisfy { $0.computedBy.hasSuffix(", fused linear") })
        for row in fused { #expect((row.relativeErrorH ?? 1) < row.tolerance && (row.relativeErrorH ?? 0) > 0, "\(row.computedBy)") }
        for row in g.results { #expect(row.relativeErrorW < row.tolerance && row.relativeErrorW > 0) }
    }

    @Test func gradcheckTextEndsInOk() {
        let r = CommandRunner.run(["gradcheck", "--no-record"])
        #expect(r.exitCode == 0)
        #expect(r.standardOutput.contains("swift backend") && !r.standardOutput.contains("FAILED"))
    }

    @Test(arguments: [
        (["gradcheck", "--rows", "0"], "--rows must be in 1...100000, got 0"),
        (["gradcheck", "--features", "200", "--classes", "200"], "--features × --classes (with --rows × --features for ∂H) is too large"),
        (["bench", "--shapes", "10x"], "--shapes: '10x' is not of the form NxC"),
        (["bench", "--repeat", "0"], "--repeat must be at least 1"),
        (["bench", "--op", "fft"], "The value 'fft' is invalid for '--op <op>'"),
        (["frobnicate"], "Unexpected argument 'frobnicate'"),
    ])
    func badFlagsAreRejected(_ args: [String], _ message: String) {
        let r = CommandRunner.run(args)
        #expect(r.exitCode != 0)
        #expect(r.standardError.contains(message), "stderr: \(r.standardError)")
    }

    struct BenchRow: Decodable { var op: String; var shape: String; var check: String; var gbPerSecond: Double? }

    @Test func benchChecksThenTimesEveryOp() throws {
        let r = CommandRunner.run(["bench", "--op", "all", "--shapes", "64x10,3x5000", "--features", "16", "--repeat", "2", "--warmup", "0", "--no-record", "--json"])
        #expect(r.exitCode == 0, "\(r.standardError)")
        let rows = try JSONDecoder().decode([BenchRow].self, from: Data(r.standardOutput.utf8))
        #expect(Set(rows.map(\.op)) == ["copy", "xent", "linear-forward", "linear-backward", "step"])
        #expect(rows.count == 10 * (1 + TestBackends.openCLDevices.count), "every op and shape on every backend")
        #expect(rows.allSatisfy { $0.check == "ok" }, "\(rows)")
        #expect(rows.filter { $0.op == "xent" }.allSatisfy { ($0.gbPerSecond ?? 0) > 0 })
    }

    /// Two classes and logits of scale 8 give rows with p_y within 1e-5 of 1, whose gradient
    /// p_y − 1 carries p_y's float rounding: the check must judge it on the probabilities' scale
    /// (with the seed of this shape, row 939 was called wrong on every backend).
    @Test func confidentTwoClassRowsPassTheCheck() throws {
        let r = CommandRunner.run(["bench", "--shapes", "65536x2,4096x3", "--repeat", "1", "--warmup", "0", "--no-record", "--json"])
        #expect(r.exitCode == 0, "\(r.standardError)")
        let rows = try JSONDecoder().decode([BenchRow].self, from: Data(r.standardOutput.utf8))
        #expect(rows.filter { $0.op == "xent" }.count == 2 * (1 + TestBackends.openCLDevices.count))
        #expect(rows.allSatisfy { $0.check == "ok" }, "\(rows.filter { $0.check != "ok" })")
    }
}

extension GradcheckAndBenchTests {
    /// `--backend auto` picks one backend in bench as everywhere; the default there is every one.
    @Test func autoMeansOneBackendInBenchToo() throws {
        struct Row: Decodable { var backend: String; var device: String }
        func backends(_ extra: [String]) throws -> Set<String> {
            let r = CommandRunner.run(["bench", "--shapes", "64x10", "--repeat", "1", "--warmup", "0", "--no-record", "--json"] + extra)
            #expect(r.exitCode == 0, "\(r.standardError)")
            return Set(try JSONDecoder().decode([Row].self, from: Data(r.standardOutput.utf8)).map { "\($0.backend) \($0.device)" })
        }
        #expect(try backends(["--backend", "auto"]).count == 1)
        #expect(try backends([]).count == 1 + TestBackends.openCLDevices.count)
    }
}
