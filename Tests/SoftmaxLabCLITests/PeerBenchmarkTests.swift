import ExperimentStore
import Foundation
import SoftmaxLabCLI
import SoftmaxCPU
import Testing

/// scripts/bench-peers.py writes numpy's timings into the same store as `bench`.
@Suite struct PeerBenchmarkTests {
    @Test func numpyLandsBesideSoftmaxLabInBenchResults() throws {
        let files = try TestFiles()
        let db = files.path("peers.sqlite")
        #expect(CommandRunner.run(["bench", "--backend", "swift", "--op", "xent", "--shapes", "64x300", "--repeat", "2", "--db", db]).exitCode == 0)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", packageRoot.appendingPathComponent("scripts/bench-peers.py").path, "--op", "xent", "--shapes", "64x300",
                       "--repeat", "2", "--warmup", "1", "--db", db]
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "python3 with numpy is needed (CI installs python3-numpy)")
        let rows = try ExperimentStore(path: db).query("SELECT backend, check_result FROM bench_results WHERE op = 'xent' AND shape = '64x300' AND timing = 'wall'")
        let backends = Set(rows.map { $0["backend"]! })
        #expect(backends.isSuperset(of: ["swift", "numpy"]), "\(rows)")
        #expect(rows.allSatisfy { $0["check_result"] == "ok" })
        let benchRuns = try ExperimentStore(path: db).runSummaries(kind: .bench)
        #expect(benchRuns.contains { $0.name == "peer numpy" && $0.status == "finished" })
        // runs compare puts SoftmaxLab and the peer side by side.
        let compare = CommandRunner.run(["runs", "compare"] + benchRuns.map { "\($0.id)" }.reversed() + ["--db", db])
        #expect(compare.exitCode == 0, "\(compare.standardError)")
        let line = compare.standardOutput.split(separator: "\n").first { $0.hasPrefix("xent 64x300") }
        #expect(line?.contains("swift") == true && line?.contains("numpy") == true, "\(compare.standardOutput)")
    }

    /// `--dtype bf16`: PyTorch in bfloat16 beside `bench --dtype bf16`, under the same op name, its
    /// gradient checked against float64 from the same 16-bit values. Where `python3` has no
    /// PyTorch (CI), the script must say so in a sentence rather than time something else.
    @Test func pyTorchInBfloat16LandsBesideTheSameOpOrTheScriptSaysItIsMissing() throws {
        let files = try TestFiles()
        let db = files.path("peers16.sqlite")
        #expect(CommandRunner.run(["bench", "--backend", "swift", "--op", "xent", "--shapes", "64x300", "--repeat", "2", "--dtype", "bf16",
                                   "--db", db]).exitCode == 0)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", packageRoot.appendingPathComponent("scripts/bench-peers.py").path, "--op", "xent", "--shapes", "64x300",
                       "--repeat", "2", "--warmup", "1", "--dtype", "bf16", "--db", db]
        p.standardOutput = FileHandle.nullDevice
        let stderr = Pipe()
        p.standardError = stderr
        try p.run()
        let message = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        probe.arguments = ["python3", "-c", "import torch"]
        probe.standardError = FileHandle.nullDevice
        try probe.run()
        probe.waitUntilExit()
        if probe.terminationStatus != 0 {
            #expect(p.terminationStatus != 0 && message.contains("--dtype bf16 needs PyTorch"), "\(message)")
            return
        }
        #expect(p.terminationStatus == 0, "\(message)")
        let rows = try ExperimentStore(path: db).query("SELECT backend, check_result FROM bench_results WHERE op = 'xent-bf16' AND shape = '64x300' AND timing = 'wall'")
        #expect(Set(rows.map { $0["backend"]! }) == ["swift", "torch"], "\(rows)")
        #expect(rows.allSatisfy { $0["check_result"] == "ok" }, "\(rows)")
    }

    /// The fused linear op and numpy's materialized path in one store, each with its peak memory
    /// beyond inputs and outputs: numpy's at least its N×V logits, SoftmaxLab's at least its block
    /// of logits and within the workspace its formula states.
    @Test func linearCrossEntropyAndNumpyRecordTheirPeakMemory() throws {
        let files = try TestFiles()
        let db = files.path("linear.sqlite")
        // A block of 6 rows of 200000 logits (4.8 MB): large beside the high-water mark's slack
        // (the kernel syncs each thread's resident count every 64 page faults).
        let shape = "200x16x200000"
        // In its own process: the high-water mark is the process's, and other tests run beside this one.
        let bench = try ProcessTests.run(["bench", "--backend", "swift", "--op", "linear-xent", "--shapes", shape, "--repeat", "2", "--warmup", "0", "--db", db])
        #expect(bench.0 == 0, "\(bench.1)")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", packageRoot.appendingPathComponent("scripts/bench-peers.py").path, "--op", "linear-xent", "--shapes", shape,
                       "--repeat", "2", "--warmup", "0", "--db", db]
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "python3 with numpy is needed (CI installs python3-numpy)")
        let rows = try ExperimentStore(path: db).query(
            "SELECT backend, check_result, peak_extra_bytes FROM bench_results WHERE op = 'linear-xent' AND shape = '\(shape)' AND timing = 'wall'")
        var peak: [String: Int] = [:]
        for row in rows {
            #expect(row["check_result"] == "ok", "\(row)")
            peak[row["backend"]!] = row["peak_extra_bytes"].flatMap { Int($0) }
        }
        let logits = 200 * 200_000 * 4, block = 6 * 200_000 * 4
        let workspace = SwiftBackend().linearCrossEntropyWorkspaceBytes(rows: 200, features: 16, vocabulary: 200_000)
        #expect(peak["numpy"].map { $0 >= logits } == true, "numpy's peak \(String(describing: peak["numpy"])) against the logits' \(logits) bytes")
        // The block's logits are touched whole; the packing panels only in part.
        #expect(peak["swift"].map { Double($0) >= 0.8 * Double(block) && $0 <= workspace + (1 << 20) } == true,
                "swift's peak \(String(describing: peak["swift"])) against a workspace of \(workspace) bytes")
    }

    @Test func emptyOpMeasuresTheHarness() throws {
        struct Row: Decodable { struct T: Decodable { var median: Double }; var op: String; var timing: T }
        let r = CommandRunner.run(["bench", "--op", "empty", "--backend", "swift", "--repeat", "200", "--no-record", "--json"])
        let rows = try JSONDecoder().decode([Row].self, from: Data(r.standardOutput.utf8))
        #expect(rows.map(\.op) == ["empty"])
        #expect(rows[0].timing.median < 0.01, "the harness costs \(rows[0].timing.median) ms a sample")
    }
}
