import ExperimentStore
import Foundation
import SoftmaxLabCLI
import Testing
import TestSupport

/// `runs push` and `runs pull` as processes against the test server.
@Suite(.enabled(if: TestHub.enabled, TestHub.absent), .serialized)
struct HubProcessTests {
    /// 30 finished runs of 20,000 metric rows each, written through the store's API.
    func bigStore(_ path: String) throws -> ExperimentStore {
        let store = try ExperimentStore(path: path)
        for r in 0..<30 {
            let run = RunRecord(uuid: UUID().uuidString, kind: .train, name: "r\(r)", status: .running, startedAt: Timestamp.now(),
                                deviceId: nil, backend: "swift", config: "{}", seed: Int64(r), gitCommit: nil, host: "h", pid: nil,
                                toolVersion: "test", commandLine: "softmax-lab train")
            let id = try store.beginRun(run, params: ["r": "\(r)"])
            try store.record(metrics: (0..<20_000).map { MetricRecord(runId: id, key: "step_loss", step: $0, epoch: $0 / 100, value: 1 / Double($0 + 1)) })
            try store.finishRun(id, status: .finished)
        }
        return store
    }

    @Test func aPushKilledMidwayLeavesWholeRunsAndTheNextPushCompletesIt() throws {
        let hub = try TestHub()
        let files = try TestFiles()
        let db = files.path("big.sqlite")
        _ = try bigStore(db)
        let push = try ProcessTests.launch(["runs", "push", "--to", hub.url, "--db", db])
        // Killed once some runs, not all, are in the hub.
        let deadline = Date().addingTimeInterval(60)
        var seen = 0
        while Date() < deadline, push.isRunning {
            seen = Int((try? hub.psql("SELECT COUNT(*) FROM runs"))?.first ?? "0") ?? 0
            if seen >= 3 { break }
            Thread.sleep(forTimeInterval: 0.005)
        }
        kill(push.processIdentifier, SIGKILL)
        push.waitUntilExit()
        #expect(push.terminationReason == .uncaughtSignal, "the push ended before it could be killed midway (\(seen) runs seen)")
        let runs = Int(try hub.psql("SELECT COUNT(*) FROM runs").first ?? "") ?? -1
        #expect(runs >= 3 && runs < 30, "killed after \(runs) of 30 runs")
        // No half run: every run in the hub has all its rows and its param.
        #expect(try hub.psql("SELECT COUNT(*) FROM runs r WHERE (SELECT COUNT(*) FROM metrics m WHERE m.run_id = r.id) <> 20000 OR NOT EXISTS (SELECT 1 FROM params p WHERE p.run_id = r.id)") == ["0"])
        #expect(try hub.psql("SELECT COUNT(*) FROM metrics") == ["\(runs * 20_000)"])

        let (status, stderr) = try ProcessTests.run(["runs", "push", "--to", hub.url, "--db", db])
        #expect(status == 0, "\(stderr)")
        #expect(try hub.psql("SELECT COUNT(*), (SELECT COUNT(*) FROM metrics) FROM runs") == ["30|600000"])
    }

    @Test func theCommandsPrintOneSentenceAndNeverThePassword() throws {
        let hub = try TestHub()
        let files = try TestFiles()
        let db = files.path("s.sqlite")
        _ = try ExperimentStore(path: db)
        var wrong = URLComponents(string: hub.url)!
        wrong.password = "hunter2"
        let (status, stderr) = try ProcessTests.run(["runs", "push", "--to", wrong.string!, "--db", db])
        #expect(status != 0)
        #expect(stderr.contains("password authentication failed") && !stderr.contains("hunter2"), "\(stderr)")
        #expect(stderr.split(separator: "\n").count == 1, "\(stderr)")
        let (pullStatus, pullError) = try ProcessTests.run(["runs", "pull", "--from", hub.url, "--db", db, "--since", "yesterday"])
        #expect(pullStatus != 0 && pullError.contains("--since yesterday is not a UTC date"), "\(pullError)")
        // The store never holds the hub's address, let alone its password.
        let pushed = try ProcessTests.run(["runs", "push", "--db", db, "--to", hub.url])
        #expect(pushed.0 == 0, "\(pushed.1)")
        let password = try #require(URLComponents(string: hub.url)?.password)
        for file in [db, db + "-wal"] where FileManager.default.fileExists(atPath: file) {
            #expect(try Data(contentsOf: URL(fileURLWithPath: file)).range(of: Data(password.utf8)) == nil, "\(file) holds the password")
        }
    }

