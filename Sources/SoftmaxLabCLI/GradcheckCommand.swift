import ArgumentParser
import ExperimentStore
import SoftmaxCore
import SoftmaxReference

/// `softmax-lab gradcheck`: each backend's analytic gradients of the full classifier objective
/// against central differences of the float64 objective, and, where a backend has it, the fused
/// linear cross-entropy's ∂H, ∂W, ∂b against central differences of its float64 loss.
struct GradcheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gradcheck",
        abstract: "Check analytic gradients of the classifier objective against finite differences.")

    @Option(help: "Rows N of the random batch.") var rows = 8
    @Option(help: "Classes C.") var classes = 5
    @Option(help: "Features D.") var features = 4
    @Option(help: "Seed of the random data.") var seed: UInt64 = 0
    @Option(help: "L2 strength λ of (λ/2)‖W‖².") var l2: Float = 0.01
    @OptionGroup var loss: LossOptions
    @OptionGroup var backend: BackendOptions
    @OptionGroup var tuning: TuningOptions
    @OptionGroup var store: StoreOptions
    @Flag(help: "Do not record the run.") var noRecord = false
    @Flag(help: "Print the result as JSON.") var json = false

    /// What the store saves as the run's configuration.
    struct Config: Encodable {
        var rows: Int, classes: Int, features: Int, seed: UInt64, l2: Float
        var reduction: String, ignoreIndex: Int32, weights: [Float]?, labelSmoothing: Float, softcap: Float?, zLoss: Float
        var backend: String
    }

    /// Float32 backends against float64 differences; the oracle itself must be far tighter.
    static let backendTolerance = 1e-4
    static let oracleTolerance = 1e-7

    func validate() throws {
        for (name, value, limit) in [("--rows", rows, 100_000), ("--classes", classes, 10_000), ("--features", features, 10_000)] {
            guard value >= 1, value <= limit else { throw ValidationError("\(name) must be in 1...\(limit), got \(value)") }
        }
        guard (features + 1) * classes + rows * features <= 20_000 else {
            throw ValidationError("--features × --classes (with --rows × --features for ∂H) is too large for finite differences (at most 20000 parameters)")
        }
        guard l2.isFinite, l2 >= 0 else { throw ValidationError("--l2 must be a non-negative number, got \(l2)") }
    }

    struct Row: Encodable {
        var computedBy: String
        /// ∂H of the fused linear cross-entropy's rows; nil for the classifier objective's.
        var relativeErrorH: Double? = nil
        var relativeErrorW: Double
        var relativeErrorB: Double
        var maxAbsoluteError: Double
        var tolerance: Double
        var passed: Bool
    }

    struct Output: Encodable {
        var rows: Int, classes: Int, features: Int, seed: UInt64, l2: Float
        var objective: Double
        var results: [Row]
        var passed: Bool
    }

    func run() throws {
        var rng = SeededGenerator(seed: seed)
        let uniform = { (n: Int, scale: Float, rng: inout SeededGenerator) in (0..<n).map { _ in Float.random(in: -scale...scale, using: &rng) } }
        let x = Matrix(rows: rows, cols: features, storage: uniform(rows * features, 1, &rng))
        let w = Matrix(rows: features, cols: classes, storage: uniform(features * classes, 0.5, &rng))
        let b = uniform(classes, 0.5, &rng)
        let labels = (0..<rows).map { _ in Int32.random(in: 0..<Int32(classes), using: &rng) }
        let options = try loss.options(classes: classes)
        let targets = Targets.classIndices(labels)

        // Numeric gradient of the float64 objective over every W and b entry.
        let xd = DoubleMatrix(x)
        let params = w.storage.map(Double.init) + b.map(Double.init)
        let numeric = GradientCheck.centralDifference(at: params, step: 1e-6) { v in
            ReferenceLinear.objective(
                x: xd, targets: targets, weights: DoubleMatrix(rows: features, cols: classes, storage: Array(v[0..<(features * classes)])),
                bias: Array(v[(features * classes)...]), options: options, l2: Double(l2)).objective
        }
        let numericW = Array(numeric[0..<(features * classes)]), numericB = Array(numeric[(features * classes)...])
        let oracle = ReferenceLinear.objective(x: xd, targets: targets, weights: DoubleMatrix(w), bias: b.map(Double.init),
                                               options: options, l2: Double(l2))
        var results = [row("float64 oracle", oracle.weightGradient.storage, oracle.biasGradient, numericW, numericB, Self.oracleTolerance)]
        let tuningStore = tuning.store(store.path)
        let computes = try backend.makeAll().map {
            try tuning.apply($0, op: "xent" + loss.extended.opSuffix, shape: Shape(rows: rows, cols: classes), dtype: .f32, store: tuningStore)
        }
        let recorder = noRecord ? nil : try RunRecorder(
            store: try store.open(), kind: .gradcheck, name: nil, device: computes[0].device,
            config: Config(rows: rows, classes: classes, features: features, seed: seed, l2: l2, reduction: options.reduction.rawValue,
                           ignoreIndex: options.ignoreIndex, weights: options.classWeights, labelSmoothing: options.labelSmoothing,
                           softcap: options.softcap, zLoss: options.zLoss, backend: computes.map { "\($0.name) (\($0.deviceName))" }.joined(separator: ", ")), seed: seed)
        for compute in computes {
            let g = try compute.classifierGradients(x: x, targets: targets, weights: w, bias: b, options: options, l2: l2)
            let label = compute.name == "swift" ? "swift backend" : "\(compute.name) \(compute.deviceName)"
            results.append(row(label, g.weightGradient.storage.map(Double.init), g.biasGradient.map(Double.init),
                               numericW, numericB, Self.backendTolerance))
        }

        // The fused linear cross-entropy (no L2 term: it is the loss of f = H·W + b alone), its
        // three gradients against differences over every entry of H, W and b.
        let hCount = rows * features, wCount = features * classes
        let fusedNumeric = GradientCheck.centralDifference(at: x.storage.map(Double.init) + params, step: 1e-6) { v in
            ReferenceLinear.linearCrossEntropy(
                hidden: DoubleMatrix(rows: rows, cols: features, storage: Array(v[0..<hCount])),
                classifier: DoubleMatrix(rows: features, cols: classes, storage: Array(v[hCount..<(hCount + wCount)])),
                bias: Array(v[(hCount + wCount)...]), targets: targets, options: options).crossEntropy.loss
        }
        let (numericH, fusedW, fusedB) = (Array(fusedNumeric[0..<hCount]), Array(fusedNumeric[hCount..<(hCount + wCount)]),
                                          Array(fusedNumeric[(hCount + wCount)...]))
        for compute in computes {
            let g = try compute.linearCrossEntropy(hidden: x, classifier: w, bias: b, targets: targets, options: options)
            let label = (compute.name == "swift" ? "swift backend" : "\(compute.name) \(compute.deviceName)") + ", fused linear"
            results.append(row(label, g.classifierGradient!.storage.map(Double.init), g.biasGradient!.map(Double.init), fusedW, fusedB,
                               Self.backendTolerance, hidden: (g.hiddenGradient!.storage.map(Double.init), numericH)))
        }

        let output = Output(rows: rows, classes: classes, features: features, seed: seed, l2: l2, objective: oracle.objective,
                            results: results, passed: results.allSatisfy(\.passed))
        if let recorder {
            try recorder.record(metrics: results.flatMap { r -> [MetricWriter.Sample] in
                let p = r.computedBy.replacingOccurrences(of: " ", with: "_")
                return [MetricWriter.Sample(key: "\(p)_rel_error_dW", step: nil, epoch: nil, value: r.relativeErrorW),
                        MetricWriter.Sample(key: "\(p)_rel_error_db", step: nil, epoch: nil, value: r.relativeErrorB)]
                    + (r.relativeErrorH.map { [MetricWriter.Sample(key: "\(p)_rel_error_dH", step: nil, epoch: nil, value: $0)] } ?? [])
            })
            if output.passed { try recorder.finish() } else { recorder.fail(InputError("a relative error exceeds its tolerance")) }
        }
        if json {
            Console.current.line(try JSONOutput.string(output))
        } else {
            let out = Console.current
            out.line("gradcheck: N=\(rows) C=\(classes) D=\(features) seed=\(seed) λ=\(formatted(l2)), objective \(formatted(oracle.objective))")
            out.line("analytic vs central differences (h = 1e-6) of the float64 objective (the fused linear rows: of its loss, no L2); relative error ‖a − n‖/(‖a‖ + ‖n‖):")
            out.line(Table.render(
                header: ["computed by", "rel. error ∂H", "rel. error ∂W", "rel. error ∂b", "max |a − n|", "tolerance", "result"],
                rows: results.map { [$0.computedBy, $0.relativeErrorH.map(formatted) ?? "", formatted($0.relativeErrorW), formatted($0.relativeErrorB),
                                     formatted($0.maxAbsoluteError), formatted($0.tolerance), $0.passed ? "ok" : "FAILED"] }))
        }
        if !output.passed { throw ExitCode.failure }
    }

    /// `hidden`: ∂H and its differences, for the fused linear rows.
    private func row(_ name: String, _ w: [Double], _ b: [Double], _ nw: [Double], _ nb: [Double], _ tolerance: Double,
                     hidden: ([Double], [Double])? = nil) -> Row {
        let ew = GradientCheck.relativeError(w, nw), eb = GradientCheck.relativeError(b, nb)
        let eh = hidden.map { GradientCheck.relativeError($0.0, $0.1) }
        let worst = GradientCheck.maxAbsoluteError(w + b + (hidden?.0 ?? []), nw + nb + (hidden?.1 ?? [])).error
        return Row(computedBy: name, relativeErrorH: eh, relativeErrorW: ew, relativeErrorB: eb, maxAbsoluteError: worst, tolerance: tolerance,
                   passed: ew <= tolerance && eb <= tolerance && (eh ?? 0) <= tolerance)
    }
}
