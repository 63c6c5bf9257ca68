import ExperimentStore
import Foundation
import SoftmaxLabCLI
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

    @Test func emptyOpMeasuresTheHarness() throws {
        struct Row: Decodable { struct T: Decodable { var median: Double }; var op: String; var timing: T }
        let r = CommandRunner.run(["bench", "--op", "empty", "--backend", "swift", "--repeat", "200", "--no-record", "--json"])
        let rows = try JSONDecoder().decode([Row].self, from: Data(r.standardOutput.utf8))
        #expect(rows.map(\.op) == ["empty"])
        #expect(rows[0].timing.median < 0.01, "the harness costs \(rows[0].timing.median) ms a sample")
    }
}
