import ArgumentParser
import Foundation
import SoftmaxCore

/// `softmax-lab loss`: the loss (and optionally the gradient) of logits and targets read from files.
struct LossCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loss",
        abstract: "Compute softmax cross-entropy of logits from a file, as PyTorch's cross_entropy does, or of a linear layer's logits without forming them (--hidden, --classifier).")

    @Option(help: "Logits (N, C): .npy (float16, bfloat16 as ml_dtypes saves it (<V2), float32, float64; C order) or text/CSV, one row per line. 16-bit logits stay 16-bit on the backend.")
    var logits: String?

    @Option(help: "Hidden states H (N, D), instead of --logits: the logits are H·W + b, computed tile by tile and never stored (the fused linear cross-entropy; class-index --labels only). .npy or text/CSV.")
    var hidden: String?

    @Option(help: "The classifier W for --hidden: (D, V), or (V, D) with --classifier-layout vd. .npy or text/CSV.")
    var classifier: String?

    @Option(help: "How --classifier is stored: dv (D×V, this project's layout) or vd (V×D, PyTorch's nn.Linear.weight). ∂W is written the same way.")
    var classifierLayout: ClassifierLayout = .dv

    @Option(help: "Bias b (V) for --hidden: .npy, text, or a comma-separated list.")
    var bias: String?

    @Option(help: "With --hidden: write ∂loss/∂H (N, D) here as float32 .npy.")
    var gradHiddenOut: String?

    @Option(help: "With --hidden: write ∂loss/∂W here as float32 .npy, in --classifier-layout.")
    var gradClassifierOut: String?

    @Option(help: "With --hidden and --bias: write ∂loss/∂b (V) here as float32 .npy.")
    var gradBiasOut: String?

    @Option(help: "With --hidden: Cut Cross-Entropy's gradient filter, leaving out of ∂H, ∂W and ∂b every tile of the logits' gradient whose entries are all below ε before the reduction's scale (0 = exact, the default).")
    var filterEpsilon: Float = 0

    @Option(help: "Class-index labels, one per row: .npy (integers) or text with one label per line.")
    var labels: String?

    @Option(help: "Probability targets (N, C) instead of labels: .npy or CSV.")
    var targets: String?

    @OptionGroup var loss: LossOptions
    @OptionGroup var backend: BackendOptions
    @OptionGroup var tuning: TuningOptions
    @OptionGroup var store: StoreOptions

    @Option(help: "Write the gradient ∂loss/∂logits here as .npy, in --grad-dtype.")
    var gradOut: String?

    @Option(help: "The gradient's storage: f32, f16 or bf16 (default: the logits', f32 unless they are a 16-bit .npy), written to --grad-out in that type (bf16 as <V2, ml_dtypes' layout).")
    var gradDtype: ElementType?

    @Option(help: "Write each row's predicted class (argmax, the first on ties) here as int64 .npy.")
    var predictionsOut: String?

    @Flag(help: "Print the result as JSON (with per-row losses).")
    var json = false

    func validate() throws {
        guard (logits == nil) != (hidden == nil) else {
            throw ValidationError("give exactly one of --logits and --hidden (with --classifier)")
        }
        guard (labels == nil) != (targets == nil) else {
            throw ValidationError("give exactly one of --labels (class indices) and --targets (probabilities)")
        }
        if hidden != nil {
            guard classifier != nil else { throw ValidationError("--hidden needs --classifier (the W of f = H·W + b)") }
            guard targets == nil else {
                throw ValidationError("--hidden takes class-index --labels only: probability targets are an N×V matrix themselves, the size the fused linear cross-entropy exists to avoid")
            }
            for (flag, given) in [("--grad-out", gradOut != nil), ("--grad-dtype", gradDtype != nil)] where given {
                throw ValidationError("\(flag) is for --logits; with --hidden use --grad-hidden-out, --grad-classifier-out and --grad-bias-out")
            }
            if gradBiasOut != nil && bias == nil { throw ValidationError("--grad-bias-out needs --bias") }
            guard filterEpsilon >= 0, filterEpsilon.isFinite else { throw ValidationError("--filter-epsilon must be a finite number ≥ 0, got \(filterEpsilon)") }
        } else {
            for (flag, given) in [("--classifier", classifier != nil), ("--bias", bias != nil), ("--grad-hidden-out", gradHiddenOut != nil),
                                  ("--grad-classifier-out", gradClassifierOut != nil), ("--grad-bias-out", gradBiasOut != nil),
                                  ("--filter-epsilon", filterEpsilon != 0)] where given {
                throw ValidationError("\(flag) is for --hidden (the fused linear cross-entropy), not --logits")
            }
        }
        for (flag, path) in [("--grad-out", gradOut), ("--predictions-out", predictionsOut), ("--grad-hidden-out", gradHiddenOut),
                             ("--grad-classifier-out", gradClassifierOut), ("--grad-bias-out", gradBiasOut)] {
            if let path, !path.lowercased().hasSuffix(".npy") { throw ValidationError("\(flag) must name a .npy file, got '\(path)'") }
        }
    }

    struct Output: Encodable {
        /// The objective, z part included.
        var loss: Double
        /// The z part alone (0 without --z-loss).
        var zLoss: Double
        /// Over the rows that count (not ignored); null when none does.
        var accuracy: Double?
        var reduction: String
        var rows: Int
        var classes: Int
        var backend: String
        var rowLosses: [Float]?
        var gradientFile: String?
        var predictionsFile: String?
        /// --hidden only: D, and the files the gradients went to.
        var features: Int? = nil
        var hiddenGradientFile: String? = nil
        var classifierGradientFile: String? = nil
        var biasGradientFile: String? = nil
    }

    func run() throws {
        if hidden != nil { return try runLinear() }
        let logits = self.logits!
        let gradientFile = try gradOut.map { try OutputFile($0, flag: "--grad-out") }
        let predictionsFile = try predictionsOut.map { try OutputFile($0, flag: "--predictions-out") }
        let input = try InputFiles.matrix(logits, what: "logits")
        let x = input.matrix
        let options = try loss.options(classes: x.cols)
        let target: Targets
        if let labels {
            let l = try InputFiles.labels(labels)
            try InputValidation.validate(logits: x.shape, targets: .classIndices(l.labels), options: options,
                                         labelSource: l.name, rowName: l.locate)
            target = .classIndices(l.labels)
        } else {
            let t = try InputFiles.matrix(targets!, what: "probability targets")
            guard t.matrix.shape == x.shape else {
                throw InputError("\(t.name) has shape \(t.matrix.shape) but \(input.name) has \(x.shape); probability targets must match the logits")
            }
            target = .probabilities(t.matrix)
        }
        let compute = try backend.make(op: "xent" + loss.extended.opSuffix, shape: x.shape, dtype: input.storage, tuning: tuning,
                                       storePath: store.path)
        let gradientType = gradDtype ?? input.storage
        let result = try compute.crossEntropy(logits: x, targets: target, options: options, storage: input.storage, gradientType: gradientType)
        try gradientFile?.write(NumpyFile.data(result.gradient, as: gradientType))
        try predictionsFile?.write(NumpyFile.data(result.predictions.map(Int64.init)))
        let output = Output(
            loss: result.loss, zLoss: result.zLoss, accuracy: result.accuracy.isNaN ? nil : result.accuracy,
            reduction: options.reduction.rawValue, rows: x.rows, classes: x.cols, backend: compute.name,
            rowLosses: json || options.reduction == .none ? result.rowLosses : nil, gradientFile: gradOut,
            predictionsFile: predictionsOut)
        let labelValues: [Int32]? = if case .classIndices(let l) = target { l } else { nil }
        guard try show(output, rowLosses: result.rowLosses, options: options, labels: labelValues, locate: input.locate,
                       shape: "\(x.rows) rows, \(x.cols) classes, \(compute.name) backend",
                       accuracyAgainst: labels != nil ? "label" : "target's argmax") else { return }
        let out = Console.current
        if let gradOut { out.line("gradient (\(x.rows)x\(x.cols), \(["f32": "float32", "f16": "float16", "bf16": "bfloat16"][gradientType.rawValue]!)) written to \(gradOut)") }
        if let predictionsOut { out.line("predictions (\(x.rows), int64) written to \(predictionsOut)") }
    }

    /// What both forms print: the all-ignored warning, then the output as JSON (returning false),
    /// or the loss, its z part and the accuracy as text (returning true: the caller adds the files).
    func show(_ output: Output, rowLosses: [Float], options: CrossEntropyOptions, labels: [Int32]?, locate: (Int) -> String,
              shape: String, accuracyAgainst: String) throws -> Bool {
        if let labels, options.reduction == .mean, labels.allSatisfy({ $0 == options.ignoreIndex }) {
            Console.current.note("warning: every row has the ignore index \(options.ignoreIndex); the mean over no rows is NaN (as in PyTorch)")
        }
        if json {
            Console.current.line(try JSONOutput.string(output))
            return false
        }
        let out = Console.current
        if options.reduction == .none {
            out.line("row losses (\(shape)):")
            for (i, l) in rowLosses.enumerated().prefix(20) { out.line("  \(locate(i)): \(formatted(l))") }
            if output.rows > 20 { out.line("  … \(output.rows - 20) more (use --json for all)") }
            out.line("sum: \(formatted(output.loss))")
        } else {
            out.line("loss (\(options.reduction.rawValue) over \(shape)): \(formatted(output.loss))")
        }
        if options.zLoss > 0 { out.line("z part (included above): \(formatted(output.zLoss))") }
        if let accuracy = output.accuracy { out.line("accuracy: \(formatted(accuracy)) (argmax against the \(accuracyAgainst))") }
        return true
    }
}
