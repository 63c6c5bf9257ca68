import ExperimentStore
import Foundation
import SoftmaxLabCLI
import Testing
import TestSupport

@Suite struct TrainAndRunsCommandTests {
    struct TrainOutput: Decodable {
        struct Final: Decodable { var epoch: Int; var trainAccuracy: Double; var validationAccuracy: Double?; var trainLoss: Double }
        var runID: Int64?
        var trainRows: Int
        var validationRows: Int
        var steps: Int
        var final: Final
    }

    func train(_ args: [String]) throws -> (CommandRunner.Result, TrainOutput?) {
        let r = CommandRunner.run(["train", "--json"] + args)
        return (r, r.exitCode == 0 ? try JSONDecoder().decode(TrainOutput.self, from: Data(r.standardOutput.utf8)) : nil)
    }

    /// Every backend this machine has: swift, and opencl where a device exists (CI: PoCL).
    static let backendNames = ["swift"] + (TestBackends.openCLDevices.isEmpty ? [] : ["opencl"])

    @Test(arguments: backendNames)
    func blobsTrainsOnEveryBackend(_ backend: String) throws {
        let (r, out) = try train(["--dataset", "blobs", "--samples", "600", "--features", "4", "--classes", "3", "--epochs", "10",
                                  "--backend", backend, "--no-record"])
        #expect(r.exitCode == 0, "\(r.standardError)")
        #expect(out!.final.validationAccuracy! >= 0.9, "\(backend): \(out!.final.validationAccuracy!)")
    }

    @Test(arguments: backendNames)
    func digitsEndToEndIsRecorded(_ backend: String) throws {
        let files = try TestFiles()
        let db = files.path("runs.sqlite")
        let (r, out) = try train(["--dataset", "digits", "--backend", backend, "--db", db, "--log-every", "10", "--name", "digits-e2e"])
        #expect(r.exitCode == 0, "\(r.standardError)")
        let o = try #require(out)
        #expect(o.final.validationAccuracy! >= 0.95, "validation accuracy \(o.final.validationAccuracy!)")
        #expect(o.trainRows + o.validationRows == 1797)
        let store = try ExperimentStore(path: db)
        let run = try #require(try store.run(o.runID!))
        #expect(run.status == .finished && run.kind == .train && run.name == "digits-e2e" && run.backend == backend)
        #expect(run.commandLine.contains("--name digits-e2e") && run.pid == getpid() && run.endedAt != nil)
        #expect(try store.metrics(o.runID!, key: "val_acc").count == o.final.epoch)
        #expect(try store.metrics(o.runID!, key: "step_loss").count == o.steps / 10)
        let params = Dictionary(uniqueKeysWithValues: try store.params(o.runID!).map { ($0.key, $0.value) })
        #expect(params["dataset"] == "digits" && params["logEvery"] == "10" && params["learningRate"] == "0.1")
        #expect(try store.device(run.deviceId!)?.backend == backend)
    }

    @Test func blobsAndACsvFileTrain() throws {
        let files = try TestFiles()
        let (r, out) = try train(["--dataset", "blobs", "--samples", "400", "--features", "3", "--classes", "4", "--no-record"])
        #expect(r.exitCode == 0, "\(r.standardError)")
        #expect(out!.final.validationAccuracy! >= 0.9)
        #expect(out!.runID == nil)
        var csv = "x1,x2,kind\n"
        for i in 0..<200 { csv += i % 2 == 0 ? "\(Double(i % 7) * 0.1),1.5,up\n" : "\(Double(i % 5) * 0.1),-1.5,down\n" }
        let path = try files.text("points.csv", csv)
        let (r2, out2) = try train(["--dataset", path, "--no-record", "--epochs", "5"])
        #expect(r2.exitCode == 0, "\(r2.standardError)")
        #expect(out2!.final.trainAccuracy == 1)
    }

    @Test(arguments: [
        (["--dataset", "mnist"], "--dataset mnist is not one of digits, iris, blobs, spiral"),
        (["--lr=-1"], "--lr must be a positive number, got -1.0"),
        (["--batch-size=-3"], "--batch-size must be 0 (full batch) or positive, got -3"),
        (["--val-fraction", "1"], "--val-fraction must be in [0, 1), got 1.0"),
        (["--momentum", "1"], "--momentum must be in [0, 1), got 1.0"),
        (["--init", "ones"], "The value 'ones' is invalid for '--init <init>'"),
        (["--dataset", "blobs", "--classes", "1"], "--classes must be at least 2, got 1"),
        (["--dataset", "/no/such/file.csv"], "/no/such/file.csv: cannot read the file"),
    ])
    func badTrainingInputIsOneSentence(_ args: [String], _ message: String) throws {
        let r = CommandRunner.run(["train", "--no-record"] + args)
        #expect(r.exitCode != 0)
        #expect(r.standardError.contains(message), "stderr: \(r.standardError)")
    }

