import ExperimentStore
import Foundation
import GRDB
import Testing

/// A store's runs without its ids: per uuid, the run's columns, its device's identity, params,
/// metrics in order and timings with their devices. Two stores hold the same runs exactly when
/// their dumps are equal; written with its own queries, not the merge's.
func storeDump(_ path: String) throws -> [String: String] {
    let db = try DatabaseQueue(path: path)
    return try db.read { db in
        let device = "COALESCE((SELECT backend || '|' || platform || '|' || name || '|' || driver_version || '|' || host FROM devices d WHERE d.id = x.device_id), '-')"
        var dump: [String: String] = [:]
        for run in try Row.fetchAll(db, sql: "SELECT x.*, \(device) AS dev FROM runs x") {
            let id: Int64 = run["id"]
            var lines = [run.columnNames.filter { $0 != "id" && $0 != "device_id" }.map { "\($0)=\(run[$0] as DatabaseValue)" }.joined(separator: ";")]
            lines += try Row.fetchAll(db, sql: "SELECT key, value FROM params WHERE run_id = ? ORDER BY key", arguments: [id]).map { "p \($0[0] as String)=\($0[1] as DatabaseValue)" }
            lines += try Row.fetchAll(db, sql: "SELECT key, step, epoch, value, recorded_at FROM metrics WHERE run_id = ? ORDER BY id", arguments: [id])
                .map { r in "m " + (0..<5).map { "\(r[$0] as DatabaseValue)" }.joined(separator: ",") }
            lines += try Row.fetchAll(db, sql: "SELECT x.op, x.shape, x.median_ms, x.check_result, \(device) FROM timings x WHERE run_id = ? ORDER BY id", arguments: [id])
                .map { r in "t " + (0..<5).map { "\(r[$0] as DatabaseValue)" }.joined(separator: ",") }
            lines += try Row.fetchAll(db, sql: "SELECT x.op, x.shape_class, x.shape, x.dtype, x.parameters, x.is_default, x.check_result, x.median_ms, x.chosen, x.kernel_hash, \(device) FROM tuning x WHERE run_id = ? ORDER BY id", arguments: [id])
                .map { r in "u " + (0..<11).map { "\(r[$0] as DatabaseValue)" }.joined(separator: ",") }
            dump[run["uuid"]] = lines.joined(separator: "\n")
        }
        return dump
    }
}

/// A store standing for one host: `runs` finished train runs with `metrics` rows each, and a bench
/// run with timings on two devices, one of which (`shared`) every such store has.
func makeHostStore(_ path: String, host: String, runs: Int, metrics: Int) throws -> ExperimentStore {
    let store = try ExperimentStore(path: path)
    let shared = try store.register(device: DeviceRecord(backend: "opencl", platform: "PoCL", name: "shared-gpu", driverVersion: "1", type: "GPU", host: "lab"))
    let own = try store.register(device: DeviceRecord(backend: "swift", name: "cpu of \(host)", type: "CPU", copyBandwidthGbs: 20, host: host))
    for r in 0..<runs {
        var run = sampleRun(pid: nil, host: host)
        run.deviceId = r % 2 == 0 ? own : shared
        let id = try store.beginRun(run, params: ["epochs": "\(r + 1)", "host": host])
        let rows = (0..<metrics).map { (i: Int) -> MetricRecord in
            let value: Double? = i == 3 ? nil : Double(r) + 1 / Double(i + 1)
            return MetricRecord(runId: id, key: i % 2 == 0 ? "train_loss" : "val_acc", step: i, epoch: i / 10, value: value)
        }
        try store.record(metrics: rows)
        try store.finishRun(id, status: r == 1 ? .failed : .finished, error: r == 1 ? "diverged" : nil)
    }
    var bench = sampleRun(pid: nil, host: host)
    bench.kind = .bench
    let id = try store.beginRun(bench, params: [:])
    try store.record(timings: [
        TimingRecord(runId: id, op: "xent", shape: "8x10", backend: "swift", deviceId: own, samples: 5, minMs: 1, medianMs: 1.5, p90Ms: 2, maxMs: 2, bytes: 640, flops: nil, gbPerS: 0.4, gflopPerS: nil, percentOfBandwidth: nil),
        TimingRecord(runId: id, op: "xent", shape: "8x10", backend: "opencl", deviceId: shared, samples: 5, minMs: 0.5, medianMs: 0.75, p90Ms: 1, maxMs: 1, bytes: 640, flops: nil, gbPerS: 0.8, gflopPerS: nil, percentOfBandwidth: nil),
    ])
    try store.finishRun(id, status: .finished)
    return store
}

