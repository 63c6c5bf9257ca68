import Foundation
import GRDB
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What an open does for runs whose process is gone: commits the rows their journals hold beyond
/// the committed ones, then marks the run as its journal says it ended, or `interrupted`.
///
/// Recovery is incremental: rows go in transactions of `recoveryRowsPerTransaction`, so other
/// writers wait a moment at most, memory stays bounded (the journal is mapped, not read), and a
/// recovery that is itself killed resumes where it stopped (the committed rows are counted again).
/// Between two transactions it leaves the lock free for as long as the last one held it: SQLite's
/// lock is not fair, and a waiter that polls (its busy handler sleeps up to 100 ms between tries)
/// would otherwise miss the short gaps between back-to-back transactions for a second or more.
/// The journal's lock keeps a second recovery, and a live writer, out. The journal is deleted only
/// after the run's row is final; one left behind by a kill between the two is found by the
/// directory sweep, holds nothing uncommitted, and is deleted then.
extension ExperimentStore {
    static let recoveryRowsPerTransaction = 10_000

    /// Marks `running` runs of this host whose writer is gone as `interrupted` (or as their journal
    /// says they ended), after committing what their journals hold; returns how many runs it ended.
    @discardableResult
    public func markInterruptedRuns() throws -> Int {
        let host = ProcessInfo.processInfo.hostName
        let running = try read { db in
            try RunRecord.fetchAll(db, sql: "SELECT * FROM runs WHERE status = 'running' AND host = ?", arguments: [host])
        }
        var ended = 0
        var seen = Set<Int64>()
        for run in running {
            let id = run.id!
            seen.insert(id)
            let journal = MetricJournal.path(store: canonicalPath, runID: id)
            let processGone = run.pid.map { !Self.processIsAlive($0) } ?? false
            var info = stat()
            if lstat(journal, &info) == 0 {
                do {
                    // Locked: its writer is alive, or another process is recovering it.
                    guard let reader = try MetricJournal.Reader(path: journal, lock: true) else { continue }
                    if try recover(run, from: reader) { ended += 1 }
                    continue
                } catch let failure as StoreError {
                    guard processGone else { continue }
                    if try end(run, error: "process \(run.pid!) on \(host) ended before the run finished; its metrics journal was not recovered: \(failure)") {
                        ended += 1
                    }
                }
            } else if processGone {
                if try end(run, error: "process \(run.pid!) on \(host) ended before the run finished") { ended += 1 }
            }
        }
        for (id, journal) in journalsBesideStore() where !seen.contains(id) {
            guard let run = try self.run(id), run.status != .running,
                  let reader = try? MetricJournal.Reader(path: journal, lock: true) else { continue }
            _ = try recover(run, from: reader)
        }
        return ended
    }

    /// Commits the journal's uncommitted rows in bounded transactions, ends the run if it is still
    /// `running`, and deletes the journal. Returns whether it ended the run.
    private func recover(_ run: RunRecord, from reader: MetricJournal.Reader) throws -> Bool {
        let id = run.id!
        let committed = try read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM metrics WHERE run_id = ?", arguments: [id]) ?? 0
        }
        var index = 0, recovered = 0
        var chunk: [MetricWriter.Sample] = []
        var runEnd: RunEnd?
        var lastTime: Double?
        try reader.forEach { entry in
            switch entry {
            case .row(let sample):
                lastTime = sample.time
                if index >= committed { chunk.append(sample) }
                index += 1
                if chunk.count == Self.recoveryRowsPerTransaction {
                    let start = ContinuousClock.now
                    try record(metrics: MetricWriter.records(chunk, runID: id))
                    recovered += chunk.count
                    chunk.removeAll(keepingCapacity: true)
                    Thread.sleep(forTimeInterval: max(0.01, (ContinuousClock.now - start) / .seconds(1)))
                }
            case .end(let e):
                runEnd = e
            }
        }
        let remaining = chunk
        recovered += remaining.count
        let host = ProcessInfo.processInfo.hostName
        let note = "its last \(recovered) metric rows were recovered from \(reader.path)"
        let endedRun = try write { db -> Bool in
            try Self.insert(MetricWriter.records(remaining, runID: id), db)
            let (status, error, time): (RunRecord.Status, String?, Double?)
            if let runEnd {
                let parts = [runEnd.error, recovered > 0 ? note : nil].compactMap { $0 }
                (status, error, time) = (runEnd.status, parts.isEmpty ? nil : parts.joined(separator: "; "), runEnd.time)
            } else {
                let pid = run.pid.map { "process \($0)" } ?? "its process"
                (status, error, time) = (.interrupted, "\(pid) on \(host) ended before the run finished" + (recovered > 0 ? "; \(note)" : ""), lastTime)
            }
            let endedAt = try time.map { Timestamp.string(Date(timeIntervalSince1970: $0)) }
                ?? String.fetchOne(db, sql: "SELECT MAX(recorded_at) FROM metrics WHERE run_id = ?", arguments: [id])
                ?? Timestamp.now()
            try db.execute(sql: "UPDATE runs SET status = ?, ended_at = ?, error = ? WHERE id = ? AND status = 'running'",
                           arguments: [status.rawValue, endedAt, error, id])
            return db.changesCount > 0
        }
        unlink(reader.path)
        return endedRun
    }

    /// Marks a run without a readable journal interrupted, unless it ended meanwhile; it ended when
    /// its last metric row was written (its last sign of life), not when it was found dead.
    private func end(_ run: RunRecord, error: String) throws -> Bool {
        try write { db in
            let lastRow = try String.fetchOne(db, sql: "SELECT MAX(recorded_at) FROM metrics WHERE run_id = ?", arguments: [run.id])
            try db.execute(sql: "UPDATE runs SET status = 'interrupted', ended_at = ?, error = ? WHERE id = ? AND status = 'running'",
                           arguments: [lastRow ?? Timestamp.now(), error, run.id])
            return db.changesCount > 0
        }
    }

    /// The journals in the store's folder: run id → path.
    func journalsBesideStore() -> [(Int64, String)] {
        let url = URL(fileURLWithPath: canonicalPath)
        let folder = url.deletingLastPathComponent().path
        let prefix = url.lastPathComponent + ".run-", suffix = ".metrics"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return [] }
        return names.compactMap { name in
            guard name.hasPrefix(prefix), name.hasSuffix(suffix),
                  let id = Int64(name.dropFirst(prefix.count).dropLast(suffix.count)) else { return nil }
            return (id, folder + "/" + name)
        }.sorted { $0.0 < $1.0 }
    }

    static func processIsAlive(_ pid: Int32) -> Bool {
        kill(pid, 0) == 0 || errno == EPERM
    }
}
