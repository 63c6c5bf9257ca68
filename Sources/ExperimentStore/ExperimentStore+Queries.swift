import GRDB

/// What the `runs` commands read.
extension ExperimentStore {
    public func runSummaries(kind: RunRecord.Kind? = nil, limit: Int = 20) throws -> [RunSummary] {
        try read { db in
            if let kind {
                return try RunSummary.fetchAll(db, sql: "SELECT * FROM run_summary WHERE kind = ? ORDER BY id DESC LIMIT ?",
                                               arguments: [kind.rawValue, limit])
            }
            return try RunSummary.fetchAll(db, sql: "SELECT * FROM run_summary ORDER BY id DESC LIMIT ?", arguments: [limit])
        }
    }

    public func summary(_ id: Int64) throws -> RunSummary? {
        try read { try RunSummary.fetchOne($0, sql: "SELECT * FROM run_summary WHERE id = ?", arguments: [id]) }
    }

    public func run(_ id: Int64) throws -> RunRecord? {
        try read { try RunRecord.fetchOne($0, key: id) }
    }

    public func device(_ id: Int64) throws -> DeviceRecord? {
        try read { try DeviceRecord.fetchOne($0, key: id) }
    }

    public func params(_ run: Int64) throws -> [(key: String, value: String?)] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT key, value FROM params WHERE run_id = ? ORDER BY key", arguments: [run])
                .map { (key: $0["key"], value: $0["value"]) }
        }
    }

    /// A run's metrics in recording order, optionally of one key.
    public func metrics(_ run: Int64, key: String? = nil) throws -> [MetricRecord] {
        try read { db in
            if let key {
                return try MetricRecord.fetchAll(db, sql: "SELECT * FROM metrics WHERE run_id = ? AND key = ? ORDER BY step, id",
                                                 arguments: [run, key])
            }
            return try MetricRecord.fetchAll(db, sql: "SELECT * FROM metrics WHERE run_id = ? ORDER BY id", arguments: [run])
        }
    }

    /// A curve of one metric by epoch, at most `points` points however many rows the run holds:
    /// rows are averaged in equal buckets inside SQLite, so neither time nor memory grows with them.
    public func curve(_ run: Int64, key: String, points: Int = 500) throws -> [(epoch: Double, value: Double)] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT AVG(epoch) AS x, AVG(value) AS y FROM (
                    SELECT epoch, value, ROW_NUMBER() OVER (ORDER BY step, id) - 1 AS i, COUNT(*) OVER () AS n
                    FROM metrics WHERE run_id = ? AND key = ? AND epoch IS NOT NULL AND value IS NOT NULL)
                GROUP BY i * ? / n ORDER BY MIN(i)
                """, arguments: [run, key, points]).map { (epoch: $0["x"], value: $0["y"]) }
        }
    }

    /// Per metric key of a run: row count, first and last value (in recording order), min and max.
    public struct MetricSummary: Codable, Sendable, FetchableRecord {
        public var key: String
        public var count: Int
        public var first: Double?
        public var last: Double?
        public var min: Double?
        public var max: Double?
    }

    public func metricSummaries(_ run: Int64) throws -> [MetricSummary] {
        try read { db in
            try MetricSummary.fetchAll(db, sql: """
                SELECT key, COUNT(*) AS count, MIN(value) AS min, MAX(value) AS max,
                       (SELECT value FROM metrics f WHERE f.run_id = m.run_id AND f.key = m.key AND f.value IS NOT NULL ORDER BY f.id LIMIT 1) AS first,
                       (SELECT value FROM metrics l WHERE l.run_id = m.run_id AND l.key = m.key AND l.value IS NOT NULL ORDER BY l.id DESC LIMIT 1) AS last
                FROM metrics m WHERE run_id = ? GROUP BY key ORDER BY key
                """, arguments: [run])
        }
    }

    public func timings(_ run: Int64) throws -> [TimingRecord] {
        try read { try TimingRecord.fetchAll($0, sql: "SELECT * FROM timings WHERE run_id = ? ORDER BY id", arguments: [run]) }
    }

    /// One row of the `bench_results` view.
    public struct BenchResult: Codable, Sendable, FetchableRecord {
        public var op: String
        public var shape: String
        public var backend: String
        public var device: String
        public var medianMs: Double?
        public var timing: String
        public var checkResult: String
    }

    /// A bench run's wall-time results, with device names (the baseline of a regression check).
    public func benchResults(_ run: Int64) throws -> [BenchResult] {
        try read { db in
            try BenchResult.fetchAll(db, sql: """
                SELECT op, shape, backend, device, median_ms AS medianMs, timing, check_result AS checkResult
                FROM bench_results WHERE run_id = ? AND timing = 'wall'
                """, arguments: [run])
        }
    }

    /// Runs any read-only SQL (used by tests and `report`); rows as column → value text.
    public func query(_ sql: String) throws -> [[String: String]] {
        try read { db in
            try Row.fetchAll(db, sql: sql).map { row in
                Dictionary(uniqueKeysWithValues: row.columnNames.map { name -> (String, String) in
                    let value: DatabaseValue = row[name]
                    switch value.storage {
                    case .null: return (name, "")
                    case .int64(let i): return (name, "\(i)")
                    case .double(let d): return (name, "\(d)")
                    case .string(let s): return (name, s)
                    case .blob(let b): return (name, "<\(b.count) bytes>")
                    }
                })
            }
        }
    }
}

