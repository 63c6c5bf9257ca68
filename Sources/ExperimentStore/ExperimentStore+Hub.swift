import Foundation
import GRDB
import GRDBSQLite
import Synchronization

/// `runs push` and `runs pull`: the exact, repeatable copy of runs between this store and a shared
/// PostgreSQL hub (`HubSchema`), with the rules of `merge`: runs by uuid, devices by identity, ids
/// re-mapped, one transaction per run (a push killed midway leaves whole runs only, and the next
/// push copies the rest), a run with the same uuid and other content reported and left alone, a
/// run still running skipped.
extension ExperimentStore {
    /// Which of the hub's runs `pull` copies; `nil` is any.
    public struct PullFilter: Sendable {
        /// Any part of a device's name (any case; the run's device or one its timings used), or the
        /// host the run ran on (whole).
        public var device: String?
        /// Runs started at or after this ISO-8601 date or time (UTC).
        public var since: String?
        public var kind: RunRecord.Kind?
        public init(device: String? = nil, since: String? = nil, kind: RunRecord.Kind? = nil) {
            self.device = device
            self.since = since
            self.kind = kind
        }
    }

    static let deviceColumns = DeviceIdentity.columns + ["vendor", "type", "compute_units", "clock_mhz", "global_memory_bytes",
                                                         "local_memory_bytes", "max_work_group_size", "copy_bandwidth_gbs", "first_seen_at"]

    /// Hub connections a push uses by default: the server inserts a connection's rows on one core
    /// (a push of 10 million metric rows was bound by it), so two runs go at once; more measured
    /// slower against a server on this 2-core machine (BENCHMARKS.md), a bigger server may take more.
    public static let defaultPushConnections = 2