    /// The README's psql examples, as written, return rows on a hub pushed from a store with train
    /// and bench runs.
    @Test func readmePsqlQueriesRunOnThePushedHubAndReturnRows() throws {
        let hub = try TestHub()
        let files = try TestFiles()
        let db = files.path("readme.sqlite")
        for lr in ["0.5", "0.2"] {
            #expect(CommandRunner.run(["train", "--dataset", "iris", "--epochs", "5", "--lr", lr, "--db", db]).exitCode == 0)
        }
        #expect(CommandRunner.run(["bench", "--db", db, "--shapes", "64x10", "--features", "8", "--repeat", "2"]).exitCode == 0)
        #expect(CommandRunner.run(["bench", "--db", db, "--op", "linear-xent", "--backend", "swift", "--shapes", "16x8x100", "--repeat", "2"]).exitCode == 0)
        #expect(CommandRunner.run(["tune", "--db", db, "--backend", "swift", "--shapes", "64x10", "--repeat", "2", "--warmup", "0"]).exitCode == 0)
        // One connection: the hub numbers runs as they arrive, and the README's examples name the
        // two training runs 1 and 2, the store's order (two connections race for the first ids).
        let push = CommandRunner.run(["runs", "push", "--to", hub.url, "--db", db, "--connections", "1"])
        #expect(push.exitCode == 0, "\(push.standardError)")
        let readme = try String(contentsOf: packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let queries = readme.split(separator: "\n").compactMap { line -> String? in
            guard let range = line.range(of: "psql \"$SOFTMAXLAB_HUB\" -c \"") else { return nil }
            return String(line[range.upperBound...].dropLast())
        }
        #expect(queries.count >= 6, "README has \(queries.count) psql examples")
        for query in queries {
            #expect(try !hub.psql(query).isEmpty, "no rows from README query: \(query)")
        }
    }

    /// Without --to, the hub comes from $SOFTMAXLAB_HUB, else from libpq's own PG… variables.
    @Test func theHubComesFromTheEnvironment() throws {
        let hub = try TestHub()
        let files = try TestFiles()
        let db = files.path("env.sqlite")
        #expect(CommandRunner.run(["train", "--dataset", "iris", "--epochs", "2", "--db", db]).exitCode == 0)
        let url = try #require(URLComponents(string: hub.url))
        func push(_ environment: [String: String]) throws -> (Int32, String) {
            let p = Process()
            p.executableURL = try ProcessTests.binary()
            p.arguments = ["runs", "push", "--db", db]
            var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("PG") && $0.key != "SOFTMAXLAB_HUB" }
            env.merge(environment) { _, new in new }
            p.environment = env
            let out = Pipe()
            p.standardOutput = out
            p.standardError = FileHandle.nullDevice
            try p.run()
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            return (p.terminationStatus, text)
        }
        let libpq = try push(["PGHOST": url.host ?? "", "PGPORT": "\(url.port ?? 5432)", "PGUSER": url.user ?? "",
                              "PGPASSWORD": url.password ?? "", "PGDATABASE": String(url.path.dropFirst())])
        #expect(libpq.0 == 0 && libpq.1.contains("1 run copied"), "\(libpq)")
        let hubVariable = try push(["SOFTMAXLAB_HUB": hub.url])
        #expect(hubVariable.0 == 0 && hubVariable.1.contains("1 already in"), "\(hubVariable)")
    }
}