    @Test func badCsvRowNamesFileAndLine() throws {
        let files = try TestFiles()
        let path = try files.text("bad.csv", "1,2,0\n3,4,1\n5,oops,0\n")
        let r = CommandRunner.run(["train", "--no-record", "--dataset", path])
        #expect(r.exitCode != 0)
        #expect(r.standardError.contains("bad.csv line 3, field 2: 'oops' is not a finite number"), "\(r.standardError)")
    }

    @Test func aStoreThatIsNotSQLiteIsRefusedAndKept() throws {
        let files = try TestFiles()
        let path = try files.text("notes.sqlite", "my precious notes\n")
        let r = CommandRunner.run(["train", "--dataset", "iris", "--db", path])
        #expect(r.exitCode != 0)
        #expect(r.standardError.contains("notes.sqlite is not a SQLite database or is corrupt"), "\(r.standardError)")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "my precious notes\n")
    }

    @Test func runsListShowCompareExport() throws {
        let files = try TestFiles()
        let db = files.path("r.sqlite")
        let (_, a) = try train(["--dataset", "iris", "--db", db, "--epochs", "5", "--name", "first"])
        let (_, b) = try train(["--dataset", "iris", "--db", db, "--epochs", "5", "--lr", "0.3"])
        let (ida, idb) = (a!.runID!, b!.runID!)

        let list = CommandRunner.run(["runs", "list", "--db", db])
        #expect(list.exitCode == 0)
        #expect(list.standardOutput.contains("first") && list.standardOutput.contains("finished"))
        #expect(list.standardOutput.split(separator: "\n").count == 4, "header, rule, two runs:\n\(list.standardOutput)")

        let show = CommandRunner.run(["runs", "show", "\(idb)", "--db", db])
        #expect(show.exitCode == 0)
        #expect(show.standardOutput.contains("learningRate = 0.3") && show.standardOutput.contains("val_acc"))

        let compare = CommandRunner.run(["runs", "compare", "\(ida)", "\(idb)", "--db", db])
        #expect(compare.exitCode == 0)
        let differing = compare.standardOutput.split(separator: "\n").filter { $0.hasPrefix("*") }
        #expect(differing.count == 1 && differing[0].contains("learningRate"), "\(compare.standardOutput)")
        #expect(compare.standardOutput.contains("val_acc by epoch"))

        let csv = CommandRunner.run(["runs", "export", "\(ida)", "--db", db])
        let lines = csv.standardOutput.split(separator: "\n")
        #expect(lines.first == "run_id,key,step,epoch,value,recorded_at")
        #expect(lines.count == 1 + 5 * 6, "6 metrics per epoch (train/val loss and accuracy, lr, elapsed)")
        let json = CommandRunner.run(["runs", "export", "\(ida)", "--db", db, "--format", "json"])
        let object = try JSONSerialization.jsonObject(with: Data(json.standardOutput.utf8)) as? [String: Any]
        #expect((object?["metrics"] as? [Any])?.count == 30)

        let missing = CommandRunner.run(["runs", "show", "99", "--db", db])
        #expect(missing.exitCode != 0 && missing.standardError.contains("run 99 is not in"))
        #expect(CommandRunner.run(["runs", "compare", "\(ida)", "--db", db]).standardError.contains("give at least two run ids"))
    }

    /// The README's example queries, as written, return rows on a store with train and bench runs.
    @Test func readmeQueriesRunAndReturnRows() throws {
        let files = try TestFiles()
        let db = files.path("readme.sqlite")
        #expect(try train(["--dataset", "digits", "--db", db, "--epochs", "5"]).0.exitCode == 0)
        #expect(try train(["--dataset", "digits", "--db", db, "--epochs", "5", "--lr", "0.2"]).0.exitCode == 0)
        #expect(CommandRunner.run(["bench", "--db", db, "--shapes", "64x10", "--features", "8", "--repeat", "2"]).exitCode == 0)
        #expect(CommandRunner.run(["bench", "--db", db, "--op", "linear-xent", "--backend", "swift", "--shapes", "16x8x100", "--repeat", "2"]).exitCode == 0)
        #expect(CommandRunner.run(["tune", "--db", db, "--backend", "swift", "--shapes", "64x10", "--repeat", "2", "--warmup", "0"]).exitCode == 0)
        let readme = try String(contentsOf: packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let queries = readme.split(separator: "\n").compactMap { line -> String? in
            guard let range = line.range(of: "sqlite3 softmax-lab.sqlite \"") else { return nil }
            return String(line[range.upperBound...].dropLast())
        }
        #expect(queries.count >= 5, "README has \(queries.count) sqlite3 examples")
        let store = try ExperimentStore(path: db)
        for query in queries {
            let rows = try store.query(query)
            #expect(!rows.isEmpty, "no rows from README query: \(query)")
        }
    }
}

let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
