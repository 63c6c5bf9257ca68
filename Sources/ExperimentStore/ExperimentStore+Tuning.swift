import GRDB

/// What `tune` writes and what later runs read: the `tuning` table.
extension ExperimentStore {
    /// A tune run's candidates, in one transaction.
    public func record(tuning rows: [TuningRecord]) throws {
        try write { db in for var row in rows { try row.insert(db) } }
    }

    /// A chosen row and the device it was measured on.
    public struct TunedChoice: Sendable {
        public var row: TuningRecord
        public var device: DeviceRecord
    }

    /// The choices finished tune runs made for a device (by backend, platform, name and host, any
    /// driver version), op, shape class and storage type, newest first: the caller tells a current
    /// one from a stale one (another driver or kernel source).
    public func tunedChoices(backend: String, platform: String, name: String, host: String, op: String, shapeClass: String,
                             dtype: String) throws -> [TunedChoice] {
        try read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT t.*, d.id AS d_id FROM tuning t JOIN devices d ON d.id = t.device_id JOIN runs r ON r.id = t.run_id
                WHERE t.chosen = 1 AND r.status = 'finished' AND d.backend = ? AND d.platform = ? AND d.name = ? AND d.host = ?
                  AND t.op = ? AND t.shape_class = ? AND t.dtype = ?
                ORDER BY t.run_id DESC, t.id DESC
                """, arguments: [backend, platform, name, host, op, shapeClass, dtype])
            return try rows.map { row in
                guard let device = try DeviceRecord.fetchOne(db, key: row["d_id"] as Int64) else {
                    throw StoreError("tuning row \(row["id"] as Int64) names device \(row["device_id"] as Int64), which the store does not hold")
                }
                return TunedChoice(row: try TuningRecord(row: row), device: device)
            }
        }
    }

    /// Every candidate of a tune run, in the order it was measured.
    public func tuning(run id: Int64) throws -> [TuningRecord] {
        try read { try TuningRecord.fetchAll($0, sql: "SELECT * FROM tuning WHERE run_id = ? ORDER BY id", arguments: [id]) }
    }
}
