import ArgumentParser
import ExperimentStore
import Foundation
import SoftmaxCore
import SoftmaxCPU
import SoftmaxOpenCL
import SoftmaxReference

/// `softmax-lab tune`: per device and shape class, every candidate parameter set of the fused
/// loss+gradient (or of the fused linear cross-entropy) checked against the float64 oracle, timed,
/// and the fastest right one chosen; all
/// of it kept in the store's `tuning` table, which later runs on that device read.
struct TuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tune",
        abstract: "Measure kernel parameters per device and shape class; later runs use the winners.")

    enum Op: String, ExpressibleByArgument, CaseIterable {
        case xent
        case linearXent = "linear-xent"
    }

    @Option(help: "The operation to tune: xent (the fused loss+gradient; with --softcap/--z-loss its op is xent+softcap, xent+z) or linear-xent (the fused linear cross-entropy's blocks and tiles, --shapes NxDxV).")
    var op: Op = .xent

    @Option(help: "Comma-separated NxC shapes to measure, each standing for its shape class (C<=64, C<=4096, C<=65536, C>65536); NxDxV for --op linear-xent (classed by V). Default: --shape-classes, or 2048x1024x32000 for linear-xent.")
    var shapes: String?

    @Flag(help: "Measure every shape class at its representative shape: 65536x10, 4096x1000, 1024x32000, 256x128000 (the default).")
    var shapeClasses = false

    @Option(help: "Storage of the logits and gradient: f32, f16 or bf16.")
    var dtype: ElementType = .f32

    @Option(help: "Wall time for the whole tune, shared by every device and shape: 90s, 2m, 1h.")
    var budget = "2m"

    @Option(help: "Timed repetitions per candidate.")
    var `repeat` = 10

    @Option(help: "Untimed repetitions before timing.")
    var warmup = 2

    /// A call of a millisecond sampled ten times is 10 ms of a noisy machine's time: short calls
    /// are sampled for at least this long (up to 100 × --repeat calls).
    var minimumSampleSeconds: Double { 0.25 }

    @Option(help: "A file of parameter sets to measure instead of the backend's own candidates, one JSON object a line as the tuning table's parameters column holds them (the defaults are measured too): to time given choices against each other. Needs --backend swift or opencl.")
    var candidates: String?

    @Option(help: "Seed of the random data and of the sampled candidates.")
    var seed: UInt64 = 0

    @OptionGroup var extended: ExtendedLossOptions
    @OptionGroup var backend: BackendOptions
    @OptionGroup var store: StoreOptions

    @Flag(help: "Print results as JSON.")
    var json = false

    struct Config: Encodable {
        var op: String, shapes: String, dtype: String, budget: String, `repeat`: Int, warmup: Int, seed: UInt64, backend: String
        var softcap: Float?, zLoss: Float, candidates: String?
    }

    /// One device and shape as tuned.
    struct Result: Encodable {
        var backend: String, device: String, shapeClass: String, shape: String, op: String, dtype: String
        var measured: Int, spaceSize: Int
        var defaultMs: Double?, chosenMs: Double?, chosen: String?
        var candidates: [TunedCandidate]
    }

    var opName: String { op.rawValue + extended.opSuffix }

    func validate() throws {
        do {
            if op == .linearXent { _ = try ShapeList.parseLinear(linearShapes) } else if let shapes { _ = try ShapeList.parse(shapes) }
        } catch let error as InputError {
            throw ValidationError(error.description)
        }
        if op == .linearXent && shapeClasses { throw ValidationError("--shape-classes are the fused op's; give --op linear-xent its --shapes NxDxV") }
        guard dtype == .f32 || op == .xent else { throw ValidationError("--dtype \(dtype.rawValue) applies to --op xent (the fused linear op is float32)") }
        _ = try budgetSeconds()
        guard `repeat` >= 1, `repeat` <= 100_000 else { throw ValidationError("--repeat must be in 1…100000, got \(`repeat`)") }
        guard warmup >= 0, warmup <= 100_000 else { throw ValidationError("--warmup must be in 0…100000, got \(warmup)") }
        if shapes != nil && shapeClasses { throw ValidationError("--shapes and --shape-classes both choose the shapes; give one") }
        if candidates != nil, backend.backend != .swift && backend.backend != .opencl {
            throw ValidationError("--candidates holds one backend's parameters: give --backend swift or --backend opencl with it")
        }
    }

    /// The lines of --candidates, each with its line number (blank lines skipped).
    func candidateLines() throws -> [(line: Int, json: String)]? {
        guard let candidates else { return nil }
        guard let text = try? String(contentsOfFile: candidates, encoding: .utf8) else {
            throw InputError("--candidates \(candidates) cannot be read as a UTF-8 text file")
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            .map { (line: $0.offset + 1, json: $0.element.trimmingCharacters(in: .whitespaces)) }.filter { !$0.json.isEmpty }
        guard !lines.isEmpty else { throw InputError("--candidates \(candidates) holds no parameter set (one JSON object a line)") }
        return lines
    }

    var linearShapes: String { shapes ?? "2048x1024x32000" }

    /// The measured cases, one per shape (each made here: its data and the oracle's expectations).
    func cases() throws -> [any TuningCase] {
        let options = CrossEntropyOptions(softcap: extended.softcap, zLoss: extended.zLoss)
        do {
            if op == .linearXent {
                return try ShapeList.parseLinear(linearShapes).map {
                    LinearCase(rows: $0.rows, features: $0.features, vocabulary: $0.vocabulary, options: options, seed: seed)
                }
            }
            let shapes = try self.shapes.map { try ShapeList.parse($0) } ?? ShapeClass.all.map(\.representative)
            return shapes.map { XentCase($0, elementType: dtype, options: options, seed: seed) }
        } catch let error as InputError {
            throw ValidationError(error.description)
        }
    }

    /// "90s", "2m", "1h" or a number of seconds.
    func budgetSeconds() throws -> Double {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600]
        let unit = budget.last.flatMap { units[$0] }
        let number = unit == nil ? budget : String(budget.dropLast())
        guard let value = Double(number), value.isFinite, value > 0 else {
            throw ValidationError("--budget must be a duration like 90s, 2m or 1h, got '\(budget)'")
        }
        return value * (unit ?? 1)
    }

    func run() throws {
        let computes = try backend.makeAll()
        let cases = try self.cases()
        let given = try candidateLines()
        let s = try store.open()
        let recorder = try RunRecorder(
            store: s, kind: .tune, name: nil, device: computes[0].device,
            config: Config(op: opName, shapes: cases.map(\.label).joined(separator: ","), dtype: dtype.rawValue, budget: budget,
                           repeat: `repeat`, warmup: warmup, seed: seed,
                           backend: computes.map { "\($0.name) (\($0.deviceName))" }.joined(separator: ", "),
                           softcap: extended.softcap, zLoss: extended.zLoss, candidates: candidates),
            seed: seed)
        let clock = ContinuousClock()
        let end = clock.now + .milliseconds(Int(try budgetSeconds() * 1000))
        var results: [Result] = []
        do {
            let tasks = computes.flatMap { c in cases.map { (c, $0) } }
            for (k, (compute, operation)) in tasks.enumerated() {
                // What is left is shared equally by the devices and shapes still to come.
                let left = end - clock.now
                let deadline = clock.now + left / (tasks.count - k)
                guard let result = try tune(compute, operation, given: given, until: deadline, recorder: recorder) else {
                    throw InputError("--backend \(compute.name) has no tunable parameters")
                }
                results.append(result)
            }
            try recorder.finish()
        } catch {
            recorder.fail(error)
            throw error
        }
        if json { return Console.current.line(try JSONOutput.string(results)) }
        Console.current.line(Table.render(
            header: ["backend", "device", "class", "shape", "measured", "defaults ms", "chosen ms", "speed-up", "chosen parameters"],
            rows: results.map { r in
                [r.backend, r.device, r.shapeClass, r.shape, "\(r.measured)/\(r.spaceSize)", r.defaultMs.map(formatted) ?? "-",
                 r.chosenMs.map(formatted) ?? "-",
                 r.defaultMs.flatMap { d in r.chosenMs.map { String(format: "%.2fx", d / $0) } } ?? "-", r.chosen ?? "none (no candidate was right)"]
            }))
        Console.current.line("run \(recorder.runID) recorded in \(store.path) (table tuning); bench, loss, train and gradcheck on these devices now use the chosen parameters for each shape class (--no-tuning to ignore them)")
    }

    private func tune(_ compute: any ComputeBackend, _ operation: any TuningCase, given: [(line: Int, json: String)]?,
                      until deadline: ContinuousClock.Instant, recorder: RunRecorder) throws -> Result? {
        guard let tunable = compute as? any TunableBackend else { return nil }
        return try tuneOpened(tunable, operation, given: given, until: deadline, recorder: recorder)
    }

    /// The space to search: the backend's own candidates, or the defaults and the given ones (each
    /// decoded for this backend and written as the store writes it, duplicates dropped).
    private func space<B: TunableBackend>(_ base: B, _ operation: any TuningCase, given: [(line: Int, json: String)]?) throws -> [String] {
        let own = operation.candidatesJSON(of: base)
        guard let given else { return own }
        var space = [own[0]]
        for (line, json) in given {
            guard let p = try? JSONDecoder().decode(B.Parameters.self, from: Data(json.utf8)) else {
                throw InputError("--candidates \(candidates!) line \(line): \(json) is not a parameter set of the \(base.name) backend (the tuning table's parameters column shows the form)")
            }
            let canonical = TuningJSON.encode(p)
            if !space.contains(canonical) { space.append(canonical) }
        }
        return space
    }

    private func tuneOpened<B: TunableBackend>(_ base: B, _ operation: any TuningCase, given: [(line: Int, json: String)]?,
                                               until deadline: ContinuousClock.Instant, recorder: RunRecorder) throws -> Result {
        let shapeClass = ShapeClass.of(operation.shape)
        let device = RunRecorder.record(base.device)
        for stale in try TuningLookup.staleChoices(in: recorder.store, for: base, op: opName, shapeClass: shapeClass, dtype: dtype) {
            Console.current.note("tune: \(stale); measuring again")
        }
        let label = "tune: \(base.name) \(base.deviceName) \(opName) \(shapeClass) \(operation.label)"
        var tuner = Tuner(base: base, operation: operation, warmup: warmup, repeats: `repeat`, seed: seed, space: try space(base, operation, given: given),
                          minimumSampleSeconds: minimumSampleSeconds)
        if Console.current.showsProgress { tuner.progress = { Console.current.note("\(label): \($0)") } }
        let outcome = tuner.run(until: deadline)
        let deviceID = try recorder.store.register(device: device)
        try recorder.store.record(tuning: outcome.candidates.map { c in
            TuningRecord(runId: recorder.runID, deviceId: deviceID, kernelHash: base.kernelHash, toolVersion: SoftmaxLab.configuration.version,
                         op: opName, shapeClass: shapeClass.name, shape: operation.label, dtype: dtype.rawValue,
                         parameters: c.parameters, isDefault: c.isDefault, checkResult: c.check, samples: c.timing?.milliseconds.count ?? 0,
                         medianMs: c.timing?.median, p90Ms: c.timing?.p90, chosen: c.chosen)
        })
        return Result(backend: base.name, device: base.deviceName, shapeClass: shapeClass.name, shape: operation.label, op: opName,
                      dtype: dtype.rawValue, measured: outcome.candidates.count, spaceSize: outcome.spaceSize,
                      defaultMs: outcome.defaults?.timing?.median, chosenMs: outcome.chosen?.timing?.median,
                      chosen: outcome.chosen?.parameters, candidates: outcome.candidates)
    }
}
