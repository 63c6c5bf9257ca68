import ExperimentStore
import Foundation
import GRDB
import Testing

/// Each test gets a fresh temporary database file.
final class TemporaryStore {
    let folder: URL
    var path: String { folder.appendingPathComponent("store.sqlite").path }
    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("store-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: folder) }
}

func sampleRun(pid: Int32? = getpid(), host: String = ProcessInfo.processInfo.hostName) -> RunRecord {
    RunRecord(uuid: UUID().uuidString, kind: .train, name: "t", status: .running, startedAt: Timestamp.now(), deviceId: nil,
              backend: "swift", config: #"{"learningRate":0.2,"epochs":3}"#, seed: 1, gitCommit: nil, host: host, pid: pid,
              toolVersion: "test", commandLine: "softmax-lab train")
}

/// The pid of a process that has certainly ended (started and waited for).
func endedProcessID() throws -> Int32 {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/true")
    try p.run()
    p.waitUntilExit()
    return p.processIdentifier
}

@Suite struct ExperimentStoreTests {
    @Test func migrationsFromEmptyCreateTheDocumentedTablesAndViews() throws {
        let t = try TemporaryStore()
        let store = try ExperimentStore(path: t.path)
        let names = try store.query("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name").map { $0["name"]! }
        for expected in ["devices", "runs", "params", "metrics", "timings", "run_summary", "bench_results"] {
            #expect(names.contains(expected), "missing \(expected) in \(names)")
        }
        #expect(try store.query("PRAGMA journal_mode").first?["journal_mode"] == "wal")
        #expect(try store.query("PRAGMA foreign_keys").first?["foreign_keys"] == "1")
    }

