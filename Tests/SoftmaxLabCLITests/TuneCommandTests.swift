import ExperimentStore
import Foundation
import GRDB
import SoftmaxCore
import SoftmaxCPU
import SoftmaxKernels
import SoftmaxLabCLI
import SoftmaxOpenCL
import Testing
import TestSupport

@Suite struct TuneCommandTests {
    /// Rows of a query on the store, each as "a|b|c", read with GRDB directly (not the code under test).
    static func rows(_ db: String, _ sql: String) throws -> [String] {
        var config = Configuration()
        config.readonly = true
        return try DatabaseQueue(path: db, configuration: config).read { d in
            try Row.fetchAll(d, sql: sql).map { row in row.databaseValues.map { $0.isNull ? "NULL" : "\($0.storage.value ?? "")" }.joined(separator: "|") }
        }
    }

    static func tune(_ db: String, shapes: String = "64x10,32x300", _ extra: [String] = []) -> CommandRunner.Result {
        CommandRunner.run(["tune", "--backend", "swift", "--shapes", shapes, "--budget", "60s", "--repeat", "3", "--warmup", "1",
                           "--db", db] + extra)
    }

    /// Every candidate of the space is checked and timed (the space fits the budget), recorded with
    /// its device, class and parameters; each class has its defaults and exactly one choice, which
    /// is right and no slower than the defaults.
    @Test func tuneChecksTimesAndRecordsEveryCandidateAndChoosesOne() throws {
        let files = try TestFiles()
        let db = files.path("tune.sqlite")
        let r = Self.tune(db, ["--json"])
        #expect(r.exitCode == 0, "\(r.standardError)")
        struct Result: Decodable { var shapeClass: String; var measured: Int; var spaceSize: Int; var chosen: String? }
        let results = try JSONDecoder().decode([Result].self, from: Data(r.standardOutput.utf8))
        #expect(results.map(\.shapeClass) == ["C<=64", "C<=4096"])
        for result in results { #expect(result.measured == result.spaceSize && result.spaceSize > 1, "\(result)") }
        #expect(try Self.rows(db, "SELECT kind, status FROM runs") == ["tune|finished"])
        let expectedRows = results.map(\.spaceSize).reduce(0, +)
        #expect(try Self.rows(db, "SELECT COUNT(*) FROM tuning WHERE check_result = 'ok' AND samples >= 3 AND median_ms > 0") == ["\(expectedRows)"])
        for shapeClass in ["C<=64", "C<=4096"] {
            let chosen = try Self.rows(db, "SELECT parameters, median_ms FROM tuning WHERE shape_class = '\(shapeClass)' AND chosen = 1")
            #expect(chosen.count == 1, "\(shapeClass): \(chosen)")
            let defaults = try Self.rows(db, "SELECT parameters, median_ms FROM tuning WHERE shape_class = '\(shapeClass)' AND is_default = 1")
            #expect(defaults.count == 1)
            #expect(defaults.first?.hasPrefix(SwiftBackend().parametersJSON + "|") == true, "\(defaults)")
            let chosenMs = try #require(chosen.first.flatMap { Double($0.split(separator: "|").last!) })
            let defaultMs = try #require(defaults.first.flatMap { Double($0.split(separator: "|").last!) })
            #expect(chosenMs <= defaultMs)
        }
        #expect(try Self.rows(db, "SELECT DISTINCT d.backend, t.op, t.dtype, t.kernel_hash <> '' FROM tuning t JOIN devices d ON d.id = t.device_id") == ["swift|xent|f32|1"])
        // Every candidate the Swift backend offers for a class is a different parameter set.
        #expect(try Self.rows(db, "SELECT COUNT(*) = COUNT(DISTINCT parameters || shape_class) FROM tuning") == ["1"])
    }

    /// Later runs on the tuned device take the choice for their shape's class and say so;
    /// --no-tuning and other classes or options do not.
    @Test func laterRunsUseTheChoiceForTheirShapeClassAndSaySo() throws {
        let files = try TestFiles()
        let db = files.path("tuned.sqlite")
        #expect(Self.tune(db).exitCode == 0)
        let chosen = try #require(try Self.rows(db, "SELECT parameters FROM tuning WHERE shape_class = 'C<=4096' AND chosen = 1").first)
        let bench = CommandRunner.run(["bench", "--backend", "swift", "--shapes", "40x500,8x20000", "--repeat", "1", "--warmup", "0", "--no-record", "--db", db])
        #expect(bench.exitCode == 0, "\(bench.standardError)")
        #expect(bench.standardError.contains("tuned parameters from run 1 for swift"), "\(bench.standardError)")
        #expect(bench.standardError.contains("C<=4096 xent f32: \(chosen)"), "\(bench.standardError)")
        #expect(!bench.standardError.contains("C<=65536"), "no tuning for that class: \(bench.standardError)")
        let untuned = CommandRunner.run(["bench", "--backend", "swift", "--shapes", "40x500", "--repeat", "1", "--warmup", "0", "--no-record",
                                         "--db", db, "--no-tuning"])
        #expect(untuned.exitCode == 0 && !untuned.standardError.contains("tuned parameters"), "\(untuned.standardError)")
        let capped = CommandRunner.run(["bench", "--backend", "swift", "--shapes", "40x500", "--repeat", "1", "--warmup", "0", "--no-record",
                                        "--db", db, "--softcap", "20"])
        #expect(!capped.standardError.contains("tuned parameters"), "xent+softcap was not tuned: \(capped.standardError)")

        let logits = try files.text("logits.csv", (0..<40).map { i in (0..<300).map { "\(Float(($0 * 7 + i) % 11) / 3)" }.joined(separator: ",") }.joined(separator: "\n"))
        let labels = try files.text("labels.txt", (0..<40).map { "\($0 % 300)" }.joined(separator: "\n"))
        let loss = CommandRunner.run(["loss", "--logits", logits, "--labels", labels, "--backend", "swift", "--db", db])
        #expect(loss.exitCode == 0, "\(loss.standardError)")
        #expect(loss.standardError.contains("tuned parameters from run 1"), "\(loss.standardError)")
        let train = CommandRunner.run(["train", "--dataset", "iris", "--epochs", "1", "--backend", "swift", "--db", db])
        #expect(train.exitCode == 0 && train.standardError.contains("tuned parameters from run 1 for swift") && train.standardError.contains("C<=64"),
                "\(train.standardError)")
        let gradcheck = CommandRunner.run(["gradcheck", "--backend", "swift", "--db", db, "--no-record"])
        #expect(gradcheck.exitCode == 0 && gradcheck.standardError.contains("tuned parameters from run 1"), "\(gradcheck.standardError)")
    }

