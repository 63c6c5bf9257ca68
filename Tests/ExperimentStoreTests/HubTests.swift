import ExperimentStore
import Foundation
import Synchronization
import TestSupport
import Testing

extension TestHub {
    var address: HubAddress { HubAddress(url) }
}

@Suite(.enabled(if: TestHub.enabled, TestHub.absent), .serialized)
struct HubTests {
    /// Table → row count, read with psql.
    func hubCounts(_ hub: TestHub) throws -> [String] {
        try hub.psql("SELECT (SELECT COUNT(*) FROM runs), (SELECT COUNT(*) FROM metrics), (SELECT COUNT(*) FROM params), (SELECT COUNT(*) FROM timings), (SELECT COUNT(*) FROM devices)")
    }

    @Test func fourHostsPushAtOnceThePushIsIdempotentAndAPullReproducesTheUnion() throws {
        let hub = try TestHub()
        let t = try TemporaryStore()
        let hosts = ["laptop", "ci", "gpu-a", "gpu-b"]
        let stores = try hosts.enumerated().map { i, host in
            try makeHostStore(t.folder.appendingPathComponent("\(host).sqlite").path, host: host, runs: 3 + i, metrics: 500 * (i + 1))
        }
        let reports = Mutex<[String: RunCopyReport]>([:])
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: stores.count) { i in
            do {
                // Each "host" opens its own store and connection, as four processes would.
                let report = try ExperimentStore(path: stores[i].path).push(to: hub.address)
                reports.withLock { $0[hosts[i]] = report }
            } catch {
                failures.withLock { $0.append("\(hosts[i]): \(error)") }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 })")
        let first = reports.withLock { $0 }
        #expect(hosts.map { first[$0]?.copied.count } == [4, 5, 6, 7])
        let runs = 4 + 5 + 6 + 7
        let metrics = (0..<4).reduce(0) { $0 + (3 + $1) * 500 * ($1 + 1) }
        // Devices by identity: the shared GPU once, each host's CPU once.
        #expect(try hubCounts(hub) == ["\(runs)|\(metrics)|\(2 * (3 + 4 + 5 + 6))|8|5"])
        #expect(try hub.psql("SELECT name FROM devices ORDER BY name") == ["cpu of ci", "cpu of gpu-a", "cpu of gpu-b", "cpu of laptop", "shared-gpu"])
        // Foreign keys right: every run's metric count in the hub is what its own store has.
        for store in stores {
            for row in try store.query("SELECT uuid, (SELECT COUNT(*) FROM metrics m WHERE m.run_id = r.id) AS n FROM runs r") {
                #expect(try hub.psql("SELECT COUNT(*) FROM metrics m JOIN runs r ON r.id = m.run_id WHERE r.uuid = '\(row["uuid"]!)'") == [row["n"]!])
            }
        }

        for store in stores {
            let again = try store.push(to: hub.address)
            #expect(again.copied.isEmpty && again.conflicts.isEmpty)
            #expect(again.alreadyPresent == (try store.query("SELECT COUNT(*) AS n FROM runs").first?["n"]).flatMap { Int($0) })
        }
        #expect(try hubCounts(hub) == ["\(runs)|\(metrics)|\(2 * (3 + 4 + 5 + 6))|8|5"], "pushing again added rows")

