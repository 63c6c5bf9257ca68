import ArgumentParser
import ExperimentStore
import Foundation
import SoftmaxCore

/// `softmax-lab bench`: every operation on the same shapes, each result checked before it is
/// timed, reported against the device's measured copy bandwidth.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmark the fused loss+gradient and the linear layer against the copy bandwidth.")

    enum Op: String, ExpressibleByArgument, CaseIterable {
        case xent, linear, step, all
        /// The fused linear cross-entropy: --shapes NxDxV.
        case linearXent = "linear-xent"
        /// An empty operation through the same timing harness: what `bench` itself adds.
        case empty
    }

    @Option(help: "xent (fused loss+gradient), linear (X·W + b and Xᵀ·G), step (a whole training step), all, linear-xent (the fused linear cross-entropy, --shapes NxDxV), or empty (the harness's own cost).")
    var op: Op = .xent

    @Option(help: "Comma-separated NxC shapes (rows x classes); NxDxV for --op linear-xent (rows x features x vocabulary). Default: 4096x1000,1024x32000,256x128000,65536x10, or 2048x1024x32000 for linear-xent.")
    var shapes: String?

    @Option(help: "Features D of the linear layer (X is N×D).")
    var features = 1024

    @Option(help: "Timed repetitions per operation.")
    var `repeat` = 20

    @Option(help: "Untimed repetitions before timing.")
    var warmup = 3

    @Option(help: "How --op linear-xent stores its classifier: dv (D×V, this project's layout) or vd (V×D, PyTorch's; op linear-xent-vd).")
    var classifierLayout: ClassifierLayout = .dv

    @Option(help: "--op linear-xent: Cut Cross-Entropy's gradient filter ε (0 = exact, the default; op linear-xent+filter), as loss --filter-epsilon.")
    var filterEpsilon: Float = 0

    @Option(help: "Seed of the random data.")
    var seed: UInt64 = 0

    @Option(help: "Storage of the fused op's logits and gradient (and of its copy): f32, f16 or bf16, on every backend (op xent).")
    var dtype: ElementType = .f32

    @OptionGroup var extended: ExtendedLossOptions
    @OptionGroup var backend: BackendOptions
    @OptionGroup var tuning: TuningOptions
    @OptionGroup var store: StoreOptions
    @Flag(help: "Do not record the run.") var noRecord = false

    @Flag(help: "Print results as JSON.")
    var json = false

    @Option(help: "A stored bench run to compare with: exit 2 if an op got slower than --max-slowdown, or its check changed.")
    var baseline: Int64?

    @Option(help: "Allowed slowdown against --baseline, e.g. 10%.")
    var maxSlowdown = "10%"

    /// What the store saves as the run's configuration.
    struct Config: Encodable {
        var op: String, shapes: String, features: Int, `repeat`: Int, warmup: Int, seed: UInt64, backend: String
        var softcap: Float?, zLoss: Float, dtype: String
        var filterEpsilon: Float?
    }

    /// The shapes as given, or the op's default.
    var shapeText: String {
        shapes ?? (op == .linearXent ? "2048x1024x32000" : "4096x1000,1024x32000,256x128000,65536x10")
    }

    func validate() throws {
        if op == .linearXent {
            do { _ = try ShapeList.parseLinear(shapeText) } catch let error as InputError { throw ValidationError(error.description) }
        } else {
            _ = try parsedShapes()
        }
        guard dtype == .f32 || op == .xent || op == .all else {
            throw ValidationError("--dtype \(dtype.rawValue) applies to --op xent (the linear layer and the step are float32)")
        }
        guard filterEpsilon == 0 || op == .linearXent else { throw ValidationError("--filter-epsilon applies to --op linear-xent") }
        guard filterEpsilon >= 0, filterEpsilon.isFinite else { throw ValidationError("--filter-epsilon must be a finite number ≥ 0, got \(filterEpsilon)") }
        _ = try slowdownFraction()
        // Each repeat keeps one timing sample: the bound keeps that array a few megabytes.
        guard `repeat` >= 1 else { throw ValidationError("--repeat must be at least 1, got \(`repeat`)") }
        guard `repeat` <= 1_000_000 else { throw ValidationError("--repeat must be at most 1000000, got \(`repeat`)") }
        guard warmup >= 0 else { throw ValidationError("--warmup must be non-negative, got \(warmup)") }
        guard warmup <= 1_000_000 else { throw ValidationError("--warmup must be at most 1000000, got \(warmup)") }
        guard features >= 1 else { throw ValidationError("--features must be at least 1, got \(features)") }
        // The linear op's X (N×D) and W (D×C), beside the logits.
        for shape in op == .linearXent ? [] : try parsedShapes() {
            do {
                try MemoryBudget.require("--features \(features) with --shapes \(shape.rows)x\(shape.cols)", shape: [shape.rows + shape.cols, features], copies: 2)
            } catch { throw ValidationError(error.description) }
        }
    }

    func slowdownFraction() throws -> Double {
        let text = maxSlowdown.hasSuffix("%") ? String(maxSlowdown.dropLast()) : maxSlowdown
        guard let value = Double(text), value >= 0, value.isFinite else {
            throw ValidationError("--max-slowdown must be a percentage like 10%, got '\(maxSlowdown)'")
        }
        return value / 100
    }

    func parsedShapes() throws -> [Shape] {
        do { return try ShapeList.parse(shapeText) } catch let error as InputError { throw ValidationError(error.description) }
    }

    func run() throws {
        let computes = try backend.makeAll()
        // Read the baseline first: a missing run is an error before minutes of measuring.
        let baselineResults = try baseline.map { id in
            let s = try store.open()
            let rows = try s.benchResults(id)
            guard try s.run(id)?.kind == .bench, !rows.isEmpty else { throw InputError("--baseline \(id) is not a bench run in \(store.path)") }
            return rows
        }
        let recorder = noRecord ? nil : try RunRecorder(
            store: try store.open(), kind: .bench, name: nil, device: computes[0].device,
            config: Config(op: op.rawValue, shapes: shapeText, features: features, repeat: `repeat`, warmup: warmup, seed: seed,
                           backend: computes.map { "\($0.name) (\($0.deviceName))" }.joined(separator: ", "),
                           softcap: extended.softcap, zLoss: extended.zLoss, dtype: dtype.rawValue,
                           filterEpsilon: op == .linearXent ? filterEpsilon : nil), seed: seed)
        var results: [BenchmarkResult] = []
        let tuningStore = tuning.store(store.path)
        do {
            for compute in computes {
                let measured = try measure(compute, tuning: tuningStore)
                try recorder?.record(measured, repeats: `repeat`, device: compute.device)
                results += measured
            }
            try recorder?.finish()
        } catch {
            recorder?.fail(error)
            throw error
        }
        results = Self.ranked(results)
        if json { Console.current.line(try JSONOutput.string(results)) } else { printTable(results, runID: recorder?.runID) }
        if let baselineResults {
            let regressions = Self.regressions(results, against: baselineResults, slowdown: try slowdownFraction())
            for line in regressions { Console.current.note("regression: \(line)") }
            guard regressions.isEmpty else { throw ExitCode(2) }
            Console.current.note("no regression against run \(baseline!) (max slowdown \(maxSlowdown))")
        }
    }

    private func printTable(_ results: [BenchmarkResult], runID: Int64?) {
        let fastest = Self.fastest(results)
        let memory = results.contains { $0.peakExtraBytes != nil }
        func cells(_ r: BenchmarkResult) -> [String] {
            let timing = [r.timing.map { formatted($0.median) } ?? "-", r.timing.map { formatted($0.min) } ?? "-",
                          r.timing.map { formatted($0.p90) } ?? "-", r.kernelTiming.map { formatted($0.median) } ?? ""]
            let rates = [r.gbPerSecond.map { String(format: "%.1f", $0) } ?? "", r.gflopPerSecond.map { String(format: "%.1f", $0) } ?? "",
                         r.percentOfCopy.map { String(format: "%.0f%%", $0) } ?? ""]
            let extra = memory ? [r.peakExtraBytes.map { String(format: "%.1f", Double($0) / 1e6) } ?? ""] : []
            return [r.op, r.shape, r.backend + (fastest.contains(r.key) ? " *" : ""), r.device] + timing + rates + extra + [r.check]
        }
        Console.current.line(Table.render(
            header: ["op", "shape", "backend", "device", "median ms", "min ms", "p90 ms", "kernel ms", "GB/s", "GFLOP/s", "% of copy"]
                + (memory ? ["extra MB"] : []) + ["check"],
            rows: results.map(cells)))
        Console.current.line("* fastest for its op and shape; GB/s counts 8 bytes per element (logits read once, gradient written once); "
                             + "% of copy is against a copy of the same bytes on the same device"
                             + (memory ? "; extra MB is one call's peak resident memory beyond its inputs and outputs" : ""))
        if let runID { Console.current.line("run \(runID) recorded in \(store.path) (table timings, view bench_results)") }
    }

    /// Each op × shape × device of this run slower than the baseline by more than `slowdown`, or whose
    /// check no longer passes. Entries the baseline does not have are not compared.
    static func regressions(_ results: [BenchmarkResult], against baseline: [ExperimentStore.BenchResult], slowdown: Double) -> [String] {
        let base = Dictionary(baseline.map { ("\($0.op)|\($0.shape)|\($0.backend)|\($0.device)", $0) }) { first, _ in first }
        return results.compactMap { r in
            guard let b = base[r.key] else { return nil }
            let name = "\(r.op) \(r.shape) on \(r.backend) \(r.device)"
            if r.check != b.checkResult { return "\(name): the check was '\(b.checkResult)', now '\(r.check)'" }
            guard let now = r.timing?.median, let before = b.medianMs, before > 0 else { return nil }
            return now > before * (1 + slowdown)
                ? "\(name): median \(formatted(now)) ms against \(formatted(before)) ms, \(String(format: "%+.0f%%", 100 * (now / before - 1)))"
                : nil
        }
    }

    /// By shape (in the order they were measured), then op, then fastest first.
    static func ranked(_ results: [BenchmarkResult]) -> [BenchmarkResult] {
        var shapeRank: [String: Int] = [:]
        for r in results where shapeRank[r.shape] == nil { shapeRank[r.shape] = shapeRank.count }
        let ops = ["copy", "xent", "xent+softcap", "xent+z", "xent+softcap+z", "linear-forward", "linear-backward", "step", "linear-xent"]
        return results.sorted { a, b in
            (shapeRank[a.shape]!, ops.firstIndex(of: a.op) ?? 9, -a.speed) < (shapeRank[b.shape]!, ops.firstIndex(of: b.op) ?? 9, -b.speed)
        }
    }

    /// The fastest result of each op and shape when more than one backend ran it.
    static func fastest(_ results: [BenchmarkResult]) -> Set<String> {
        let groups = Dictionary(grouping: results.filter { $0.timing != nil }) { "\($0.op)|\($0.shape)" }
        return Set(groups.values.filter { $0.count > 1 }.compactMap { $0.max { $0.speed < $1.speed }?.key })
    }

    private func runner<B: ComputeBackend>(_ compute: B) -> BenchmarkRunner<B> {
        var runner = BenchmarkRunner(backend: compute, warmup: warmup, repeats: `repeat`, seed: seed)
        runner.lossOptions = CrossEntropyOptions(softcap: extended.softcap, zLoss: extended.zLoss)
        runner.xentName = "xent" + extended.opSuffix
        runner.elementType = dtype
        runner.classifierLayout = classifierLayout
        runner.filterEpsilon = filterEpsilon
        return runner
    }

    /// The fused op on `compute` with the store's tuning for the shape's class (said on stderr).
    private func tunedCrossEntropy(_ compute: any ComputeBackend, _ shape: Shape, copyGBs: Double?, tuning store: ExperimentStore?) throws -> BenchmarkResult {
        let tuned = try tuning.apply(compute, op: "xent" + extended.opSuffix, shape: shape, dtype: dtype, store: store)
        func run<T: ComputeBackend>(_ t: T) throws -> BenchmarkResult { try runner(t).crossEntropy(shape, copyGBs: copyGBs) }
        return try run(tuned)
    }

    private func measure<B: ComputeBackend>(_ compute: B, tuning store: ExperimentStore?) throws -> [BenchmarkResult] {
        let runner = runner(compute)
        var results: [BenchmarkResult] = []
        if op == .empty {
            let timing = TimingSamples.measure(warmup: warmup, repeats: `repeat`) {}
            return [BenchmarkResult(op: "empty", shape: "-", backend: compute.name, device: compute.deviceName, timing: timing,
                                    kernelTiming: nil, bytes: 0, flops: 0, gbPerSecond: nil, gflopPerSecond: nil, percentOfCopy: nil, check: "ok")]
        }
        if op == .linearXent {
            for shape in try ShapeList.parseLinear(shapeText) {
                if Console.current.showsProgress { Console.current.note("bench: linear-xent \(shape)…") }
                do {
                    let logits = Shape(rows: shape.rows, cols: shape.vocabulary)
                    let tuned = try tuning.apply(compute, op: "linear-xent" + extended.opSuffix, shape: logits, dtype: .f32, store: store)
                    func run<T: ComputeBackend>(_ t: T) throws -> BenchmarkResult { try self.runner(t).linearCrossEntropy(logits, features: shape.features) }
                    results.append(try run(tuned))
                } catch let error as SoftmaxError {
                    // A device that cannot take the shape (its memory, its largest buffer): said in
                    // its row, the others still run.
                    results.append(BenchmarkResult(op: runner.linearOpName, shape: shape.description, backend: compute.name,
                                                   device: compute.deviceName, bytes: 0, flops: 0, check: "failed: \(error)"))
                }
            }
            return results
        }
        for shape in try parsedShapes() {
            if op == .xent || op == .all {
                if Console.current.showsProgress { Console.current.note("bench: xent \(shape)…") }
                let copy = try runner.copy(shape)
                results.append(copy)
                results.append(try tunedCrossEntropy(compute, shape, copyGBs: copy.gbPerSecond, tuning: store))
            }
            if op == .linear || op == .all {
                if Console.current.showsProgress { Console.current.note("bench: linear \(shape)x\(features)…") }
                results += try runner.linear(shape, features: features)
            }
            if op == .step || op == .all {
                if Console.current.showsProgress { Console.current.note("bench: step \(shape)x\(features)…") }
                results.append(try runner.step(shape, features: features))
            }
        }
        return results
    }
}