    /// Tuning measured with other kernels or another driver is stale: ignored, and said, by later
    /// runs and by the next tune.
    @Test func staleTuningIsIgnoredAndSaid() throws {
        let files = try TestFiles()
        let db = files.path("stale.sqlite")
        #expect(Self.tune(db).exitCode == 0)
        let store = try DatabaseQueue(path: db)
        try store.write { try $0.execute(sql: "UPDATE tuning SET kernel_hash = '0000000000000000' WHERE shape_class = 'C<=4096'") }
        let bench = CommandRunner.run(["bench", "--backend", "swift", "--shapes", "40x500,64x10", "--repeat", "1", "--warmup", "0", "--no-record", "--db", db])
        #expect(bench.standardError.contains("tuning from run 1 for swift") && bench.standardError.contains("C<=4096 xent f32 is stale (the kernels have changed since); using the default parameters"),
                "\(bench.standardError)")
        #expect(bench.standardError.contains("tuned parameters from run 1 for swift CPU") && bench.standardError.contains("C<=64 xent f32"),
                "the other class is still current: \(bench.standardError)")
        try store.write { try $0.execute(sql: "UPDATE devices SET driver_version = 'an older build'") }
        let again = Self.tune(db, shapes: "40x500")
        #expect(again.exitCode == 0)
        #expect(again.standardError.contains("is stale (driver an older build, now \(SwiftBackend().device.driverVersion); the kernels have changed since); measuring again"),
                "\(again.standardError)")
        let after = CommandRunner.run(["bench", "--backend", "swift", "--shapes", "40x500", "--repeat", "1", "--warmup", "0", "--no-record", "--db", db])
        #expect(after.standardError.contains("tuned parameters from run 2"), "the new run's choice holds: \(after.standardError)")
    }

    /// A candidate whose kernels compute a wrong gradient is recorded as wrong, with the row, and
    /// never chosen (PoCL: the vector width 4 build of the row kernel has its p scaled by 1.01).
    @Test func aWrongCandidateIsRecordedAsWrongAndNeverChosen() throws {
        guard let device = TestBackends.openCLDevices.first, let api = try? OpenCLAPI() else {
            #expect(!TestBackends.openCLRequired, "CI has PoCL")
            return
        }
        let line = "const float a = (scale * total + z_p_coefficient(z_lambda, zscale, lse)) / s;"
        let broken = KernelSources.all.replacingOccurrences(of: line, with: line.dropLast() + " * (VW == 4 ? 1.01f : 1.0f);")
        #expect(broken != KernelSources.all)
        var row = KernelParameters(xentVariant: .rowPerWorkItem)
        let base = try OpenCLBackend(api: api, device: device, parameters: row, source: broken)
        row.vectorWidth = 4
        let xent = XentCase(Shape(rows: 64, cols: 300), elementType: .f32, options: CrossEntropyOptions(), seed: 5)
        let tuner = Tuner(base: base, operation: xent, warmup: 0, repeats: 2, seed: 1, space: [base.parametersJSON, try base.with(parameters: row).parametersJSON])
        let outcome = tuner.run(until: .now + .seconds(600))
        #expect(outcome.candidates.count == 2)
        #expect(outcome.candidates[0].check == "ok" && outcome.candidates[0].chosen)
        #expect(outcome.candidates[1].check.hasPrefix("wrong: row 0 of the gradient"), "\(outcome.candidates[1].check)")
        #expect(outcome.candidates[1].timing == nil && !outcome.candidates[1].chosen)
    }

    /// The defaults and the three fastest others are timed again (three more rounds of as many
    /// samples as their first timing); the rest keep their first samples. (Which is fastest is
    /// not asserted: tests run in parallel, and timing is the benchmarks' business.)
    @Test func theDefaultsAndThreeFastestOthersAreTimedAgain() throws {
        let xent = XentCase(Shape(rows: 256, cols: 1000), elementType: .f32, options: CrossEntropyOptions(), seed: 3)
        let space = [4, 1, 2, 8].flatMap { r in [64, 0].map { SwiftParameters(rangesPerThread: r, lanesMaxClasses: $0) } }.map(TuningJSONProbe.json)
        let outcome = Tuner(base: SwiftBackend(), operation: xent, warmup: 1, repeats: 3, seed: 0, space: space).run(until: .now + .seconds(120))
        let counts = outcome.candidates.map { $0.timing?.milliseconds.count ?? 0 }
        #expect(counts.count == 8 && counts[0] == 12 && counts.filter { $0 == 12 }.count == 4 && counts.filter { $0 == 3 }.count == 4,
                "the defaults and three others sampled 3 + 3 × 3 times, the rest 3: \(counts)")
        #expect(outcome.candidates.filter(\.chosen).count == 1 && counts[outcome.candidates.firstIndex(where: \.chosen)!] == 12)

        // A budget the first timings fill leaves no final round.
        let short = Tuner(base: SwiftBackend(), operation: xent, warmup: 1, repeats: 3, seed: 0, space: space).run(until: .now)
        #expect(short.candidates.map { $0.timing?.milliseconds.count ?? 0 } == [3])
        #expect(short.chosen?.isDefault == true)
    }

    /// `--candidates FILE`: the defaults and the given parameter sets only (a duplicate of the
    /// defaults, written in another key order, measured once), recorded like any tune; a line that
    /// is not a parameter set of the backend is one sentence naming the file and line.
    @Test func givenCandidatesAreMeasuredAgainstTheDefaults() throws {
        let files = try TestFiles()
        let db = files.path("tune.sqlite"), list = files.path("candidates.txt")
        let one = TuningJSONProbe.json(SwiftParameters(threads: 1))
        let defaultsReordered = #"{"threads":\#(SwiftParameters.defaults.threads),"rangesPerThread":4,"lanesMaxClasses":64,"columnSplitMinClasses":16384,"halfTileElements":16384}"#
        try "\(one)\n\n\(defaultsReordered)\n".write(toFile: list, atomically: true, encoding: .utf8)
        let r = Self.tune(db, shapes: "64x10", ["--candidates", list])
        #expect(r.exitCode == 0, "\(r.standardError)")
        #expect(try Self.rows(db, "SELECT is_default, parameters, check_result FROM tuning ORDER BY id")
                == ["1|\(TuningJSONProbe.json(.defaults))|ok", "0|\(one)|ok"])
        #expect(try Self.rows(db, "SELECT json_extract(config, '$.candidates') FROM runs") == [list])

        try "\(one)\n{\"threads\":2}\n".write(toFile: list, atomically: true, encoding: .utf8)
        let bad = Self.tune(db, shapes: "64x10", ["--candidates", list])
        #expect(bad.exitCode != 0)
        #expect(bad.standardError.contains("--candidates \(list) line 2: {\"threads\":2} is not a parameter set of the swift backend"), "\(bad.standardError)")
        let noBackend = CommandRunner.run(["tune", "--shapes", "64x10", "--candidates", list, "--db", db])
        #expect(noBackend.exitCode != 0 && noBackend.standardError.contains("give --backend swift or --backend opencl"), "\(noBackend.standardError)")
    }

    /// The choice among finalists: the defaults unless beaten by more than 3% overall and in every
    /// final round.
    @Test func theDefaultsAreKeptUnlessBeatenByMoreThanThreePercentAndInEveryRound() {
        typealias T = Tuner<SwiftBackend>
        #expect(T.choice([(true, 1.0, []), (false, 0.98, []), (false, 1.2, [])]) == 0)
        #expect(T.choice([(true, 1.0, []), (false, 0.96, []), (false, 0.965, [])]) == 1)
        #expect(T.choice([(false, 2.0, []), (true, 1.0, [])]) == 1)
        #expect(T.choice([(false, 2.0, []), (false, 1.5, [])]) == 1, "no defaults among them (they were wrong): the fastest")
        #expect(T.choice([]) == nil)
        // 8% ahead overall, but behind in the second round: a lead that does not hold under the same load.
        #expect(T.choice([(true, 1.0, [1.0, 0.9, 1.1]), (false, 0.92, [0.9, 0.95, 0.92])]) == 0)
        #expect(T.choice([(true, 1.0, [1.0, 0.99, 1.1]), (false, 0.92, [0.9, 0.95, 0.92])]) == 1)
        // A round one of them missed (the budget ran out) compares nothing.
        #expect(T.choice([(true, 1.0, [1.0, 0.99]), (false, 0.92, [0.9, 0.95, 0.99])]) == 1)
    }

    /// Every parameter set the Swift backend offers computes the same loss and gradient as the
    /// float64 oracle (one thread, one range, no lanes kernel, the column split forced or off,
    /// 16-bit tiles of every size).
    @Test(arguments: [(Shape(rows: 37, cols: 10), ElementType.f32), (Shape(rows: 1, cols: 5000), .f32), (Shape(rows: 33, cols: 20), .bf16),
                      (Shape(rows: 1, cols: 9000), .f16)])
    func everySwiftCandidateMatchesTheOracle(_ shape: Shape, _ type: ElementType) throws {
        let swift = SwiftBackend()
        let xent = XentCase(shape, elementType: type, options: CrossEntropyOptions(labelSmoothing: 0.1, softcap: 15, zLoss: 1e-3), seed: 9)
        let space = swift.candidates(for: shape, elementType: type)
        #expect(space.count > 1 && space[0] == SwiftParameters.defaults)
        for parameters in space {
            let outcome = Tuner(base: swift, operation: xent, warmup: 0, repeats: 1, seed: 0, space: [TuningJSONProbe.json(parameters)])
                .run(until: .now + .seconds(60))
            #expect(outcome.candidates.first?.check == "ok", "seed 9, shape \(shape) \(type.rawValue), \(parameters): \(outcome.candidates.first?.check ?? "none")")
        }
    }

    /// `tune --op linear-xent`: the fused linear op's blocks and tiles, each candidate spot-checked
    /// against float64 and timed, on the Swift backend and every OpenCL device, recorded by NxDxV
    /// and classed by V; later `bench --op linear-xent` and `loss --hidden` take the choice and say so.
    @Test func theFusedLinearOpIsTunedAndItsChoiceUsed() throws {
        let files = try TestFiles()
        let db = files.path("linear.sqlite")
        let backend = TestBackends.openCLDevices.isEmpty ? "swift" : "all"
        let r = CommandRunner.run(["tune", "--op", "linear-xent", "--backend", backend, "--shapes", "40x16x3000", "--budget", "90s",
                                   "--repeat", "2", "--warmup", "0", "--json", "--db", db])
        #expect(r.exitCode == 0, "\(r.standardError)")
        struct Result: Decodable { var backend: String; var op: String; var shape: String; var shapeClass: String; var measured: Int; var spaceSize: Int; var chosen: String? }
        let results = try JSONDecoder().decode([Result].self, from: Data(r.standardOutput.utf8))
        #expect(results.count == 1 + TestBackends.openCLDevices.count)
        for result in results {
            #expect(result.op == "linear-xent" && result.shape == "40x16x3000" && result.shapeClass == "C<=4096", "\(result)")
            #expect(result.spaceSize > 1 && result.measured == result.spaceSize && result.chosen != nil, "\(result)")
        }
        // The Swift candidates: the automatic tiles, then blocks of 12, 24 (≤ N = 40) rows × 256 or 512 columns.
        #expect(results.first?.spaceSize == 5)
        #expect(try Self.rows(db, "SELECT COUNT(*) FROM tuning WHERE op = 'linear-xent' AND check_result = 'ok'") == ["\(results.map(\.spaceSize).reduce(0, +))"])
        let bench = CommandRunner.run(["bench", "--op", "linear-xent", "--backend", "swift", "--shapes", "30x8x2000", "--repeat", "1",
                                       "--warmup", "0", "--no-record", "--db", db])
        #expect(bench.exitCode == 0, "\(bench.standardError)")
        #expect(bench.standardError.contains("tuned parameters from run 1 for swift") && bench.standardError.contains("C<=4096 linear-xent f32"),
                "\(bench.standardError)")
        let other = CommandRunner.run(["bench", "--op", "linear-xent", "--backend", "swift", "--shapes", "30x8x20000", "--repeat", "1",
                                       "--warmup", "0", "--no-record", "--db", db])
        #expect(other.exitCode == 0 && !other.standardError.contains("tuned parameters"), "another class: \(other.standardError)")
        #expect(CommandRunner.run(["tune", "--op", "linear-xent", "--shape-classes", "--db", db]).standardError.contains("--shape-classes are the fused op's"))
        #expect(CommandRunner.run(["tune", "--op", "linear-xent", "--shapes", "40x3000", "--db", db]).exitCode != 0)
    }
}

enum TuningJSONProbe {
    static func json(_ p: SwiftParameters) -> String { SwiftBackend(parameters: p).parametersJSON }
}
