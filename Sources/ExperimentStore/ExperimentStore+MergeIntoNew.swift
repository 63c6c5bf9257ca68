import Foundation
import GRDB

/// `runs merge … --into TEAM.sqlite` where TEAM.sqlite does not exist yet: the target is built
/// beside it under a temporary name and appears whole, with every source in it, or not at all.
///
/// Into a new file the first source needs no id re-mapping (nothing is there to collide with), so
/// it is copied page by page with SQLite's backup API (one read snapshot of the source, which its
/// writers do not wait for) and what `merge(from:)` would not have copied is then deleted: runs
/// still running (and, by the foreign keys, their rows) and devices no copied run or timing
/// names. That costs the file's size in sequential I/O instead of SQLite's ~2 µs a metric row for
/// the row-by-row copy (BENCHMARKS.md). Later sources merge row by row into the same file.
extension ExperimentStore {
    /// Copies `sources` into the store at `path` (created if missing), in order, each run once.
    public static func merge(_ sources: [ExperimentStore], into path: String) throws -> [RunCopyReport] {
        if !sources.isEmpty, !exists(path), !exists(path + "-wal"), let reports = try mergeIntoNewFile(sources, at: path) {
            return reports
        }
        let target = try ExperimentStore(path: path)
        return try sources.map { try target.merge(from: $0) }
    }

    /// The new-file path; nil when another process created `path` first (the caller then merges
    /// row by row into that store, as into any existing one).
    private static func mergeIntoNewFile(_ sources: [ExperimentStore], at path: String) throws -> [RunCopyReport]? {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).merging-\(UUID().uuidString)").path
        // A process killed midway leaves this file (never `path`); any other end removes it.
        defer { for suffix in ["", "-journal", "-wal", "-shm"] { unlink(temporary + suffix) } }
        let first = sources[0]
        var firstReport = RunCopyReport(source: first.path, target: path)
        try translating(path) {
            let copy = try DatabaseQueue(path: temporary)
            try first.queue.backup(to: copy)
            try copy.write { db in
                let running = try Row.fetchAll(db, sql: "SELECT id, uuid FROM runs WHERE status = ? ORDER BY id", arguments: [RunStatus.running.rawValue])
                for run in running {
                    let id: Int64 = run[0]
                    firstReport.skipped.append(.init(uuid: run[1], sourceId: id, reason: Self.stillRunning(id, in: first.path)))
                }
                try db.execute(sql: "DELETE FROM runs WHERE status = ?", arguments: [RunStatus.running.rawValue])
                let used = (["runs"] + RunFingerprint.deviceTables.map(\.name))
                    .map { "SELECT device_id FROM \($0) WHERE device_id IS NOT NULL" }.joined(separator: " UNION ")
                try db.execute(sql: "DELETE FROM devices WHERE id NOT IN (\(used))")
                let counts = try Dictionary(uniqueKeysWithValues: Row.fetchAll(db, sql: "SELECT run_id, COUNT(*) FROM metrics GROUP BY run_id")
                    .map { ($0[0] as Int64, $0[1] as Int64) })
                for run in try Row.fetchAll(db, sql: "SELECT id, uuid FROM runs ORDER BY id") {
                    let id: Int64 = run[0]
                    firstReport.copied.append(.init(uuid: run[1], sourceId: id, id: id, metricRows: counts[id] ?? 0))
                }
            }
            try copy.close()
        }
        var reports = [firstReport]
        // Opened as a store (WAL, schema checked) for the row-by-row merge of the other sources.
        let store = try ExperimentStore(path: temporary)
        for source in sources.dropFirst() {
            var report = try store.merge(from: source)
            report.target = path
            reports.append(report)
        }
        try store.queue.writeWithoutTransaction { db in _ = try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
        try store.queue.close()
        try synchronize(temporary)
        // link(2), not rename(2): it fails if `path` appeared meanwhile instead of replacing it,
        // so a store another process created (and maybe wrote) is never overwritten.
        guard link(temporary, path) == 0 else {
            let reason = errno
            if reason == EEXIST { return nil }
            throw StoreError("\(path): the merged store could not be put in place (\(String(cString: strerror(reason)))); nothing was written there")
        }
        try synchronize(folder)
        return reports
    }

    static func stillRunning(_ id: Int64, in source: String) -> String {
        "run \(id) is still running in \(source) (if its process is gone, open that store with softmax-lab on its host to recover it)"
    }

    private static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    /// fsync of a file or folder: the copy is on disk before its name is, and its name after.
    private static func synchronize(_ path: String) throws {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0, fsync(descriptor) == 0 else {
            let reason = String(cString: strerror(errno))
            if descriptor >= 0 { close(descriptor) }
            throw StoreError("\(path): could not be flushed to disk (\(reason))")
        }
        close(descriptor)
    }
}
