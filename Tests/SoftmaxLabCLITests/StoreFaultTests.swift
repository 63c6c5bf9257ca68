import ExperimentStore
import Foundation
import GRDB
import Testing
import TestSupport

/// The store under faults, with real processes: a lock held by another process for longer than
/// SQLite's busy timeout, a recovery killed midway, a link where a journal goes, a file-size limit
/// standing for a full disk.
@Suite(.serialized) struct StoreFaultTests {
    /// Reads through a read-only connection: it never takes a writer's lock.
    static func count(_ db: String, _ sql: String) throws -> Int {
        try ReadOnlyDatabase.count(db, sql)
    }

    static func waitFor(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return condition()
    }

    /// `runs merge` into a new file builds it under a temporary name and links it in place when
    /// whole: killed midway, it leaves no target (or, if it got that far, a complete one), and the
    /// next merge makes the whole store.
    @Test func aMergeIntoANewFileKilledMidwayLeavesNoHalfStore() throws {
        let files = try TestFiles()
        let source = files.path("source.sqlite")
        let store = try ExperimentStore(path: source)
        for r in 0..<20 {
            let id = try store.beginRun(RunRecord(uuid: UUID().uuidString, kind: .train, name: "r\(r)", status: .running, startedAt: Timestamp.now(),
                                                  deviceId: nil, backend: "swift", config: "{}", seed: Int64(r), gitCommit: nil, host: "h", pid: nil,
                                                  toolVersion: "test", commandLine: "softmax-lab train"), params: [:])
            try store.record(metrics: (0..<20_000).map { MetricRecord(runId: id, key: "step_loss", step: $0, epoch: 0, value: Double($0)) })
            try store.finishRun(id, status: .finished)
        }
        let target = files.path("team.sqlite")
        let merge = try ProcessTests.launch(["runs", "merge", source, "--into", target])
        let folder = URL(fileURLWithPath: target).deletingLastPathComponent().path
        let building = Self.waitFor(30) {
            ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).contains { $0.contains(".merging-") } || !merge.isRunning
        }
        kill(merge.processIdentifier, SIGKILL)
        merge.waitUntilExit()
        #expect(building && merge.terminationReason == .uncaughtSignal, "the merge ended before it could be killed")
        if FileManager.default.fileExists(atPath: target) {
            #expect(try Self.count(target, "SELECT COUNT(*) FROM metrics") == 400_000, "a killed merge left a partial target")
        }
        let (status, stderr) = try ProcessTests.run(["runs", "merge", source, "--into", target])
        #expect(status == 0, "\(stderr)")
        #expect(try Self.count(target, "SELECT COUNT(*) FROM runs") == 20)
        #expect(try Self.count(target, "SELECT COUNT(*) FROM metrics") == 400_000)
    }

    /// The lock is taken mid-run and held for 30 s (twice SQLite's busy timeout); training ends
    /// meanwhile and the process waits for the lock rather than failing. Every row arrives.
    @Test func aWriteLockHeldForThirtySecondsMidRunLosesNothing() throws {
        let files = try TestFiles()
        let db = files.path("locked.sqlite")
        let epochs = 3000
        let p = try ProcessTests.launch(["train", "--dataset", "blobs", "--samples", "2000", "--batch-size", "16", "--epochs", "\(epochs)",
                                         "--log-every", "10", "--db", db])
        #expect(Self.waitFor(60) { ((try? Self.count(db, "SELECT COUNT(*) FROM metrics")) ?? 0) > 100 }, "the run never committed")
        let lock = try LockHolder(path: db)
        Thread.sleep(forTimeInterval: 30)
        #expect(p.isRunning, "the run gave up while the lock was held")
        lock.unlock()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let store = try ExperimentStore(path: db)
        let run = try #require(try store.runSummaries().first)
        #expect(run.status == "finished")
        // 1600 training rows / 16 = 100 steps an epoch; steps 0, 10, 20, … logged.
        #expect(try store.metrics(run.id, key: "step_loss").count == epochs * 100 / 10)
        #expect(try store.metrics(run.id, key: "train_loss").count == epochs)
        #expect(!FileManager.default.fileExists(atPath: MetricJournal.path(store: store.canonicalPath, runID: run.id)))
    }

    /// A run killed with hundreds of thousands of rows journaled but not committed (the lock was
    /// held), then the recovery itself killed midway: the next open finishes it, with every journaled
    /// row exactly once and the journal gone.
    @Test func aRecoveryKilledMidwayResumesWithoutLossOrDuplicates() throws {
        let files = try TestFiles()
        let db = files.path("recover.sqlite")
        let p = try ProcessTests.launch(["train", "--dataset", "blobs", "--samples", "20000", "--epochs", "100000", "--log-every", "1", "--db", db])
        #expect(Self.waitFor(60) { ((try? Self.count(db, "SELECT COUNT(*) FROM metrics")) ?? 0) > 50 }, "the run never committed")
        let lock = try LockHolder(path: db)
        let journal = MetricJournal.path(store: ExperimentStore.canonical(db), runID: 1)
        #expect(Self.waitFor(30) { ((try? MetricJournal.rows(atPath: journal).count) ?? 0) > 300_000 })
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        lock.unlock()
        let journaled = try MetricJournal.rows(atPath: journal).count
        let committedBefore = try Self.count(db, "SELECT COUNT(*) FROM metrics")
        #expect(journaled > committedBefore + 100_000, "journaled \(journaled), committed \(committedBefore)")

        // Recovery runs on the next open; kill it once it has committed part of the journal.
        let recovery = try ProcessTests.launch(["runs", "list", "--db", db])
        let started = Self.waitFor(30) { ((try? Self.count(db, "SELECT COUNT(*) FROM metrics")) ?? 0) > committedBefore }
        kill(recovery.processIdentifier, SIGKILL)
        recovery.waitUntilExit()
        let committedMidway = try Self.count(db, "SELECT COUNT(*) FROM metrics")
        #expect(started && committedMidway < journaled, "the recovery was not caught midway: \(committedMidway) of \(journaled)")

        let store = try ExperimentStore(path: db)
        let summary = try #require(try store.runSummaries().first)
        #expect(summary.status == "interrupted")
        #expect(try Self.count(db, "SELECT COUNT(*) FROM metrics") == journaled)
        let steps = try store.metrics(summary.id, key: "step_loss").compactMap(\.step)
        #expect(steps == Array((steps.first ?? 0)..<((steps.first ?? 0) + steps.count)), "step_loss steps have a gap or a duplicate")
        #expect(!FileManager.default.fileExists(atPath: journal))
        #expect(try store.query("PRAGMA integrity_check").first?["integrity_check"] == "ok")
    }

    /// A link planted where the next run's journal goes: the run is refused with a sentence and the
    /// file behind the link keeps its bytes.
    @Test func aLinkInTheJournalsPlaceIsNotFollowed() throws {
        let files = try TestFiles()
        let db = files.path("s.sqlite")
        let precious = try files.text("precious.txt", "keep me\n")
        try FileManager.default.createSymbolicLink(atPath: db + ".run-1.metrics", withDestinationPath: precious)
        let (status, stderr) = try ProcessTests.run(["train", "--dataset", "iris", "--db", db])
        #expect(status != 0)
        #expect(stderr.contains("is a symbolic link where the run's metrics journal goes"), "\(stderr)")
        #expect(try String(contentsOfFile: precious, encoding: .utf8) == "keep me\n")
        #expect(try ExperimentStore(path: db).run(1)?.status == .failed)
    }

    /// A file-size limit (what a full disk looks like to a process): the run stops with the real
    /// reason, naming the file, and the store says so once it can be written again.
    @Test func aFullDiskEndsTheRunWithItsRealReason() throws {
        let files = try TestFiles()
        let db = files.path("full.sqlite")
        let binary = try ProcessTests.binary().path
        let (status, stderr) = try ProcessTests.run(["-c", "trap '' XFSZ; ulimit -f 3072; exec \"$0\" \"$@\"", binary,
                                                     "train", "--dataset", "blobs", "--samples", "20000", "--epochs", "100000",
                                                     "--log-every", "1", "--db", db], executable: "/bin/sh")
        #expect(status == 1, "\(stderr)")
        #expect(stderr.contains(db) || stderr.contains("full.sqlite"), "the sentence names no file: \(stderr)")
        #expect(stderr.split(separator: "\n").count <= 3, "more than a sentence: \(stderr)")
        let store = try ExperimentStore(path: db)
        let run = try #require(try store.run(1))
        #expect(run.status == .failed, "\(run.status)")
        #expect(run.error?.contains("full") == true || run.error?.contains("too large") == true, "\(run.error ?? "no error")")
    }
}
