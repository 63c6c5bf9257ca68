import GRDB

/// `runs merge`: every run of another store copied into this one, exactly once.
///
/// The source is attached to this store's connection, so rows go from file to file inside SQLite
/// (`INSERT … SELECT`), not through Swift values, at SQLite's own cost per row (BENCHMARKS.md). Each run is copied in its own transaction, which begins with a write to this store (so
/// it waits for other writers like every writer here) and only reads the source, whose writers are
/// never held up for longer than SQLite's read snapshot.
extension ExperimentStore {
    public func merge(from source: ExperimentStore) throws -> RunCopyReport {
        guard source.canonicalPath != canonicalPath else {
            throw StoreError("\(source.path) is the target store itself (\(path)); give the stores to merge and a different --into")
        }
        var report = RunCopyReport(source: source.path, target: path)
        let runs = try source.read { db in
            try Row.fetchAll(db, sql: "SELECT id, uuid FROM runs ORDER BY id").map { (id: $0[0] as Int64, uuid: $0[1] as String) }
        }
        try Self.translating(path, busyTimeout: busyTimeout) {
            try queue.writeWithoutTransaction { db in
                try db.execute(sql: "ATTACH DATABASE ? AS src", arguments: [source.path])
                // Checkpoints every 40 MB of WAL rather than every 4 (SQLite's default), and a 64 MB
                // page cache: a large merge spent a fifth of its time in checkpoints here.
                try db.execute(sql: "PRAGMA main.wal_autocheckpoint = 10000; PRAGMA main.cache_size = -65536")
                defer {
                    try? db.execute(sql: "PRAGMA main.wal_autocheckpoint = 1000; PRAGMA main.cache_size = -2000")
                    try? db.execute(sql: "DETACH DATABASE src")
                }
                for run in runs {
                    try db.inTransaction(.deferred) {
                        // A write first: it takes this store's lock (waiting, as writers here do)
                        // before anything is read, so the read of `uuid` below cannot go stale.
                        try db.execute(sql: "DELETE FROM main.params WHERE 0")
                        try Self.copyRun(run.id, uuid: run.uuid, db, into: &report)
                        return .commit
                    }
                }
            }
        }
        return report
    }

    private static func copyRun(_ sourceId: Int64, uuid: String, _ db: Database, into report: inout RunCopyReport) throws {
        guard let status = try String.fetchOne(db, sql: "SELECT status FROM src.runs WHERE id = ?", arguments: [sourceId]) else { return }
        if status == RunStatus.running.rawValue {
            report.skipped.append(.init(uuid: uuid, sourceId: sourceId,
                                        reason: stillRunning(sourceId, in: report.source)))
            return
        }
        if let existing = try Int64.fetchOne(db, sql: "SELECT id FROM main.runs WHERE uuid = ?", arguments: [uuid]) {
            let differences = try fingerprint(db, schema: "src.", run: sourceId).differences(from: fingerprint(db, schema: "main.", run: existing))
            if differences.isEmpty {
                report.alreadyPresent += 1
            } else {
                report.conflicts.append(.init(uuid: uuid, sourceId: sourceId, targetId: existing, differences: differences))
            }
            return
        }
        let devices = try Int64.fetchAll(db, sql: RunFingerprint.deviceIds(schema: "src."), arguments: [sourceId])
        var mapped: [Int64: Int64] = [:]
        for device in devices { mapped[device] = try copyDevice(device, db) }
        // The ids are integers from the stores themselves, so writing them into the SQL is safe.
        let deviceMap = mapped.isEmpty ? "NULL" : "CASE device_id " + mapped.map { "WHEN \($0.key) THEN \($0.value)" }.joined(separator: " ") + " END"
        let runColumns = RunFingerprint.runColumns.joined(separator: ", ")
        try db.execute(sql: "INSERT INTO main.runs (\(runColumns), device_id) SELECT \(runColumns), \(deviceMap) FROM src.runs WHERE id = ?",
                       arguments: [sourceId])
        let id = db.lastInsertedRowID
        try db.execute(sql: "INSERT INTO main.params (run_id, key, value) SELECT ?, key, value FROM src.params WHERE run_id = ?",
                       arguments: [id, sourceId])
        try db.execute(sql: "INSERT INTO main.metrics (run_id, key, step, epoch, value, recorded_at) "
                           + metricRowsInOrder(columns: "?2, key, step, epoch, value, recorded_at", schema: "src."),
                       arguments: [sourceId, id])
        let metricRows = Int64(db.changesCount)
        for table in RunFingerprint.deviceTables {
            let columns = table.columns.joined(separator: ", ")
            try db.execute(sql: "INSERT INTO main.\(table.name) (run_id, device_id, \(columns)) SELECT ?, \(deviceMap), \(columns) FROM src.\(table.name) WHERE run_id = ? ORDER BY id",
                           arguments: [id, sourceId])
        }
        report.copied.append(.init(uuid: uuid, sourceId: sourceId, id: id, metricRows: metricRows))
    }

    /// The id in this store of the source's device `id`, found by its identity (backend, platform,
    /// name, driver, host) or inserted; a measured copy bandwidth fills one this store lacks.
    private static func copyDevice(_ id: Int64, _ db: Database) throws -> Int64 {
        let list = deviceColumns.joined(separator: ", ")
        try db.execute(sql: "INSERT INTO main.devices (\(list)) SELECT \(list) FROM src.devices WHERE id = ? ON CONFLICT DO NOTHING", arguments: [id])
        let match = DeviceIdentity.columns.map { "m.\($0) = s.\($0)" }.joined(separator: " AND ")
        guard let mine = try Int64.fetchOne(db, sql: "SELECT m.id FROM main.devices m JOIN src.devices s ON \(match) WHERE s.id = ?", arguments: [id]) else {
            throw StoreError("device \(id) of the source could not be found or added in the target")
        }
        try db.execute(sql: "UPDATE main.devices SET copy_bandwidth_gbs = (SELECT copy_bandwidth_gbs FROM src.devices WHERE id = ?) WHERE id = ? AND copy_bandwidth_gbs IS NULL",
                       arguments: [id, mine])
        return mine
    }

    /// The SELECT of a run's metric rows (`?1` is the run's id) in recording order. Read as a range
    /// of rowids found in the index (which holds them): in rowid order without sorting the run's rows,
    /// and, since a run's rows are written together, without reading other runs' rows. Sorting made
    /// half the time of a push here.
    static func metricRowsInOrder(columns: String, schema: String = "") -> String {
        """
        SELECT \(columns) FROM \(schema)metrics
        WHERE id BETWEEN (SELECT MIN(id) FROM \(schema)metrics WHERE run_id = ?1) AND (SELECT MAX(id) FROM \(schema)metrics WHERE run_id = ?1)
          AND +run_id = ?1 ORDER BY id
        """
    }

    /// A run's fingerprint read from the schema `schema` ("main." or an attached "src.").
    static func fingerprint(_ db: Database, schema: String, run id: Int64) throws -> RunFingerprint {
        let q = RunFingerprint.queries(schema: schema)
        func rows(_ sql: String) throws -> [[SQLValue]] {
            try Row.fetchAll(db, sql: sql, arguments: [id]).map { row in row.databaseValues.map(SQLValue.init) }
        }
        return RunFingerprint(run: try rows(q.run).first ?? [], params: try rows(q.params), metrics: try rows(q.metrics).first ?? [],
                              deviceRows: try q.deviceRows.map(rows))
    }
}

/// What makes two device rows the same device: the `devices` table's unique key.
enum DeviceIdentity {
    static let columns = ["backend", "platform", "name", "driver_version", "host"]
}