    /// Copies every finished run into the hub, `connections` runs at a time, each over its own
    /// connection and its own read of this store, each in one transaction.
    public func push(to address: HubAddress, connections: Int = defaultPushConnections) throws -> RunCopyReport {
        let hub = try PostgresConnection(address)
        try HubSchema.prepare(hub, create: true)
        var start = RunCopyReport(source: path, target: address.description)
        let runs = try read { db in
            try Row.fetchAll(db, sql: "SELECT id, uuid, status FROM runs ORDER BY id").map { (id: $0[0] as Int64, uuid: $0[1] as String, status: $0[2] as String) }
        }
        let running = RunStatus.running.rawValue
        start.skipped = runs.filter { $0.status == running }.map { .init(uuid: $0.uuid, sourceId: $0.id, reason: "run \($0.id) is still running in \(path)") }
        let queued = runs.filter { $0.status != running }.map { (id: $0.id, uuid: $0.uuid) }
        let next = Atomic<Int>(0)
        let outcome = Mutex<(report: RunCopyReport, error: (any Error)?)>((start, nil))
        let workers = max(1, min(connections, queued.count))
        // The first worker uses the connection that prepared the schema; connections and SQLite
        // readers are each used by one thread only.
        nonisolated(unsafe) let firstHub = hub
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            // A server that refuses more connections (max_connections) leaves the runs to the
            // workers that have one; the first always has, or the push had failed before this.
            guard let hub = worker == 0 ? firstHub : try? PostgresConnection(address) else { return }
            do {
                let reader = try DatabaseQueue(path: path, configuration: Self.readerConfiguration(busyTimeout))
                var mine = RunCopyReport(source: path, target: address.description)
                while outcome.withLock({ $0.error == nil }) {
                    let i = next.add(1, ordering: .relaxed).oldValue
                    guard i < queued.count else { break }
                    let run = queued[i]
                    try Self.translating(path) { try push(run.id, uuid: run.uuid, from: reader, hub, into: &mine) }
                }
                outcome.withLock { $0.report.absorb(mine) }
            } catch {
                outcome.withLock { if $0.error == nil { $0.error = error } }
            }
        }
        let (report, failure) = outcome.withLock { ($0.report, $0.error) }
        if let failure { throw failure }
        if !report.copied.isEmpty {
            // The new rows' block ranges, summarized now so the next query reads only its run's
            // (HubSchema); a role that does not own the index leaves it to autovacuum.
            _ = try? hub.execute("SELECT brin_summarize_new_values('metrics_run')")
        }
        return report
    }

    /// A read-only connection to this store for one push worker (a `DatabaseQueue` serves one
    /// thread at a time, so the workers cannot share the store's own).
    private static func readerConfiguration(_ busyTimeout: TimeInterval) -> Configuration {
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(busyTimeout)
        return config
    }

    private func push(_ id: Int64, uuid: String, from reader: DatabaseQueue, _ hub: PostgresConnection, into report: inout RunCopyReport) throws {
        if let existing = try hub.execute("SELECT id FROM runs WHERE uuid = $1", [uuid]).first?.first?.integer {
            return try compare(local: id, hub: existing, hub, uuid: uuid, localIsSource: true, into: &report)
        }
        let parts = try reader.read { db in
            func rows(_ sql: String) throws -> [[SQLValue]] {
                try Row.fetchAll(db, sql: sql, arguments: [id]).map { $0.databaseValues.map(SQLValue.init) }
            }
            // Devices in identity order: every push, in every process, then takes the hub's locks
            // on device keys in one order, so two concurrent transactions cannot deadlock on them.
            return (run: try rows("SELECT \(RunFingerprint.runColumns.joined(separator: ", ")), device_id FROM runs WHERE id = ?")[0],
                    devices: try rows("SELECT id, \(Self.deviceColumns.joined(separator: ", ")) FROM devices WHERE id IN (\(RunFingerprint.deviceIds())) ORDER BY \(DeviceIdentity.columns.joined(separator: ", "))"),
                    params: try rows("SELECT key, value FROM params WHERE run_id = ? ORDER BY key"),
                    deviceRows: try RunFingerprint.deviceTables.map { try rows(RunFingerprint.copiedRows($0)) })
        }
        try hub.execute("BEGIN")
        do {
            var mapped: [SQLValue: SQLValue] = [.null: .null]
            for device in parts.devices { mapped[device[0]] = .int(try hubDevice(Array(device.dropFirst()), hub)) }
            let runValues = parts.run.dropLast() + [mapped[parts.run.last!] ?? .null]
            let runColumns = RunFingerprint.runColumns + ["device_id"]
            guard let hubId = try hub.execute("INSERT INTO runs (\(runColumns.joined(separator: ", "))) VALUES (\(Self.placeholders(runColumns.count))) ON CONFLICT (uuid) DO NOTHING RETURNING id",
                                              runValues.map(\.parameter)).first?.first?.integer else {
                // Another push copied it since the check above.
                try hub.execute("ROLLBACK")
                let existing = try hub.execute("SELECT id FROM runs WHERE uuid = $1", [uuid]).first?.first?.integer ?? -1
                return try compare(local: id, hub: existing, hub, uuid: uuid, localIsSource: true, into: &report)
            }
            for param in parts.params {
                try hub.execute("INSERT INTO params (run_id, key, value) VALUES ($1, $2, $3)", ["\(hubId)", param[0].parameter, param[1].parameter])
            }
            let rows = try sendMetrics(of: id, as: hubId, from: reader, hub)
            for (table, rows) in zip(RunFingerprint.deviceTables, parts.deviceRows) {
                let columns = ["run_id", "device_id"] + table.columns
                for row in rows {
                    try hub.execute("INSERT INTO \(table.name) (\(columns.joined(separator: ", "))) VALUES (\(Self.placeholders(columns.count)))",
                                    ["\(hubId)", (mapped[row[0]] ?? .null).parameter] + row.dropFirst().map(\.parameter))
                }
            }
            try hub.execute("COMMIT")
            report.copied.append(.init(uuid: uuid, sourceId: id, id: hubId, metricRows: rows))
        } catch {
            _ = try? hub.execute("ROLLBACK")
            throw error
        }
    }

    /// The hub's id of a device (given as `deviceColumns` values), found by identity or inserted.
    private func hubDevice(_ values: [SQLValue], _ hub: PostgresConnection) throws -> Int64 {
        let parameters = values.map(\.parameter)
        try hub.execute("INSERT INTO devices (\(Self.deviceColumns.joined(separator: ", "))) VALUES (\(Self.placeholders(values.count))) ON CONFLICT (\(DeviceIdentity.columns.joined(separator: ", "))) DO NOTHING", parameters)
        let match = DeviceIdentity.columns.enumerated().map { "\($0.element) = $\($0.offset + 1)" }.joined(separator: " AND ")
        guard let id = try hub.execute("SELECT id FROM devices WHERE \(match)", Array(parameters.prefix(DeviceIdentity.columns.count))).first?.first?.integer else {
            throw StoreError("\(hub.address): a device row could not be found or added")
        }
        return id
    }

    /// Streams the run's metric rows to the hub with one binary COPY, read straight from SQLite's
    /// statement (100,000 rows are a few megabytes, sent in 1 MiB pieces). Binary, not text: the
    /// numbers go as their bits, which neither side formats or parses (`CopyBinary`).
    private func sendMetrics(of id: Int64, as hubId: Int64, from reader: DatabaseQueue, _ hub: PostgresConnection) throws -> Int64 {
        try reader.read { db in
            let statement = try db.makeStatement(sql: ExperimentStore.metricRowsInOrder(columns: "key, step, epoch, value, recorded_at"))
            try statement.setArguments([id])
            let sql = statement.sqliteStatement
            defer { sqlite3_reset(sql) }
            var count: Int64 = 0
            try hub.copyIn("COPY metrics (run_id, key, step, epoch, value, recorded_at) FROM STDIN (FORMAT binary)") { send in
                var out = CopyBinary()
                func text(_ column: Int32) {
                    guard let bytes = sqlite3_column_text(sql, column) else { return out.null() }
                    out.text(UnsafeBufferPointer(start: bytes, count: Int(sqlite3_column_bytes(sql, column))))
                }
                func integer(_ column: Int32) {
                    if sqlite3_column_type(sql, column) == SQLITE_NULL { out.null() } else { out.int64(sqlite3_column_int64(sql, column)) }
                }
                while true {
                    let code = sqlite3_step(sql)
                    if code == SQLITE_DONE { break }
                    guard code == SQLITE_ROW else {
                        throw StoreError("\(path): reading metrics failed (\(String(cString: sqlite3_errmsg(sqlite3_db_handle(sql)))))")
                    }
                    out.row(fields: 6)
                    out.int64(hubId)
                    text(0)
                    integer(1)
                    integer(2)
                    if sqlite3_column_type(sql, 3) == SQLITE_NULL { out.null() } else { out.double(sqlite3_column_double(sql, 3)) }
                    text(4)
                    count += 1
                    if out.bytes.count >= 1 << 20 { try out.flush(send) }
                }
                out.end()
                try out.flush(send)
            }
            return count
        }
    }

    public func pull(from address: HubAddress, filter: PullFilter = PullFilter()) throws -> RunCopyReport {
        let hub = try PostgresConnection(address)
        try HubSchema.prepare(hub, create: false)
        var report = RunCopyReport(source: address.description, target: path)
        var conditions: [String] = [], parameters: [String?] = []
        if let kind = filter.kind {
            parameters.append(kind.rawValue)
            conditions.append("r.kind = $\(parameters.count)")
        }
        if let since = filter.since {
            parameters.append(since)
            conditions.append("r.started_at >= $\(parameters.count)")
        }
        if let device = filter.device {
            parameters.append(device)
            let n = parameters.count
            conditions.append("(r.host = $\(n) OR strpos(lower(d.name), lower($\(n))) > 0 OR EXISTS (SELECT 1 FROM timings t JOIN devices e ON e.id = t.device_id WHERE t.run_id = r.id AND strpos(lower(e.name), lower($\(n))) > 0))")
        }
        let runs = try hub.execute("SELECT r.id, r.uuid, r.status FROM runs r LEFT JOIN devices d ON d.id = r.device_id \(conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")) ORDER BY r.id", parameters)
        for run in runs {
            let (id, uuid) = (run[0].integer!, run[1].text)
            if run[2].text == RunStatus.running.rawValue {
                report.skipped.append(.init(uuid: uuid, sourceId: id, reason: "run \(id) is still running in the hub"))
                continue
            }
            try pull(id, uuid: uuid, hub, into: &report)
        }
        return report
    }

    private func pull(_ hubId: Int64, uuid: String, _ hub: PostgresConnection, into report: inout RunCopyReport) throws {
        if let existing = try read({ try Int64.fetchOne($0, sql: "SELECT id FROM runs WHERE uuid = ?", arguments: [uuid]) }) {
            return try compare(local: existing, hub: hubId, hub, uuid: uuid, localIsSource: false, into: &report)
        }
        // Everything is fetched before the local write transaction, so local writers never wait on the network.
        let key = ["\(hubId)"]
        let run = try hub.execute("SELECT \(RunFingerprint.runColumns.joined(separator: ", ")), device_id FROM runs WHERE id = $1", key)[0]
        let devices = try hub.execute("SELECT id, \(Self.deviceColumns.joined(separator: ", ")) FROM devices WHERE id IN (\(RunFingerprint.deviceIds()))", key)
        let params = try hub.execute("SELECT key, value FROM params WHERE run_id = $1 ORDER BY key", key)
        let deviceRows = try RunFingerprint.deviceTables.map { try hub.execute(RunFingerprint.copiedRows($0), key) }
        var metrics: [MetricRecord] = []
        var parser = CopyText.MetricParser(hub: hub)
        try hub.copyOut("COPY (SELECT key, step, epoch, value, recorded_at FROM metrics WHERE run_id = \(hubId) ORDER BY id) TO STDOUT") { line in
            metrics.append(try parser.parse(line))
        }
        let copied: Int64? = try write { db in
            if try Int64.fetchOne(db, sql: "SELECT id FROM runs WHERE uuid = ?", arguments: [uuid]) != nil { return nil }
            var mapped: [SQLValue: DatabaseValue] = [.null: .null]
            let list = Self.deviceColumns.joined(separator: ", ")
            let match = DeviceIdentity.columns.map { "\($0) = ?" }.joined(separator: " AND ")
            for device in devices {
                let values = StatementArguments(device.dropFirst().map(\.databaseValue))
                try db.execute(sql: "INSERT INTO devices (\(list)) VALUES (\(Self.questionMarks(Self.deviceColumns.count))) ON CONFLICT DO NOTHING", arguments: values)
                let identity = StatementArguments(device[1...DeviceIdentity.columns.count].map(\.databaseValue))
                mapped[device[0]] = try Int64.fetchOne(db, sql: "SELECT id FROM devices WHERE \(match)", arguments: identity)?.databaseValue ?? .null
            }
            let runColumns = RunFingerprint.runColumns + ["device_id"]
            try db.execute(sql: "INSERT INTO runs (\(runColumns.joined(separator: ", "))) VALUES (\(Self.questionMarks(runColumns.count)))",
                           arguments: StatementArguments(run.dropLast().map(\.databaseValue) + [mapped[run.last!] ?? .null]))
            let id = db.lastInsertedRowID
            for param in params {
                try db.execute(sql: "INSERT INTO params (run_id, key, value) VALUES (?, ?, ?)", arguments: [id, param[0].databaseValue, param[1].databaseValue])
            }
            for i in metrics.indices { metrics[i].runId = id }
            try Self.insert(metrics, db)
            for (table, rows) in zip(RunFingerprint.deviceTables, deviceRows) {
                let columns = ["run_id", "device_id"] + table.columns
                for row in rows {
                    try db.execute(sql: "INSERT INTO \(table.name) (\(columns.joined(separator: ", "))) VALUES (\(Self.questionMarks(columns.count)))",
                                   arguments: StatementArguments([id.databaseValue, mapped[row[0]] ?? .null] + row.dropFirst().map(\.databaseValue)))
                }
            }
            report.copied.append(.init(uuid: uuid, sourceId: hubId, id: id, metricRows: Int64(metrics.count)))
            return id
        }
        if copied == nil, let existing = try read({ try Int64.fetchOne($0, sql: "SELECT id FROM runs WHERE uuid = ?", arguments: [uuid]) }) {
            try compare(local: existing, hub: hubId, hub, uuid: uuid, localIsSource: false, into: &report)
        }
    }

    /// Compares the run in this store with the hub's run of the same uuid, as `merge` does.
    private func compare(local: Int64, hub hubId: Int64, _ hub: PostgresConnection, uuid: String, localIsSource: Bool,
                         into report: inout RunCopyReport) throws {
        let mine = try read { db in try Self.fingerprint(db, schema: "main.", run: local) }
        let q = RunFingerprint.queries()
        let key = ["\(hubId)"]
        let theirs = RunFingerprint(run: try hub.execute(q.run, key).first ?? [], params: try hub.execute(q.params, key),
                                    metrics: try hub.execute(q.metrics, key).first ?? [], deviceRows: try q.deviceRows.map { try hub.execute($0, key) })
        let (source, target) = localIsSource ? (mine, theirs) : (theirs, mine)
        let differences = source.differences(from: target)
        if differences.isEmpty {
            report.alreadyPresent += 1
        } else {
            report.conflicts.append(.init(uuid: uuid, sourceId: localIsSource ? local : hubId, targetId: localIsSource ? hubId : local,
                                          differences: differences))
        }
    }

    static func placeholders(_ n: Int) -> String { (1...n).map { "$\($0)" }.joined(separator: ", ") }
    static func questionMarks(_ n: Int) -> String { Array(repeating: "?", count: n).joined(separator: ", ") }
}
