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

    /// Whether an open may create the store: commands that only read the store must not leave a new
    /// file behind a typo.
    public enum OpenMode: Sendable { case createIfMissing, existingOnly }

    /// Opens the store at `path`. A store is only ever created in a new or empty file or opened in
    /// a file that already is a softmax-lab store: any other file (another program's SQLite
    /// database, a text file) is refused before a byte of it changes.
    /// `busyTimeout`: seconds a statement waits for another process's lock before SQLite gives up.
    public init(path: String, mode: OpenMode = .createIfMissing, busyTimeout: TimeInterval = ExperimentStore.defaultBusyTimeout) throws {
        self.path = path
        self.busyTimeout = busyTimeout
        try Self.checkIsStoreOrNew(path, mode: mode)
        var config = Configuration()
        config.busyMode = .timeout(busyTimeout)
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = NORMAL") }
        let name = path
        queue = try Self.translating(name) { try DatabaseQueue(path: path, configuration: config) }
        canonicalPath = Self.canonical(path)
        try Self.translating(name) { try queue.read { db in try StoreSchema.checkOwnership(db, path: name) } }
        try enableWAL()
        try write { db in try StoreSchema.migrate(db, path: name) }
        try markInterruptedRuns()
    }

    public static let defaultBusyTimeout: TimeInterval = 15
    let busyTimeout: TimeInterval

    /// Decided before SQLite opens the file: SQLite creates a missing file on open, and the header
    /// check names a file that is not SQLite before SQLite has read or locked it.
    private static func checkIsStoreOrNew(_ path: String, mode: OpenMode) throws {
        var info = stat()
        guard stat(path, &info) == 0 else {
            if mode == .existingOnly {
                throw StoreError("\(path) does not exist: no runs are recorded there (train, bench and gradcheck create a store; check --db or $SOFTMAXLAB_DB)")
            }
            return
        }
        if info.st_mode & S_IFMT == S_IFDIR { throw StoreError("\(path) is a directory, not an experiment store file") }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw StoreError("\(path) is not a regular file (a device or pipe), so it cannot be an experiment store")
        }
        guard info.st_size > 0 else { return }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw StoreError("\(path): cannot read the file (\(String(cString: strerror(errno))))")
        }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: 16)) ?? Data()
        guard head == Data("SQLite format 3\u{0}".utf8) else {
            throw StoreError("\(path) is not a SQLite database or is corrupt (it does not start with SQLite's header); it was left untouched")
        }
    }

    /// `path` absolute, with symlinks resolved.
    public static func canonical(_ path: String) -> String { URL(fileURLWithPath: path).resolvingSymlinksInPath().path }

    /// Switches a new file to WAL (the mode is stored in the file, so this happens once per file).
    /// Changing the journal mode needs the file to itself and SQLite answers "busy" at once rather
    /// than waiting, so two processes creating the same file retry here for a while.
    private func enableWAL() throws {
        let deadline = ContinuousClock.now + .seconds(busyTimeout)
        let mode: String? = try Self.translating(path) {
            while true {
                do {
                    return try queue.writeWithoutTransaction { db -> String? in
                        if try String.fetchOne(db, sql: "PRAGMA journal_mode")?.lowercased() == "wal" { return "wal" }
                        return try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL")?.lowercased()
                    }
                } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY && ContinuousClock.now < deadline {
                    Thread.sleep(forTimeInterval: 0.01)
                }
            }
        }
        if mode != "wal" {
            throw StoreError("\(path): SQLite would not switch the file to WAL mode (it stayed \(mode ?? "unknown"))")
        }
    }

    /// Runs `body`, turning SQLite's errors into one sentence that names the file: not a database or
    /// corrupt (nothing is written to such a file), cannot open, read-only, disk full, write failed,
    /// locked (with `reason`, for a writer that waits out a lock or stops).
    static func translating<T>(_ path: String, busyTimeout: TimeInterval = defaultBusyTimeout, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as DatabaseError where [.SQLITE_NOTADB, .SQLITE_CORRUPT].contains(error.resultCode) {
            throw StoreError("\(path) is not a SQLite database or is corrupt (\(error.message ?? "\(error.resultCode)")); it was left untouched")
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CANTOPEN {
            throw StoreError("\(path): cannot open or create the database file (\(error.message ?? "unable to open")); check the folder exists and is writable")
        } catch let error as DatabaseError where error.resultCode == .SQLITE_READONLY {
            throw StoreError("\(path) is read-only; runs cannot be recorded there")
        } catch let error as DatabaseError where error.resultCode == .SQLITE_FULL {
            throw StoreError("\(path): the disk is full, so SQLite could not write to the store (\(error.message ?? "database or disk is full"))", reason: .full)
        } catch let error as DatabaseError where error.resultCode == .SQLITE_IOERR {
            throw StoreError("\(path): writing the store failed (SQLite \(error.extendedResultCode): \(error.message ?? "disk I/O error")); the disk may be full or failing")
        } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY {
            throw StoreError("\(path) is locked by another process (waited \(String(format: "%g", busyTimeout)) s for its write lock)", reason: .locked)
        }
    }

    /// An immediate write transaction: it takes the write lock at BEGIN, so concurrent writers wait
    /// (busy timeout) instead of failing when they upgrade from a read.
    func write<T>(_ body: (Database) throws -> T) throws -> T {
        try Self.translating(path, busyTimeout: busyTimeout) {
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
        try Self.translating(path, busyTimeout: busyTimeout) { try queue.read(body) }
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
