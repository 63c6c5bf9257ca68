import ExperimentStore
import Foundation
import GRDB
import Testing
import TestSupport

/// What the store must never do: change a file that is not its own, create a store where only
/// reading was asked for, write through a link, lose or double-count journaled rows.
@Suite struct StoreSafetyTests {
    func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    @Test func anotherProgramsDatabaseIsRefusedUntouched() throws {
        let t = try TemporaryStore()
        // A database with its own `runs` table, in rollback-journal mode.
        try DatabaseQueue(path: t.path).write { db in
            try db.execute(sql: "CREATE TABLE runs (id INTEGER PRIMARY KEY, what TEXT); INSERT INTO runs (what) VALUES ('theirs')")
        }
        let before = try bytes(t.path)
        let error = #expect(throws: StoreError.self) { try ExperimentStore(path: t.path) }
        #expect(error?.description.contains("another program's SQLite database (its tables: runs)") == true, "\(error?.description ?? "")")
        #expect(try bytes(t.path) == before, "the file changed")
        #expect(!FileManager.default.fileExists(atPath: t.path + "-wal"))
    }

    @Test func aTextFileIsRefusedUntouched() throws {
        let t = try TemporaryStore()
        try "not a database\n".write(toFile: t.path, atomically: true, encoding: .utf8)
        let error = #expect(throws: StoreError.self) { try ExperimentStore(path: t.path) }
        #expect(error?.description.contains("is not a SQLite database") == true)
        #expect(try String(contentsOfFile: t.path, encoding: .utf8) == "not a database\n")
    }

    @Test func anEmptyFileBecomesAStore() throws {
        let t = try TemporaryStore()
        #expect(FileManager.default.createFile(atPath: t.path, contents: Data()))
        _ = try ExperimentStore(path: t.path)
        #expect(try ExperimentStore(path: t.path, mode: .existingOnly).runSummaries().isEmpty)
    }

    @Test func readingDoesNotCreateAStore() throws {
        let t = try TemporaryStore()
        let error = #expect(throws: StoreError.self) { try ExperimentStore(path: t.path, mode: .existingOnly) }
        #expect(error?.description.contains("does not exist") == true)
        #expect(!FileManager.default.fileExists(atPath: t.path))
    }

    @Test func aLinkWhereTheJournalGoesIsNeverWrittenThrough() throws {
        let t = try TemporaryStore()
        let store = try ExperimentStore(path: t.path)
        let run = try store.beginRun(sampleRun(), params: [:])
        let precious = t.folder.appendingPathComponent("precious.txt").path
        try "keep me\n".write(toFile: precious, atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: MetricJournal.path(store: store.canonicalPath, runID: run), withDestinationPath: precious)
        let error = #expect(throws: StoreError.self) { try MetricWriter(store: store, runID: run) }
        #expect(error?.description.contains("is a symbolic link") == true)
        #expect(try String(contentsOfFile: precious, encoding: .utf8) == "keep me\n")
        // Nor does recovery follow it: the link stays, the file behind it too.
        _ = try ExperimentStore(path: t.path)
        #expect(try String(contentsOfFile: precious, encoding: .utf8) == "keep me\n")
    }

    /// A journal larger than one recovery transaction: every row arrives once, in order, even when
    /// part of it had been committed by an earlier recovery that was killed (simulated here by
    /// committing its first chunk by hand), and the journal is gone afterwards.
    @Test func recoveryIsIncrementalAndResumesWithoutDoubleCounting() throws {
        let t = try TemporaryStore()
        let count = 2 * 20_000 + 1234
        let rows = (0..<count).map { MetricWriter.Sample(key: "step_loss", step: $0, epoch: 0, value: Double($0), time: 1_795_900_000 + Double($0) / 1000) }
        let (run, journalPath) = try journaledRun(t, rows: rows, committed: 25_000, pid: try endedProcessID())
        let reopened = try ExperimentStore(path: t.path)
        let steps = try reopened.metrics(run, key: "step_loss").compactMap(\.step)
        #expect(steps == Array(0..<count))
        #expect(try reopened.run(run)?.error?.contains("its last \(count - 25_000) metric rows were recovered") == true)
        #expect(!FileManager.default.fileExists(atPath: journalPath))
    }

    /// A journal left by a process killed after the run's row became final but before the delete:
    /// found by the sweep, nothing inserted twice, deleted.
    @Test func aJournalLeftAfterTheRunEndedIsDeletedWithoutDoubleCounting() throws {
        let t = try TemporaryStore()
        let rows = (0..<10).map { MetricWriter.Sample(key: "train_loss", step: $0, epoch: $0, value: 1, time: 1_795_900_000) }
        let (run, journalPath) = try journaledRun(t, rows: rows, committed: rows.count, pid: getpid(), finished: true)
        let reopened = try ExperimentStore(path: t.path)
        #expect(try reopened.metrics(run).count == 10)
        #expect(try reopened.run(run)?.status == .finished)
        #expect(!FileManager.default.fileExists(atPath: journalPath))
    }

