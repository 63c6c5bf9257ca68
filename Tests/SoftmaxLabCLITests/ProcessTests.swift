import ExperimentStore
import Foundation
import GRDB
import Testing
import TestSupport

/// The store across real processes: the `softmax-lab` binary that `swift test` builds beside the tests.
@Suite(.serialized) struct ProcessTests {
    static func binary() throws -> URL {
        let candidates = ["release", "debug"].map { packageRoot.appendingPathComponent(".build/\($0)/softmax-lab") }
            .filter { FileManager.default.isExecutableFile(atPath: $0.path) }
        let newest = candidates.max { a, b in
            let date = { (u: URL) in (try? FileManager.default.attributesOfItem(atPath: u.path)[.modificationDate] as? Date) ?? .distantPast }
            return date(a) < date(b)
        }
        return try #require(newest, "build softmax-lab first (swift build), it was not found under .build/")
    }

    static func launch(_ args: [String]) throws -> Process {
        let p = Process()
        p.executableURL = try binary()
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p
    }

    /// Runs to the end; returns the exit status and what it printed on stderr.
    static func run(_ args: [String], executable: String? = nil) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = try executable.map { URL(fileURLWithPath: $0) } ?? binary()
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        let pipe = Pipe()
        p.standardError = pipe
        try p.run()
        let stderr = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: stderr, as: UTF8.self))
    }

    @Test func twoProcessesWritingOneFileLoseNothing() throws {
        let files = try TestFiles()
        let db = files.path("shared.sqlite")
        // Every step logged: hundreds of small commits from each process, interleaved.
        let args = ["train", "--dataset", "blobs", "--samples", "2000", "--epochs", "15", "--batch-size", "16", "--log-every", "1", "--db", db]
        let processes = try [Self.launch(args + ["--name", "a"]), Self.launch(args + ["--name", "b", "--seed", "1"])]
        for p in processes { p.waitUntilExit() }
        #expect(processes.allSatisfy { $0.terminationStatus == 0 }, "\(processes.map { $0.terminationStatus })")
        let store = try ExperimentStore(path: db)
        let runs = try store.runSummaries()
        #expect(runs.count == 2 && runs.allSatisfy { $0.status == "finished" })
        for run in runs {
            // 1600 training rows / 16 = 100 steps per epoch.
            #expect(try store.metrics(run.id, key: "step_loss").count == 1500)
            #expect(try store.metrics(run.id, key: "train_loss").count == 15)
        }
    }

    @Test func processesCreatingOneNewFileAtOnceAllSucceed() throws {
        for round in 0..<3 {
            let files = try TestFiles()
            let db = files.path("new-\(round).sqlite")
            // `runs list` no longer creates a store, so the creators are short training runs.
            let processes = try (0..<4).map { _ in try Self.launch(["train", "--dataset", "iris", "--epochs", "1", "--db", db]) }
            for p in processes { p.waitUntilExit() }
            #expect(processes.map(\.terminationStatus) == [0, 0, 0, 0], "round \(round)")
            #expect(try ExperimentStore(path: db).runSummaries().count == 4)
        }
    }

    /// SIGKILL mid-run loses at most the row in flight: the process is first frozen (SIGSTOP) to
    /// count the rows its journal holds, then killed; the next open must have committed exactly
    /// those, steps without a gap, and the file must pass an integrity check.
    @Test func aKilledRunIsMarkedInterruptedAndLosesNoJournaledRow() throws {
        let files = try TestFiles()
        let db = files.path("killed.sqlite")
        let p = try Self.launch(["train", "--dataset", "blobs", "--samples", "20000", "--epochs", "100000", "--log-every", "1", "--db", db])
        // Wait until some steps are committed.
        let deadline = Date().addingTimeInterval(60)
        var committed = 0
        var runID: Int64?
        while committed < 50, Date() < deadline {
            Thread.sleep(forTimeInterval: 0.1)
            if FileManager.default.fileExists(atPath: db), let store = try? ExperimentStore(path: db), let run = try? store.runSummaries().first {
                runID = run.id
                committed = (try? store.metrics(run.id, key: "step_loss").count) ?? 0
            }
        }
        let run = try #require(runID)
        kill(p.processIdentifier, SIGSTOP)
        // Read-only: the frozen process may hold the write lock, which a store's open would wait for.
        let committedAtStop = try ReadOnlyDatabase.count(db, "SELECT COUNT(*) FROM metrics WHERE run_id = ?", arguments: [run])
        let journaled = try MetricJournal.rows(atPath: MetricJournal.path(store: ExperimentStore.canonical(db), runID: run))
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        #expect(p.terminationReason == .uncaughtSignal)
        #expect(journaled.count >= committedAtStop && committedAtStop >= committed)

        let store = try ExperimentStore(path: db)
        let summary = try #require(try store.runSummaries().first)
        #expect(summary.status == "interrupted")
        let rows = try store.metrics(run)
        #expect(rows.count == journaled.count, "committed \(committedAtStop) before the kill, journaled \(journaled.count)")
        let steps = try store.metrics(run, key: "step_loss").compactMap(\.step)
        #expect(steps == Array((steps.first ?? 0)..<((steps.first ?? 0) + steps.count)), "step_loss steps have a gap")
        #expect(try store.query("PRAGMA integrity_check").first?["integrity_check"] == "ok")
    }
}
