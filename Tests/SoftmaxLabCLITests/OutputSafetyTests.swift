import ExperimentStore
import Foundation
import SoftmaxLabCLI
import Testing

/// Files a command writes never destroy recorded runs, never follow a link, and fail before the work.
@Suite struct OutputSafetyTests {
    /// A store with one short training run.
    static func store(_ files: TestFiles) throws -> String {
        let db = files.path("runs.sqlite")
        let r = CommandRunner.run(["train", "--dataset", "iris", "--epochs", "3", "--db", db])
        #expect(r.exitCode == 0, "\(r.standardError)")
        return db
    }

    @Test func theStoreAndItsFilesAreNeverAnOutput() throws {
        let files = try TestFiles()
        let db = try Self.store(files)
        let before = try Data(contentsOf: URL(fileURLWithPath: db))
        let other = files.path("other.sqlite")
        _ = try ExperimentStore(path: other)
        for (command, target) in [(["runs", "export", "1"], db), (["runs", "export", "1", "--format", "json"], db + "-wal"),
                                  (["report"], db + "-shm"), (["report"], db + ".run-7.metrics"), (["runs", "export", "1"], other),
                                  (["report"], files.path("elsewhere.sqlite.run-3.metrics"))] {
            let r = CommandRunner.run(command + ["--out", target, "--db", db])
            #expect(r.exitCode != 0, "\(command) --out \(target) was accepted")
            #expect(r.standardError.contains("--out \(target)") && r.standardError.contains("choose another file"), "\(r.standardError)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: db)) == before)
        #expect(try ExperimentStore(path: db).runSummaries().count == 1)
    }

    /// `loss` has no store of its own, yet a gradient file cannot land on one (any SQLite file is
    /// refused); a link to a store at that path is replaced by the file, the store untouched.
    @Test func gradientOutputCannotOverwriteAStore() throws {
        let files = try TestFiles()
        let db = try Self.store(files)
        let before = try Data(contentsOf: URL(fileURLWithPath: db))
        let storeNamedNpy = files.path("store.npy")
        try FileManager.default.copyItem(atPath: db, toPath: storeNamedNpy)
        let logits = try files.text("l.csv", "1,2\n3,4\n")
        let labels = try files.text("y.txt", "0\n1\n")
        let refused = CommandRunner.run(["loss", "--logits", logits, "--labels", labels, "--grad-out", storeNamedNpy])
        #expect(refused.exitCode != 0 && refused.standardError.contains("is a SQLite database"), "\(refused.standardError)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: storeNamedNpy)) == before)

        let link = files.path("grad.npy")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: db)
        let r = CommandRunner.run(["loss", "--logits", logits, "--labels", labels, "--grad-out", link])
        #expect(r.exitCode == 0, "\(r.standardError)")
        #expect(try FileManager.default.attributesOfItem(atPath: link)[.type] as? FileAttributeType == .typeRegular)
        #expect(try Data(contentsOf: URL(fileURLWithPath: db)) == before)
    }

    @Test func aLinkAtTheOutputPathIsReplacedNotFollowed() throws {
        let files = try TestFiles()
        let db = try Self.store(files)
        let precious = try files.text("precious.txt", "keep me\n")
        let link = files.path("report.html")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: precious)
        let r = CommandRunner.run(["report", "--out", link, "--db", db])
        #expect(r.exitCode == 0, "\(r.standardError)")
        #expect(try String(contentsOfFile: precious, encoding: .utf8) == "keep me\n")
        let attributes = try FileManager.default.attributesOfItem(atPath: link)
        #expect(attributes[.type] as? FileAttributeType == .typeRegular)
        #expect(try String(contentsOfFile: link, encoding: .utf8).hasPrefix("<!DOCTYPE html>"))
    }

    @Test func anUnwritableOutputFailsBeforeTheWork() throws {
        let files = try TestFiles()
        let missing = files.path("never-created.sqlite")
        let r = CommandRunner.run(["report", "--out", "/nonexistent/r.html", "--db", missing])
        #expect(r.exitCode != 0)
        #expect(r.standardError.contains("--out /nonexistent/r.html: the folder /nonexistent does not exist"), "\(r.standardError)")
        #expect(!FileManager.default.fileExists(atPath: missing))
    }

    @Test func readOnlyCommandsDoNotCreateAStore() throws {
        let files = try TestFiles()
        let typo = files.path("typo.sqlite")
        for command in [["runs", "list"], ["runs", "show", "1"], ["runs", "export", "1"], ["runs", "compare", "1", "2"], ["report", "--out", files.path("r.html")]] {
            let r = CommandRunner.run(command + ["--db", typo])
            #expect(r.exitCode != 0 && r.standardError.contains("typo.sqlite does not exist"), "\(command): \(r.standardError)")
            #expect(!FileManager.default.fileExists(atPath: typo), "\(command) created the store")
        }
    }

    @Test func everyReadingCommandSpeaksJSONAndNaNIsNull() throws {
        let files = try TestFiles()
        let db = try Self.store(files)
        let second = CommandRunner.run(["train", "--dataset", "iris", "--epochs", "3", "--lr", "0.5", "--db", db])
        #expect(second.exitCode == 0)
        let store = try ExperimentStore(path: db)
        try store.record(metrics: [MetricRecord(runId: 1, key: "grad_norm", step: 1, epoch: 1, value: .nan)])
        for command in [["runs", "list"], ["runs", "show", "1"], ["runs", "compare", "1", "2"], ["runs", "export", "1"],
                        ["report", "--out", files.path("r.html")]] {
            let r = CommandRunner.run(command + ["--db", db, "--json"])
            #expect(r.exitCode == 0, "\(command): \(r.standardError)")
            #expect((try? JSONSerialization.jsonObject(with: Data(r.standardOutput.utf8))) != nil, "\(command) printed no JSON: \(r.standardOutput)")
        }
        // The mean over no rows is NaN (as in PyTorch): JSON has no NaN, so it is null.
        let logits = try files.text("l.csv", "1,2\n3,4\n")
        let labels = try files.text("y.txt", "-100\n-100\n")
        let loss = CommandRunner.run(["loss", "--logits", logits, "--labels", labels, "--json"])
        #expect(loss.exitCode == 0, "\(loss.standardError)")
        #expect(loss.standardOutput.contains("\"loss\" : null") && !loss.standardOutput.contains("nan"), "\(loss.standardOutput)")
        let compare = try JSONSerialization.jsonObject(with: Data(CommandRunner.run(["runs", "compare", "1", "2", "--db", db, "--json"]).standardOutput.utf8)) as? [String: Any]
        #expect((compare?["differingKeys"] as? [String])?.contains("learningRate") == true, "\(compare ?? [:])")
    }
}
