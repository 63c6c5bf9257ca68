import Foundation
import GRDB
import GRDBSQLite

/// SQLite copies bound text before the call returns.
private let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// The SQLite file that records every run: configuration, device, loss history, timings.
///
/// WAL mode, foreign keys on, a busy timeout so several processes can write one file, and
/// immediate write transactions so two writers queue instead of failing. A run is inserted as
/// `running` before its work starts and its metrics are journaled as they come and committed in
/// groups (`MetricWriter`), so a killed process loses at most the row in flight; the next open
/// commits the journaled rows and marks such runs `interrupted`.
public final class ExperimentStore: Sendable {
    public static let defaultPath = "softmax-lab.sqlite"

    public let path: String
    /// `path` made absolute with symlinks resolved: metric journals are named after it, so every
    /// process finds a run's journal however it spelled the store's path.
    public let canonicalPath: String
    let queue: DatabaseQueue

    public init(path: String) throws {
        self.path = path
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw StoreError("\(path) is a directory, not an experiment store file")
        }
        var config = Configuration()
        config.busyMode = .timeout(15)
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = NORMAL") }
        let name = path
        queue = try Self.translating(name) { try DatabaseQueue(path: path, configuration: config) }
        canonicalPath = Self.canonical(path)
        try enableWAL()
        try write { db in try StoreSchema.migrate(db, path: name) }
        try markInterruptedRuns()
    }

    /// `path` absolute, with symlinks resolved.
    public static func canonical(_ path: String) -> String { URL(fileURLWithPath: path).resolvingSymlinksInPath().path }

    /// Switches a new file to WAL (the mode is stored in the file, so this happens once per file).
    /// Changing the journal mode needs the file to itself and SQLite answers "busy" at once rather
    /// than waiting, so two processes creating the same file retry here for a while.
    private func enableWAL() throws {
        let deadline = ContinuousClock.now + .seconds(15)
        while true {
            do {
                let mode: String? = try Self.translating(path) {
                    try queue.writeWithoutTransaction { db -> String? in
                        if try String.fetchOne(db, sql: "PRAGMA journal_mode")?.lowercased() == "wal" { return "wal" }
                        return try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL")?.lowercased()
                    }
                }
                if mode == "wal" { return }
                throw StoreError("\(path): SQLite would not switch the file to WAL mode (it stayed \(mode ?? "unknown"))")
            } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY && ContinuousClock.now < deadline {
                Thread.sleep(forTimeInterval: 0.01)
            }
        }
    }

    /// Runs `body`, turning SQLite's "not a database" and "corrupt" errors into one sentence that
    /// names the file. Nothing is written to such a file.
    static func translating<T>(_ path: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as DatabaseError where [.SQLITE_NOTADB, .SQLITE_CORRUPT].contains(error.resultCode) {
            throw StoreError("\(path) is not a SQLite database or is corrupt (\(error.message ?? "\(error.resultCode)")); it was left untouched")
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CANTOPEN {
            throw StoreError("\(path): cannot open or create the database file (\(error.message ?? "unable to open")); check the folder exists and is writable")
        } catch let error as DatabaseError where error.resultCode == .SQLITE_READONLY {
            throw StoreError("\(path) is read-only; runs cannot be recorded there")
        }
    }

    /// An immediate write transaction: it takes the write lock at BEGIN, so concurrent writers wait
    /// (busy timeout) instead of failing when they upgrade from a read.
    func write<T>(_ body: (Database) throws -> T) throws -> T {
        try Self.translating(path) {
            try queue.writeWithoutTransaction { db in
                var result: T?
                try db.inTransaction(.immediate) {
                    result = try body(db)
                    return .commit
                }
                return result!
            }
        }
    }

    func read<T>(_ body: (Database) throws -> T) throws -> T {
        try Self.translating(path) { try queue.read(body) }
    }

    // MARK: Recording

    /// Inserts a run (status `running`) and its flattened parameters; returns its id.
    public func beginRun(_ run: RunRecord, params: [String: String]) throws -> Int64 {
        try write { db in
            var run = run
            try run.insert(db)
            for (key, value) in params.sorted(by: { $0.key < $1.key }) {
                try db.execute(sql: "INSERT INTO params (run_id, key, value) VALUES (?, ?, ?)", arguments: [run.id, key, value])
            }
            return run.id!
        }
    }

    /// Appends metric rows in one transaction.
    public func record(metrics: [MetricRecord]) throws {
        guard !metrics.isEmpty else { return }
        try write { db in try Self.insert(metrics, db) }
    }

    /// Rows per INSERT statement: one statement for many rows saves SQLite a program run per row.
    static let rowsPerInsert = 32

    /// Inserts rows with prepared statements bound through SQLite's C API: GRDB's argument arrays
    /// cost 7 allocations a row, most of the metric writer's time, and that writer shares the
    /// machine with the training it records. Whole groups of `rowsPerInsert` rows go through one
    /// multi-row statement, the rest one by one.
    static func insert(_ metrics: [MetricRecord], _ db: Database) throws {
        let whole = metrics.count / rowsPerInsert * rowsPerInsert
        if whole > 0 {
            try insert(metrics[0..<whole], rowsPerStatement: rowsPerInsert, db)
        }
        if whole < metrics.count {
            try insert(metrics[whole...], rowsPerStatement: 1, db)
        }
    }

    private static func insert(_ metrics: ArraySlice<MetricRecord>, rowsPerStatement k: Int, _ db: Database) throws {
        let values = Array(repeating: "(?, ?, ?, ?, ?, ?)", count: k).joined(separator: ", ")
        let statement = try db.cachedStatement(sql: "INSERT INTO metrics (run_id, key, step, epoch, value, recorded_at) VALUES \(values)")
        let sql = statement.sqliteStatement
        defer {
            sqlite3_reset(sql)
            sqlite3_clear_bindings(sql)
        }
        var i = metrics.startIndex
        while i < metrics.endIndex {
            sqlite3_reset(sql)
            for r in 0..<k {
                let m = metrics[i + r], p = Int32(6 * r)
                sqlite3_bind_int64(sql, p + 1, m.runId)
                sqlite3_bind_text(sql, p + 2, m.key, -1, sqliteTransient)
                if let step = m.step { sqlite3_bind_int64(sql, p + 3, Int64(step)) } else { sqlite3_bind_null(sql, p + 3) }
                if let epoch = m.epoch { sqlite3_bind_int64(sql, p + 4, Int64(epoch)) } else { sqlite3_bind_null(sql, p + 4) }
                if let v = m.value { sqlite3_bind_double(sql, p + 5, v) } else { sqlite3_bind_null(sql, p + 5) }
                sqlite3_bind_text(sql, p + 6, m.recordedAt, -1, sqliteTransient)
            }
            let code = sqlite3_step(sql)
            guard code == SQLITE_DONE else {
                throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(sqlite3_db_handle(sql))))
            }
            i += k
        }
    }

    public func record(timings: [TimingRecord]) throws {
        guard !timings.isEmpty else { return }
        try write { db in
            for var t in timings { try t.insert(db) }
        }
    }

    public func finishRun(_ id: Int64, status: RunRecord.Status, error: String? = nil) throws {
        try write { db in
            try db.execute(sql: "UPDATE runs SET status = ?, ended_at = ?, error = ? WHERE id = ?",
                           arguments: [status.rawValue, Timestamp.now(), error, id])
        }
    }

    /// The id of the device's row, inserting it or refreshing what changed (e.g. a newly measured
    /// copy bandwidth).
    public func register(device: DeviceRecord) throws -> Int64 {
        try write { db in
            let existing = try DeviceRecord.fetchOne(db, sql: """
                SELECT * FROM devices WHERE backend = ? AND platform = ? AND name = ? AND driver_version = ? AND host = ?
                """, arguments: [device.backend, device.platform, device.name, device.driverVersion, device.host])
            guard var row = existing else {
                var new = device
                try new.insert(db)
                return new.id!
            }
            row.vendor = device.vendor
            row.type = device.type
            row.computeUnits = device.computeUnits ?? row.computeUnits
            row.clockMhz = device.clockMhz ?? row.clockMhz
            row.globalMemoryBytes = device.globalMemoryBytes ?? row.globalMemoryBytes
            row.localMemoryBytes = device.localMemoryBytes ?? row.localMemoryBytes
            row.maxWorkGroupSize = device.maxWorkGroupSize ?? row.maxWorkGroupSize
            row.copyBandwidthGbs = device.copyBandwidthGbs ?? row.copyBandwidthGbs
            try row.update(db)
            return row.id!
        }
    }

    /// Marks `running` runs of this host whose process is gone as `interrupted`, after committing
    /// the metric rows their journals hold beyond the ones already committed.
    @discardableResult
    public func markInterruptedRuns() throws -> Int {
        let host = ProcessInfo.processInfo.hostName
        var journals: [String] = []
        let count = try write { db in
            let stale = try RunRecord.fetchAll(db, sql: "SELECT * FROM runs WHERE status = 'running' AND host = ?", arguments: [host])
                .filter { run in run.pid.map { !Self.processIsAlive($0) } ?? false }
            for run in stale {
                var error = "process \(run.pid!) on \(host) ended before the run finished"
                let journal = MetricJournal.path(store: canonicalPath, runID: run.id!)
                if FileManager.default.fileExists(atPath: journal) {
                    // A journal that cannot be read must not keep the store from opening.
                    do {
                        let rows = try MetricJournal.rows(atPath: journal)
                        let recovered = try recoverMetrics(rows, of: run.id!, db)
                        if recovered > 0 { error += "; its last \(recovered) metric rows were recovered from \(journal)" }
                        journals.append(journal)
                    } catch let failure as StoreError {
                        error += "; its metrics journal was not recovered: \(failure)"
                    }
                }
                // The last sign of life, not the moment the run was found dead.
                let lastRow = try String.fetchOne(db, sql: "SELECT MAX(recorded_at) FROM metrics WHERE run_id = ?", arguments: [run.id])
                try db.execute(sql: "UPDATE runs SET status = 'interrupted', ended_at = ?, error = ? WHERE id = ?", arguments: [
                    lastRow ?? Timestamp.now(), error, run.id])
            }
            return stale.count
        }
        for journal in journals { unlink(journal) }
        return count
    }

    /// Inserts the journal's rows beyond those the run's own transactions committed (the writer
    /// commits in the order rows were appended, so the committed ones are the journal's first rows).
    private func recoverMetrics(_ rows: [MetricWriter.Sample], of runID: Int64, _ db: Database) throws -> Int {
        let committed = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM metrics WHERE run_id = ?", arguments: [runID]) ?? 0
        let missing = rows.dropFirst(committed)
        try Self.insert(MetricWriter.records(missing, runID: runID), db)
        return missing.count
    }

    static func processIsAlive(_ pid: Int32) -> Bool {
        kill(pid, 0) == 0 || errno == EPERM
    }

    /// A run's configuration flattened to key → value ("a.b" for nested keys), for `params`.
    public static func flatten(json: Data) -> [String: String] {
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: json) else { return [:] }
        var result: [String: String] = [:]
        func walk(_ value: JSONValue, _ prefix: String) {
            switch value {
            case .object(let dict): for (k, v) in dict { walk(v, prefix.isEmpty ? k : "\(prefix).\(k)") }
            case .null: break
            default: result[prefix] = value.text
            }
        }
        walk(value, "")
        return result
    }
}