/// A finished tune run with three candidates on a device only its tuning rows name.
@discardableResult
func addTuneRun(_ store: ExperimentStore, host: String) throws -> Int64 {
    let device = try store.register(device: DeviceRecord(backend: "opencl", platform: "PoCL", name: "tuned-gpu", driverVersion: "7", type: "GPU", host: host))
    var run = sampleRun(pid: nil, host: host)
    run.kind = .tune
    let id = try store.beginRun(run, params: ["budget": "2m"])
    var rows: [TuningRecord] = []
    for k in 0..<3 {
        let median: Double? = k == 0 ? nil : Double(5 - k)
        rows.append(TuningRecord(runId: id, deviceId: device, kernelHash: "abc", toolVersion: "test", op: "xent", shapeClass: "C<=4096",
                                 shape: "4096x1000", dtype: "f32", parameters: "{\"vectorWidth\":\(4 << k)}", isDefault: k == 2,
                                 checkResult: k == 0 ? "wrong: row 0" : "ok", samples: k == 0 ? 0 : 10, medianMs: median, p90Ms: nil,
                                 chosen: k == 1))
    }
    try store.record(tuning: rows)
    try store.finishRun(id, status: .finished)
    return id
}

@Suite struct StoreMergeTests {
    @Test func mergingCopiesEveryRunExactlyOnceWithIdsRemapped() throws {
        let t = try TemporaryStore()
        let a = try makeHostStore(t.folder.appendingPathComponent("a.sqlite").path, host: "laptop", runs: 3, metrics: 25)
        let b = try makeHostStore(t.folder.appendingPathComponent("b.sqlite").path, host: "ci", runs: 2, metrics: 40)
        let team = try ExperimentStore(path: t.path)
        // The target has a run of its own, so ids in the sources collide with ids already used.
        _ = try makeHostStore(t.path, host: "server", runs: 1, metrics: 5)
        let own = try storeDump(t.path)

        let first = try [a, b].map { try team.merge(from: $0) }
        #expect(first.map(\.copied.count) == [4, 3])
        #expect(first.map(\.alreadyPresent) == [0, 0])
        #expect(first[0].copied.map(\.metricRows) == [25, 25, 25, 0])
        let expected = own.merging(try storeDump(a.path)) { x, _ in x }.merging(try storeDump(b.path)) { x, _ in x }
        let merged = try storeDump(t.path)
        #expect(merged.count == 2 + 4 + 3)
        #expect(merged == expected, "the target's runs differ from the union of the sources")
        #expect(try team.query("PRAGMA foreign_key_check").isEmpty)
        // Devices by identity: the shared GPU once, each host's CPU once.
        #expect(try team.query("SELECT name FROM devices ORDER BY name").map { $0["name"]! } == ["cpu of ci", "cpu of laptop", "cpu of server", "shared-gpu"])

        let counts = try team.query("SELECT (SELECT COUNT(*) FROM runs) AS r, (SELECT COUNT(*) FROM metrics) AS m, (SELECT COUNT(*) FROM params) AS p, (SELECT COUNT(*) FROM timings) AS t, (SELECT COUNT(*) FROM devices) AS d")
        let again = try [a, b].map { try team.merge(from: $0) }
        #expect(again.map(\.copied.count) == [0, 0])
        #expect(again.map(\.alreadyPresent) == [4, 3])
        #expect(again.allSatisfy { $0.conflicts.isEmpty && $0.skipped.isEmpty })
        #expect(try team.query("SELECT (SELECT COUNT(*) FROM runs) AS r, (SELECT COUNT(*) FROM metrics) AS m, (SELECT COUNT(*) FROM params) AS p, (SELECT COUNT(*) FROM timings) AS t, (SELECT COUNT(*) FROM devices) AS d") == counts,
                "merging the same store again added rows")
        // Merged stores merge on: the team store into a fresh one reproduces it.
        let copy = try ExperimentStore(path: t.folder.appendingPathComponent("copy.sqlite").path)
        #expect(try copy.merge(from: team).copied.count == 9)
        #expect(try storeDump(copy.path) == merged)
    }

    @Test func aRunWithTheSameUUIDAndOtherContentIsReportedNotOverwritten() throws {
        let t = try TemporaryStore()
        let a = try makeHostStore(t.folder.appendingPathComponent("a.sqlite").path, host: "laptop", runs: 2, metrics: 10)
        let team = try ExperimentStore(path: t.path)
        _ = try team.merge(from: a)
        let before = try storeDump(t.path)
        let edits = [
            "UPDATE metrics SET value = value + 1e-6 WHERE id = (SELECT MIN(id) FROM metrics WHERE run_id = 1)",
            "UPDATE runs SET status = 'interrupted' WHERE id = 2",
            "UPDATE timings SET median_ms = 9 WHERE id = (SELECT MAX(id) FROM timings WHERE run_id = 3)",
        ]
        let writer = try DatabaseQueue(path: a.path)
        for edit in edits { try writer.write { try $0.execute(sql: edit) } }
        let report = try team.merge(from: a)
        #expect(report.copied.isEmpty)
        #expect(report.alreadyPresent == 0)
        #expect(report.conflicts.map(\.sourceId) == [1, 2, 3])
        #expect(report.conflicts[0].differences.first?.hasPrefix("metrics") == true, "\(report.conflicts[0].differences)")
        #expect(report.conflicts[1].differences == ["status"])
        #expect(report.conflicts[2].differences == ["timings"])
        #expect(try storeDump(t.path) == before, "a conflict changed the target")
    }

    @Test func aRunStillRunningIsSkippedWithANoteAndCopiedOnceItEnds() throws {
        let t = try TemporaryStore()
        let a = try ExperimentStore(path: t.folder.appendingPathComponent("a.sqlite").path)
        let id = try a.beginRun(sampleRun(), params: ["epochs": "3"])
        try a.record(metrics: [MetricRecord(runId: id, key: "train_loss", step: 1, epoch: 1, value: 1)])
        let team = try ExperimentStore(path: t.path)
        let report = try team.merge(from: a)
        #expect(report.copied.isEmpty)
        #expect(report.skipped.map(\.sourceId) == [id])
        #expect(report.skipped.first?.reason.contains("still running") == true)
        #expect(try team.query("SELECT COUNT(*) AS n FROM runs").first?["n"] == "0")
        try a.finishRun(id, status: .finished)
        #expect(try team.merge(from: a).copied.map(\.metricRows) == [1])
    }

    /// Into a file that does not exist the first source is copied page by page, not row by row:
    /// the result must be what the row-by-row merge makes of the same sources (a running run
    /// skipped, a device no copied run names left out), with nothing left beside it.
    @Test func mergingIntoANewFileHoldsWhatTheRowByRowMergeHolds() throws {
        let t = try TemporaryStore()
        let a = try makeHostStore(t.folder.appendingPathComponent("a.sqlite").path, host: "laptop", runs: 3, metrics: 25)
        let b = try makeHostStore(t.folder.appendingPathComponent("b.sqlite").path, host: "ci", runs: 2, metrics: 40)
        let running = try a.beginRun(sampleRun(), params: ["epochs": "9"])
        try a.record(metrics: [MetricRecord(runId: running, key: "train_loss", step: 1, epoch: 1, value: 1)])
        _ = try a.register(device: DeviceRecord(backend: "opencl", platform: "PoCL", name: "unused", driverVersion: "1", type: "CPU", host: "laptop"))
        try addTuneRun(a, host: "laptop")

        let rowByRow = try ExperimentStore(path: t.folder.appendingPathComponent("rows.sqlite").path)
        let expected = try [a, b].map { try rowByRow.merge(from: $0) }
        let newPath = t.folder.appendingPathComponent("new.sqlite").path
        let reports = try ExperimentStore.merge([a, b], into: newPath)

        #expect(try storeDump(newPath) == storeDump(rowByRow.path), "the new file's runs differ from the row-by-row merge's")
        #expect(reports.map(\.copied.count) == expected.map(\.copied.count))
        #expect(reports.map { $0.copied.map(\.metricRows) } == expected.map { $0.copied.map(\.metricRows) })
        #expect(reports.map { $0.copied.map(\.uuid) } == expected.map { $0.copied.map(\.uuid) })
        #expect(reports[0].skipped.map(\.sourceId) == [running])
        #expect(reports[0].skipped.first?.reason.contains("still running") == true)
        #expect(reports.map(\.target) == [newPath, newPath])
        let merged = try ExperimentStore(path: newPath, mode: .existingOnly)
        #expect(try merged.query("SELECT name FROM devices ORDER BY name").map { $0["name"]! } == ["cpu of ci", "cpu of laptop", "shared-gpu", "tuned-gpu"])
        #expect(try merged.query("SELECT COUNT(*) AS n FROM tuning").first?["n"] == "3")
        #expect(try merged.query("PRAGMA foreign_key_check").isEmpty)
        #expect(try merged.query("PRAGMA journal_mode").first?["journal_mode"] == "wal")
        let files = try FileManager.default.contentsOfDirectory(atPath: t.folder.path).filter { $0.contains("merging") }
        #expect(files.isEmpty, "left beside the target: \(files)")

        // Merging again into the file, which now exists, goes row by row and adds nothing.
        let again = try ExperimentStore.merge([a, b], into: newPath)
        #expect(again.map(\.copied.count) == [0, 0])
        #expect(again.map(\.alreadyPresent) == [5, 3])
        // The running run's source writes on: once it ends it is copied, as by any merge.
        try a.finishRun(running, status: .finished)
        #expect(try ExperimentStore.merge([a], into: newPath).first?.copied.map(\.metricRows) == [1])
    }

    @Test func aStoreIsNotMergedIntoItself() throws {
        let t = try TemporaryStore()
        let a = try ExperimentStore(path: t.path)
        let same = try ExperimentStore(path: t.folder.appendingPathComponent("./store.sqlite").path)
        #expect(throws: StoreError.self) { try a.merge(from: same) }
    }
}
