/// What a run holds, without its store's ids: how `runs merge`, `push` and `pull` tell that a run
/// with the same uuid in two stores is the same run (nothing to copy) or two different contents (a
/// conflict to report, never to overwrite).
///
/// The run's own columns, its device's identity, its params, timings and tuning rows are compared whole; its
/// metrics, which may be millions of rows, by count, the sums of step and epoch, the count and sum of
/// values and the first and last recording times, each one aggregate query that both SQLite and
/// PostgreSQL answer from the run's index. Sums of values are compared to within rounding, since the
/// two engines add in different orders.
public struct RunFingerprint: Sendable, Equatable {
    public var run: [String: SQLValue]
    public var device: String?
    public var params: [String]
    public var metricRows: Int64
    public var stepSum: Int64
    public var epochSum: Int64
    public var valueCount: Int64
    public var valueSum: Double
    public var firstRecordedAt: String?
    public var lastRecordedAt: String?
    /// Each of `deviceTables`' rows of the run, with their devices' identities, in that order.
    public var deviceRows: [[[SQLValue]]]

    /// The run's columns that are compared (every column but the store's ids).
    static let runColumns = ["uuid", "kind", "name", "status", "started_at", "ended_at", "backend", "config", "seed",
                             "git_commit", "host", "pid", "tool_version", "command_line", "error"]
    static let timingColumns = ["op", "shape", "backend", "samples", "min_ms", "median_ms", "p90_ms", "max_ms", "bytes",
                                "flops", "gb_per_s", "gflop_per_s", "percent_of_bandwidth", "timing", "check_result",
                                "peak_extra_bytes"]
    static let tuningColumns = ["kernel_hash", "tool_version", "op", "shape_class", "shape", "dtype", "parameters", "is_default",
                                "check_result", "samples", "median_ms", "p90_ms", "chosen"]
    /// The tables of a run's rows that name a device, with the columns each copies beside `run_id`
    /// and `device_id`: merge, push and pull copy them, mapping the device, in this order.
    static let deviceTables: [(name: String, columns: [String])] = [("timings", timingColumns), ("tuning", tuningColumns)]

    /// The devices a run and its rows name, in SQL both engines run; `$1` is the run's id.
    static func deviceIds(schema: String = "") -> String {
        "SELECT device_id FROM \(schema)runs WHERE id = $1 AND device_id IS NOT NULL"
            + deviceTables.map { " UNION SELECT device_id FROM \(schema)\($0.name) WHERE run_id = $1 AND device_id IS NOT NULL" }.joined()
    }

    /// A device table's rows of run `$1` as copied: `device_id` first, then its columns.
    static func copiedRows(_ table: (name: String, columns: [String]), schema: String = "") -> String {
        "SELECT device_id, \(table.columns.joined(separator: ", ")) FROM \(schema)\(table.name) WHERE run_id = $1 ORDER BY id"
    }

    /// The queries, in SQL both engines run; `$1` is the run's id, `schema` a prefix such as `src.`.
    static func queries(schema: String = "") -> (run: String, params: String, metrics: String, deviceRows: [String]) {
        (run: "SELECT \(runColumns.map { "r.\($0)" }.joined(separator: ", ")), d.backend AS d_backend, d.platform AS d_platform, d.name AS d_name, d.driver_version AS d_driver, d.host AS d_host FROM \(schema)runs r LEFT JOIN \(schema)devices d ON d.id = r.device_id WHERE r.id = $1",
         params: "SELECT key, value FROM \(schema)params WHERE run_id = $1 ORDER BY key",
         metrics: "SELECT COUNT(*), COALESCE(SUM(step), 0), COALESCE(SUM(epoch), 0), COUNT(value), COALESCE(SUM(value), 0), MIN(recorded_at), MAX(recorded_at) FROM \(schema)metrics WHERE run_id = $1",
         deviceRows: deviceTables.map { table in
             "SELECT \(table.columns.map { "t.\($0)" }.joined(separator: ", ")), d.backend, d.platform, d.name, d.driver_version, d.host FROM \(schema)\(table.name) t LEFT JOIN \(schema)devices d ON d.id = t.device_id WHERE t.run_id = $1 ORDER BY t.id"
         })
    }

    /// Builds the fingerprint from the queries' rows.
    init(run: [SQLValue], params: [[SQLValue]], metrics: [SQLValue], deviceRows: [[[SQLValue]]]) {
        let n = Self.runColumns.count
        self.run = Dictionary(uniqueKeysWithValues: zip(Self.runColumns, run.prefix(n)))
        let identity = run.dropFirst(n)
        device = identity.allSatisfy { $0 == .null } ? nil : identity.map(\.text).joined(separator: " | ")
        self.params = params.map { "\($0[0].text)=\($0[1] == .null ? "null" : $0[1].text)" }
        metricRows = metrics[0].integer ?? 0
        stepSum = metrics[1].integer ?? 0
        epochSum = metrics[2].integer ?? 0
        valueCount = metrics[3].integer ?? 0
        valueSum = metrics[4].real ?? 0
        firstRecordedAt = metrics[5].string
        lastRecordedAt = metrics[6].string
        self.deviceRows = deviceRows
    }

    /// The parts in which `other` differs, named for a sentence ("status, metrics"); empty when it
    /// is the same run.
    public func differences(from other: RunFingerprint) -> [String] {
        var parts: [String] = []
        for column in Self.runColumns where run[column] != other.run[column] { parts.append(column) }
        if device != other.device { parts.append("device") }
        if params != other.params { parts.append("params") }
        let tolerance = 1e-12 * Double(max(valueCount, 1)) * max(1, abs(valueSum))
        if metricRows != other.metricRows || stepSum != other.stepSum || epochSum != other.epochSum
            || valueCount != other.valueCount || abs(valueSum - other.valueSum) > tolerance
            || firstRecordedAt != other.firstRecordedAt || lastRecordedAt != other.lastRecordedAt {
            parts.append(metricRows == other.metricRows ? "metrics (values)" : "metrics (\(metricRows) rows against \(other.metricRows))")
        }
        for (i, table) in Self.deviceTables.enumerated() where deviceRows[safe: i] != other.deviceRows[safe: i] { parts.append(table.name) }
        return parts
    }
}

extension Array {
    subscript(safe i: Int) -> Element? { indices.contains(i) ? self[i] : nil }
}