        let pulled = try ExperimentStore(path: t.path)
        let report = try pulled.pull(from: hub.address)
        #expect(report.copied.count == runs)
        let union = try stores.reduce(into: [String: String]()) { $0.merge(try storeDump($1.path)) { x, _ in x } }
        #expect(try storeDump(t.path) == union, "the pulled store is not the union of the pushed ones")
        #expect(try pulled.pull(from: hub.address).alreadyPresent == runs)
    }

    /// A push over several connections copies runs in parallel; the report still lists them in
    /// the source's order and the hub holds each exactly once, whatever the number of connections.
    @Test func aPushOverSeveralConnectionsCopiesEveryRunOnceAndReportsInOrder() throws {
        let hub = try TestHub()
        let t = try TemporaryStore()
        let store = try makeHostStore(t.path, host: "laptop", runs: 9, metrics: 300)
        let report = try store.push(to: hub.address, connections: 3)
        let ids = try store.query("SELECT id FROM runs ORDER BY id").map { Int64($0["id"]!)! }
        #expect(report.copied.map(\.sourceId) == ids)
        #expect(report.copied.map(\.metricRows) == Array(repeating: 300, count: 9) + [0])
        #expect(Set(report.copied.map(\.id)).count == 10)
        #expect(try hubCounts(hub) == ["10|2700|18|2|2"])
        let again = try store.push(to: hub.address, connections: 5)
        #expect(again.copied.isEmpty && again.conflicts.isEmpty && again.alreadyPresent == 10)
        #expect(try hubCounts(hub) == ["10|2700|18|2|2"], "pushing again added rows")
    }

    /// A tune run's candidates travel with it, their device mapped by identity, both ways; and a
    /// hub tuning row changed in psql is a conflict.
    @Test func tuningRowsArePushedAndPulledWithTheirRun() throws {
        let hub = try TestHub()
        let t = try TemporaryStore()
        let a = try makeHostStore(t.folder.appendingPathComponent("a.sqlite").path, host: "laptop", runs: 1, metrics: 5)
        try addTuneRun(a, host: "laptop")
        #expect(try a.push(to: hub.address).copied.count == 3)
        #expect(try hub.psql("SELECT d.name, t.parameters, t.chosen FROM tuning t JOIN devices d ON d.id = t.device_id JOIN runs r ON r.id = t.run_id WHERE r.kind = 'tune' ORDER BY t.id")
                == [#"tuned-gpu|{"vectorWidth":4}|0"#, #"tuned-gpu|{"vectorWidth":8}|1"#, #"tuned-gpu|{"vectorWidth":16}|0"#])
        let pulledPath = t.folder.appendingPathComponent("pulled.sqlite").path
        #expect(try ExperimentStore(path: pulledPath).pull(from: hub.address).copied.count == 3)
        #expect(try storeDump(pulledPath) == storeDump(a.path))
        try hub.psql("UPDATE tuning SET chosen = 0")
        let report = try a.push(to: hub.address)
        #expect(report.conflicts.map(\.differences) == [["tuning"]])
    }

    @Test func pullFiltersByKindDeviceAndDate() throws {
        let hub = try TestHub()
        let t = try TemporaryStore()
        let a = try makeHostStore(t.folder.appendingPathComponent("a.sqlite").path, host: "laptop", runs: 2, metrics: 10)
        let b = try makeHostStore(t.folder.appendingPathComponent("b.sqlite").path, host: "ci", runs: 2, metrics: 10)
        _ = try a.push(to: hub.address)
        _ = try b.push(to: hub.address)
        try hub.psql("UPDATE runs SET started_at = '2025-01-01T00:00:00.000Z' WHERE host = 'ci'")
        func pulled(_ filter: ExperimentStore.PullFilter) throws -> Int {
            let path = t.folder.appendingPathComponent("\(UUID().uuidString).sqlite").path
            return try ExperimentStore(path: path).pull(from: hub.address, filter: filter).copied.count
        }
        #expect(try pulled(.init(kind: .bench)) == 2)
        #expect(try pulled(.init(device: "CPU OF LAP")) == 2, "the laptop's run 0 and its bench run, whose timings name the laptop's CPU")
        #expect(try pulled(.init(device: "ci")) == 3, "host ci: every run of b")
        #expect(try pulled(.init(since: "2026-01-01")) == 3)
        #expect(try pulled(.init(device: "shared-gpu", kind: .train)) == 2, "run 1 of each host ran on the shared GPU")
    }

    @Test func aHubRunWithOtherContentIsAConflictAndAFreshHubSchemaMirrorsTheStore() throws {
        let hub = try TestHub()
        let t = try TemporaryStore()
        let a = try makeHostStore(t.path, host: "laptop", runs: 2, metrics: 10)
        // One connection, so the hub's ids follow the store's order (two race for them), as the
        // run_summary check below expects.
        _ = try a.push(to: hub.address, connections: 1)
        try hub.psql("UPDATE metrics SET value = 42 WHERE id = (SELECT MIN(id) FROM metrics)")
        let report = try a.push(to: hub.address)
        #expect(report.conflicts.count == 1)
        #expect(report.conflicts.first?.differences == ["metrics (values)"])
        #expect(report.alreadyPresent == 2)
        // The README's queries, as psql runs them against the hub.
        #expect(try hub.psql("SELECT kind, status FROM run_summary ORDER BY id") == ["train|finished", "train|failed", "bench|finished"])
        #expect(try hub.psql("SELECT op, shape, backend, device FROM bench_results ORDER BY median_ms") == ["xent|8x10|opencl|shared-gpu", "xent|8x10|swift|cpu of laptop"])
        // The hub's set-based integrity: no metric rows without their run, a deleted run takes its rows.
        #expect(throws: PSQLFailure.self) { try hub.psql("INSERT INTO metrics (run_id, key, recorded_at) VALUES (999, 'x', 'now')") }
        #expect(throws: PSQLFailure.self) { try hub.psql("UPDATE metrics SET run_id = 999 WHERE id = (SELECT MIN(id) FROM metrics)") }
        try hub.psql("DELETE FROM runs WHERE id = 1")
        #expect(try hub.psql("SELECT COUNT(*) FROM metrics WHERE run_id = 1") == ["0"])
        #expect(try hub.psql("SELECT COUNT(*) FROM metrics") == ["10"])
    }

    /// The test server asks for TLS (scripts/start-test-postgres.sh refuses TCP without it), so every
    /// hub test connects over TLS with libpq's default `sslmode=prefer`; here `require` connects and
    /// `disable` is one sentence.
    @Test func tlsIsUsedWhenTheServerAsksForIt() throws {
        let hub = try TestHub()
        let t = try TemporaryStore()
        let a = try makeHostStore(t.path, host: "laptop", runs: 1, metrics: 5)
        func address(_ mode: String?) -> HubAddress {
            var url = URLComponents(string: hub.url)!
            url.queryItems = mode.map { [URLQueryItem(name: "sslmode", value: $0)] }
            return HubAddress(url.string!)
        }
        #expect(try a.push(to: address(nil)).copied.count == 2)
        #expect(try a.push(to: address("require")).alreadyPresent == 2)
        let error = try #require(throws: StoreError.self) { try a.push(to: address("disable")) }
        #expect(error.description.contains("no encryption"), "\(error)")
    }

    @Test func aHubWrittenByANewerSoftmaxLabIsRefusedWithASentence() throws {
        let hub = try TestHub()
        let t = try TemporaryStore()
        let a = try makeHostStore(t.path, host: "laptop", runs: 1, metrics: 1)
        _ = try a.push(to: hub.address)
        try hub.psql("INSERT INTO softmaxlab_migrations VALUES ('v99-from-the-future')")
        for attempt in [{ _ = try a.push(to: hub.address) }, { _ = try a.pull(from: hub.address) }] {
            let error = try #require(throws: StoreError.self) { try attempt() }
            #expect(error.description.contains("was written by a newer softmax-lab"), "\(error)")
            #expect(error.description.contains("v99-from-the-future"))
        }
    }

    @Test func aWrongPasswordAnUnreachableHostAndAnotherProgramsDatabaseEachGiveOneSentence() throws {
        let hub = try TestHub()
        let t = try TemporaryStore()
        let a = try makeHostStore(t.path, host: "laptop", runs: 1, metrics: 1)
        var wrong = URLComponents(string: hub.url)!
        wrong.password = "not-the-password"
        var unreachable = URLComponents(string: hub.url)!
        unreachable.port = 1
        try hub.psql("CREATE TABLE customers (id INTEGER)")
        let cases: [(String, String)] = [
            (wrong.string!, "password authentication failed"),
            (unreachable.string!, "Connection refused"),
            (hub.url, "is another program's database (its tables: customers)"),
        ]
        for (url, expected) in cases {
            let error = try #require(throws: StoreError.self) { try a.push(to: HubAddress(url)) }
            #expect(error.description.contains(expected), "\(error)")
            #expect(!error.description.contains("not-the-password") && !error.description.contains("softmaxlab-test"), "a password was printed: \(error)")
            #expect(!error.description.contains("\n"))
        }
        #expect(try hub.psql("SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'public'") == ["1"], "another program's database was written to")
    }
}

@Suite struct HubAddressTests {
    @Test func passwordsAreRedactedFromEveryFormOfAddress() {
        #expect(HubAddress("postgres://me:secret@db:5432/hub?sslmode=require").description == "postgres://me@db:5432/hub?sslmode=require")
        #expect(HubAddress("postgresql://me:p%40ss@db/hub?password=x&sslmode=require").description == "postgresql://me@db/hub?password=…&sslmode=require")
        #expect(HubAddress("host=db password='a b' dbname=hub").description == "host=db password=… dbname=hub")
        #expect(HubAddress(nil, environment: ["SOFTMAXLAB_HUB": "postgres://u:pw@h/d"]).description == "postgres://u@h/d")
    }
}
