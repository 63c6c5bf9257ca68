import ExperimentStore
import Foundation
import Testing

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
            let processes = try (0..<4).map { _ in try Self.launch(["runs", "list", "--db", db]) }
            for p in processes { p.waitUntilExit() }
            #expect(processes.map(\.terminationStatus) == [0, 0, 0, 0], "round \(round)")
            #expect(try ExperimentStore(path: db).runSummaries().isEmpty)
        }
    }

    @Test func aKilledRunIsMarkedInterruptedAndTheFileStaysReadable() throws {
        let files = try TestFiles()
        let db = files.path("killed.sqlite")
        let p = try Self.launch(["train", "--dataset", "blobs", "--samples", "20000", "--epochs", "100000", "--log-every", "1", "--db", db])
        // Wait until some steps are committed.
        let deadline = Date().addingTimeInterval(60)
        var committed = 0
        while committed < 50, Date() < deadline {
            Thread.sleep(forTimeInterval: 0.1)
            if FileManager.default.fileExists(atPath: db), let store = try? ExperimentStore(path: db), let run = try? store.runSummaries().first {
                committed = (try? store.metrics(run.id, key: "step_loss").count) ?? 0
            }
        }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        #expect(p.terminationReason == .uncaughtSignal)
        let store = try ExperimentStore(path: db)
        let run = try #require(try store.runSummaries().first)
        #expect(run.status == "interrupted")
        #expect(try store.metrics(run.id, key: "step_loss").count >= committed)
        #expect(try store.query("PRAGMA integrity_check").first?["integrity_check"] == "ok")
    }
}