    /// A live writer's journal is locked: another open neither recovers it nor ends its run.
    @Test func aLiveWritersJournalIsLeftAlone() throws {
        let t = try TemporaryStore()
        let store = try ExperimentStore(path: t.path)
        // A pid that is gone, as after pid reuse in reverse: the lock, not the pid, decides.
        let run = try store.beginRun(sampleRun(pid: try endedProcessID()), params: [:])
        let writer = try MetricWriter(store: store, runID: run)
        try writer.append(.init(key: "train_loss", step: 1, epoch: 1, value: 0.5))
        try writer.flush()
        let other = try ExperimentStore(path: t.path)
        #expect(try other.run(run)?.status == .running)
        try writer.finish(RunEnd(status: .finished, error: nil))
        #expect(try other.run(run)?.status == .finished)
        #expect(try other.metrics(run).count == 1)
    }

    /// Another process holds the write lock past the writer's patience: the writer keeps its rows
    /// and the run's end in the journal, says so, and the next open commits both.
    @Test func aLockHeldPastTheWritersPatienceLosesNothing() throws {
        let t = try TemporaryStore()
        let run: Int64, journalPath: String
        do {
            // A short busy timeout: the writer's attempt in flight ends soon after the lock is given up on.
            let store = try ExperimentStore(path: t.path, busyTimeout: 0.5)
            run = try store.beginRun(sampleRun(), params: [:])
            journalPath = MetricJournal.path(store: store.canonicalPath, runID: run)
            let writer = try MetricWriter(store: store, runID: run)
            try writer.append(.init(key: "train_loss", step: 0, epoch: 0, value: 1))
            try writer.flush()
            let blocker = try LockHolder(path: t.path)
            for i in 1...500 { try writer.append(.init(key: "step_loss", step: i, epoch: 0, value: Double(i))) }
            let error = #expect(throws: StoreError.self) { try writer.finish(RunEnd(status: .finished, error: nil), timeout: .seconds(1)) }
            #expect(error?.description.contains("500 metric rows of run \(run) are not committed yet and wait in \(journalPath)") == true,
                    "\(error?.description ?? "")")
            blocker.unlock()
            #expect(FileManager.default.fileExists(atPath: journalPath))
        }
        let reopened = try ExperimentStore(path: t.path)
        #expect(try reopened.metrics(run, key: "step_loss").compactMap(\.step) == Array(1...500))
        let record = try #require(try reopened.run(run))
        #expect(record.status == .finished, "the journal said how the run ended")
        #expect(record.error?.contains("its last 500 metric rows were recovered") == true, "\(record.error ?? "")")
        #expect(!FileManager.default.fileExists(atPath: journalPath))
    }

    /// A writer whose commits fail for good keeps the journal with the run's end and the reason.
    @Test func aFailedRunsReasonSurvivesAStoreThatCannotBeWritten() throws {
        let t = try TemporaryStore()
        let run: Int64
        do {
            let store = try ExperimentStore(path: t.path, busyTimeout: 0.5)
            run = try store.beginRun(sampleRun(), params: [:])
            let writer = try MetricWriter(store: store, runID: run)
            try writer.append(.init(key: "train_loss", step: 0, epoch: 0, value: 1))
            try writer.flush()
            let blocker = try LockHolder(path: t.path)
            #expect(throws: StoreError.self) {
                try writer.finish(RunEnd(status: .failed, error: "/data/x.sqlite: the disk is full"), timeout: .milliseconds(200))
            }
            blocker.unlock()
        }
        let record = try #require(try ExperimentStore(path: t.path).run(run))
        #expect(record.status == .failed)
        #expect(record.error == "/data/x.sqlite: the disk is full")
    }

    /// The end record and rows survive reading back; a long error is cut to fit the reserve.
    @Test func theRunsEndIsJournaled() throws {
        let t = try TemporaryStore()
        let path = t.path + ".journal"
        let journal = try MetricJournal(path: path)
        try journal.append(.init(key: "k", step: 1, epoch: nil, value: 2, time: 3))
        try journal.appendEnd(RunEnd(status: .failed, error: String(repeating: "é", count: 5000), time: 4))
        var ends: [RunEnd] = []
        var rows = 0
        try #require(try MetricJournal.Reader(path: path, lock: false)).forEach { entry in
            switch entry {
            case .row: rows += 1
            case .end(let e): ends.append(e)
            }
        }
        #expect(rows == 1 && ends.count == 1)
        #expect(ends.first?.status == .failed && ends.first?.time == 4)
        #expect((ends.first?.error?.utf8.count ?? 0) <= 4096 && ends.first?.error?.hasPrefix("éé") == true)
    }
}
