import ExperimentStore
import Foundation
import GRDB
import SoftmaxLabCLI
import Testing

@Suite struct BenchRegressionTests {
    let args = ["bench", "--backend", "swift", "--shapes", "128x500,64x10", "--op", "xent", "--repeat", "3", "--warmup", "1"]

    @Test func aBaselineGatesSlowdownsAndChangedChecks() throws {
        let files = try TestFiles()
        let db = files.path("bench.sqlite")
        let first = CommandRunner.run(args + ["--db", db])
        #expect(first.exitCode == 0, "\(first.standardError)")
        let baseline = try #require(try ExperimentStore(path: db).runSummaries(kind: .bench).first?.id)

        let generous = CommandRunner.run(args + ["--db", db, "--no-record", "--baseline", "\(baseline)", "--max-slowdown", "10000%"])
        #expect(generous.exitCode == 0, "\(generous.standardError)")
        #expect(generous.standardError.contains("no regression against run \(baseline)"))

        // Make the baseline impossibly fast for xent 128x500, and its 64x10 check differ.
        var waiting = Configuration()
        waiting.busyMode = .timeout(5)
        try DatabaseQueue(path: db, configuration: waiting).write { db in
            try db.execute(sql: "UPDATE timings SET median_ms = 1e-9 WHERE run_id = ? AND op = 'xent' AND shape = '128x500'", arguments: [baseline])
            try db.execute(sql: "UPDATE timings SET check_result = 'wrong: row 3' WHERE run_id = ? AND op = 'xent' AND shape = '64x10'", arguments: [baseline])
        }
        // A threshold only the doctored entry can exceed: real timings of microsecond ops vary by 2× here.
        let gated = CommandRunner.run(args + ["--db", db, "--no-record", "--baseline", "\(baseline)", "--max-slowdown", "100000%"])
        #expect(gated.exitCode == 2)
        let lines = gated.standardError.split(separator: "\n").filter { $0.hasPrefix("regression: ") }
        #expect(lines.count == 2, "\(gated.standardError)")
        #expect(lines.contains { $0.contains("xent 128x500 on swift") && $0.contains("median") })
        #expect(lines.contains { $0.contains("xent 64x10 on swift") && $0.contains("the check was 'wrong: row 3', now 'ok'") })
    }

    @Test func aBaselineThatIsNotABenchRunIsAnError() throws {
        let files = try TestFiles()
        let r = CommandRunner.run(args + ["--db", files.path("x.sqlite"), "--baseline", "7"])
        #expect(r.exitCode != 0 && r.standardError.contains("--baseline 7 is not a bench run"))
        let bad = CommandRunner.run(args + ["--no-record", "--max-slowdown", "fast"])
        #expect(bad.exitCode != 0 && bad.standardError.contains("--max-slowdown must be a percentage like 10%, got 'fast'"))
    }
}