    @Test func runsParamsMetricsRoundTrip() throws {
        let t = try TemporaryStore()
        let store = try ExperimentStore(path: t.path)
        let id = try store.beginRun(sampleRun(), params: ExperimentStore.flatten(json: Data(#"{"learningRate":0.2,"epochs":3,"nested":{"a":true}}"#.utf8)))
        try store.record(metrics: (1...3).map { MetricRecord(runId: id, key: "train_loss", step: $0 * 10, epoch: $0, value: 1 / Double($0)) })
        try store.record(metrics: [MetricRecord(runId: id, key: "val_acc", step: 30, epoch: 3, value: .nan)])
        try store.finishRun(id, status: .finished)
        #expect(try store.run(id)?.status == .finished)
        let params = try store.params(id)
        #expect(params.map(\.key) == ["epochs", "learningRate", "nested.a"])
        #expect(params.map(\.value) == ["3", "0.2", "true"])
        #expect(try store.metrics(id, key: "train_loss").map(\.value) == [1, 0.5, 1.0 / 3])
        #expect(try store.metrics(id, key: "val_acc").first?.value == nil, "NaN is stored as NULL")
        let summary = try #require(try store.summary(id))
        #expect(summary.epochs == 3 && summary.finalTrainLoss == 1.0 / 3)
        #expect(try store.query("SELECT json_extract(config, '$.learningRate') AS lr FROM runs").first?["lr"] == "0.2")
    }

    @Test func staleRunningRunsOfDeadProcessesAreMarkedInterrupted() throws {
        let t = try TemporaryStore()
        let ended = try endedProcessID()
        var ids: [Int64] = []
        do {
            let store = try ExperimentStore(path: t.path)
            ids.append(try store.beginRun(sampleRun(pid: ended), params: [:]))
            ids.append(try store.beginRun(sampleRun(), params: [:]))
            ids.append(try store.beginRun(sampleRun(pid: ended, host: "some-other-host"), params: [:]))
        }
        let reopened = try ExperimentStore(path: t.path)
        let dead = try #require(try reopened.run(ids[0]))
        #expect(dead.status == .interrupted)
        #expect(dead.error?.contains("process \(ended)") == true && dead.endedAt != nil)
        #expect(try reopened.run(ids[1])?.status == .running, "this process is alive")
        #expect(try reopened.run(ids[2])?.status == .running, "another host's process cannot be checked")
    }

    @Test func aNewerSchemaIsRefused() throws {
        let t = try TemporaryStore()
        do {
            let store = try ExperimentStore(path: t.path)
            _ = try store.query("SELECT 1")
        }
        // Simulate a file written by a later version: one more applied migration.
        try execute(t.path, "INSERT INTO grdb_migrations (identifier) VALUES ('v9-from-the-future')")
        let error = #expect(throws: StoreError.self) { _ = try ExperimentStore(path: t.path) }
        #expect(error?.description.contains("was written by a newer softmax-lab") == true, "\(String(describing: error))")
    }

    /// A store of the previous schema (v2: no tuning table, runs.kind without 'tune') is upgraded
    /// in place: every row kept, the constraint loosened by exactly 'tune', the file intact.
    @Test func aVersion2StoreIsUpgradedInPlaceKeepingEveryRow() throws {
        let t = try TemporaryStore()
        do {
            let store = try ExperimentStore(path: t.path)
            let id = try store.beginRun(sampleRun(), params: ["lr": "0.1"])
            try store.record(metrics: (0..<50).map { MetricRecord(runId: id, key: "train_loss", step: $0, epoch: 1, value: Double($0)) })
            try store.finishRun(id, status: .finished)
        }
        // Back to v2 as that version wrote it.
        let queue = try DatabaseQueue(path: t.path)
        try queue.writeWithoutTransaction { db in
            let version = try Int.fetchOne(db, sql: "PRAGMA schema_version")!
            try db.execute(sql: "DROP TABLE tuning")
            try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier = 'v3-tuning'")
            try db.execute(sql: "PRAGMA writable_schema = ON")
            try db.execute(sql: "UPDATE sqlite_master SET sql = replace(sql, ', ''tune''', '') WHERE name = 'runs'")
            try db.execute(sql: "PRAGMA schema_version = \(version + 2)")
            try db.execute(sql: "PRAGMA writable_schema = OFF")
        }
        try queue.close()
        let v2 = try DatabaseQueue(path: t.path)
        let runsSQL = try v2.read { try String.fetchOne($0, sql: "SELECT sql FROM sqlite_master WHERE name = 'runs'")! }
        #expect(runsSQL.contains("CHECK (kind IN ('train', 'bench', 'gradcheck'))"))
        #expect(throws: DatabaseError.self) { try v2.write { try $0.execute(sql: "UPDATE runs SET kind = 'tune'") } }
        try v2.close()

        let store = try ExperimentStore(path: t.path)
        #expect(try store.query("SELECT sql FROM sqlite_master WHERE name = 'runs'").first?["sql"] == runsSQL.replacingOccurrences(of: "'gradcheck')", with: "'gradcheck', 'tune')"))
        #expect(try store.query("PRAGMA integrity_check").first?["integrity_check"] == "ok")
        #expect(try store.query("SELECT COUNT(*) AS n FROM metrics").first?["n"] == "50")
        #expect(try store.query("SELECT key, value FROM params").map { "\($0["key"]!)=\($0["value"]!)" } == ["lr=0.1"])
        #expect(try store.query("SELECT COUNT(*) AS n FROM tuning").first?["n"] == "0")
        var tune = sampleRun()
        tune.kind = .tune
        let id = try store.beginRun(tune, params: [:])
        #expect(try store.run(id)?.kind == .tune)
        let bad = try DatabaseQueue(path: t.path)
        #expect(throws: DatabaseError.self) { try bad.write { try $0.execute(sql: "UPDATE runs SET kind = 'other'") } }
    }

    @Test func aFileThatIsNotSQLiteIsRefusedAndLeftUntouched() throws {
        let t = try TemporaryStore()
        let contents = Data(String(repeating: "these are my notes, not a database\n", count: 200).utf8)
        try contents.write(to: URL(fileURLWithPath: t.path))
        let error = #expect(throws: StoreError.self) { _ = try ExperimentStore(path: t.path) }
        #expect(error?.description.contains("is not a SQLite database or is corrupt") == true, "\(String(describing: error))")
        #expect(try Data(contentsOf: URL(fileURLWithPath: t.path)) == contents)
    }

    @Test func aCorruptDatabaseGivesAClearErrorAndIsLeftUntouched() throws {
        let t = try TemporaryStore()
        do {
            let store = try ExperimentStore(path: t.path)
            let id = try store.beginRun(sampleRun(), params: [:])
            try store.record(metrics: (0..<2000).map { MetricRecord(runId: id, key: "step_loss", step: $0, epoch: 1, value: Double($0)) })
        }
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: t.path)))
        #expect(bytes.count > 8192)
        // Overwrite everything after the header page with garbage.
        for i in 4096..<bytes.count { bytes[i] = UInt8(truncatingIfNeeded: i &* 31 &+ 7) }
        let corrupt = Data(bytes)
        try corrupt.write(to: URL(fileURLWithPath: t.path))
        let error = #expect(throws: StoreError.self) {
            let store = try ExperimentStore(path: t.path)
            _ = try store.runSummaries()
        }
        #expect(error?.description.contains("is not a SQLite database or is corrupt") == true, "\(String(describing: error))")
        #expect(try Data(contentsOf: URL(fileURLWithPath: t.path)) == corrupt)
    }

    @Test func aDirectoryOrMissingFolderIsAClearError() throws {
        let t = try TemporaryStore()
        #expect(throws: StoreError("\(t.folder.path) is a directory, not an experiment store file")) {
            _ = try ExperimentStore(path: t.folder.path)
        }
        let error = #expect(throws: StoreError.self) { _ = try ExperimentStore(path: t.folder.path + "/no/such/folder/x.sqlite") }
        #expect(error?.description.contains("cannot open or create the database file") == true)
    }

    @Test func devicesAreRegisteredOnceAndRefreshed() throws {
        let t = try TemporaryStore()
        let store = try ExperimentStore(path: t.path)
        let a = try store.register(device: DeviceRecord(backend: "swift", name: "CPU", type: "CPU", host: "h"))
        let b = try store.register(device: DeviceRecord(backend: "swift", name: "CPU", type: "CPU", copyBandwidthGbs: 31.5, host: "h"))
        #expect(a == b)
        #expect(try store.device(a)?.copyBandwidthGbs == 31.5)
        let c = try store.register(device: DeviceRecord(backend: "swift", name: "CPU", type: "CPU", host: "other"))
        #expect(c != a)
    }

    /// Writes with a separate plain SQLite connection, as another program would (one that waits
    /// when the file is busy, as `sqlite3 -cmd '.timeout 5000'` does).
    private func execute(_ path: String, _ sql: String) throws {
        var config = Configuration()
        config.busyMode = .timeout(5)
        try DatabaseQueue(path: path, configuration: config).write { try $0.execute(sql: sql) }
    }
}
