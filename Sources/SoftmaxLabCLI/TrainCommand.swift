import ArgumentParser
import ExperimentStore
import Foundation
import SoftmaxCore
import SoftmaxTraining

/// `softmax-lab train`: a linear softmax classifier on real or synthetic data, every epoch recorded.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a softmax classifier and record the run in the experiment store.")

    @Option(help: "digits | iris | blobs | spiral | a CSV file (features, then the label unless --label-column).")
    var dataset = "digits"
    @Option(help: "Examples of synthetic data (blobs, spiral).") var samples = 1000
    @Option(help: "Features of blobs.") var features = 2
    @Option(help: "Classes of blobs and spiral.") var classes = 3
    @Option(help: "CSV label column, 0-based; negative counts from the end.") var labelColumn = -1
    @Option(help: "CSV: auto (a first line whose features are not numbers), yes or no: whether the first line is a header.")
    var header: CSVDataset.Header = .auto
    @Option(help: "CSV labels: auto (integers 0…K−1 are classes, text are names; anything else is refused), index (integers as class numbers) or names (each distinct value a class, in sorted order).")
    var labelKind: CSVDataset.LabelKind = .auto
    @Flag(help: "Scale each feature to mean 0, standard deviation 1 (statistics of the training split).") var standardize = false

    @Option(help: "Passes over the training set.") var epochs: Int?
    @Option(help: "Rows per step; 0 = full batch.") var batchSize: Int?
    @Option(name: .customLong("lr"), help: "Learning rate.") var learningRate: Float?
    @Option(help: "Momentum μ of SGD.") var momentum: Float?
    @Option(help: "L2 strength λ on W.") var l2: Float?
    @Option(name: .customLong("init"), help: "zeros | normal") var initialization: TrainingConfig.Initialization?
    @Option(help: "Standard deviation of --init normal.") var initScale: Float?
    @Option(name: .customLong("lr-decay"), help: "Multiply the learning rate by this after each epoch.") var learningRateDecay: Float?
    @Option(help: "Seed of initialization, split, shuffling and synthetic data.") var seed: UInt64 = 0
    @Option(help: "Fraction held out for validation; 0 trains on everything.") var valFraction: Double?
    @Option(help: "Also record the minibatch loss every this many steps.") var logEvery = 0
    @Option(help: "A name for the run.") var name: String?

    @OptionGroup var extended: ExtendedLossOptions
    @OptionGroup var backend: BackendOptions
    @OptionGroup var tuning: TuningOptions
    @OptionGroup var store: StoreOptions
    @Flag(help: "Train through the fused linear cross-entropy: the scores of a batch are never stored.") var fused = false
    @Flag(help: "Do not record the run.") var noRecord = false
    @Flag(help: "Print the result as JSON.") var json = false

    /// The flags as the configuration that the store saves.
    func config() -> TrainingConfig {
        var c = TrainingConfig()
        c.dataset = dataset
        c.samples = samples
        c.features = features
        c.classes = classes
        c.labelColumn = labelColumn
        c.csvHeader = header
        c.labelKind = labelKind
        c.standardize = standardize
        if let epochs { c.epochs = epochs }
        if let batchSize { c.batchSize = batchSize }
        if let learningRate { c.learningRate = learningRate }
        if let momentum { c.momentum = momentum }
        if let l2 { c.l2 = l2 }
        if let initialization { c.initialization = initialization }
        if let initScale { c.initScale = initScale }
        if let learningRateDecay { c.learningRateDecay = learningRateDecay }
        c.seed = seed
        if let valFraction { c.validationFraction = valFraction }
        c.logEvery = logEvery
        c.softcap = extended.softcap
        c.zLoss = extended.zLoss
        c.fused = fused
        return c
    }

    func validate() throws {
        do { try config().validate() } catch let error as InputError { throw ValidationError(error.description) }
    }

    /// The data set named by --dataset, split and (optionally) standardized.
    static func loadData(_ c: TrainingConfig) throws -> (train: Dataset, validation: Dataset?) {
        let data: Dataset
        switch c.dataset {
        case "digits": data = try BuiltinDatasets.digits()
        case "iris": data = try BuiltinDatasets.iris()
        case "blobs": data = try BuiltinDatasets.blobs(samples: c.samples, features: c.features, classes: c.classes, seed: c.seed)
        case "spiral": data = try BuiltinDatasets.spiral(samples: c.samples, classes: c.classes, seed: c.seed)
        default:
            guard c.dataset.contains("/") || c.dataset.contains(".") else {
                throw InputError("--dataset \(c.dataset) is not one of \(BuiltinDatasets.names.joined(separator: ", ")) and not a CSV path")
            }
            let (csv, reading) = try CSVDataset.load(path: c.dataset, labelColumn: c.labelColumn, header: c.csvHeader, labels: c.labelKind)
            Console.current.note(reading.describe(csv))
            data = csv
        }
        var (train, validation) = data.split(validationFraction: c.validationFraction, seed: c.seed)
        guard train.count > 0 else { throw InputError("\(data.name) has too few rows for --val-fraction \(c.validationFraction)") }
        if c.standardize {
            let (mean, std) = train.featureStatistics()
            train = train.standardized(mean: mean, std: std)
            validation = validation?.standardized(mean: mean, std: std)
        }
        return (train, validation)
    }

    struct Output: Encodable {
        var runID: Int64?
        var db: String?
        var dataset: String
        var trainRows: Int
        var validationRows: Int
        var features: Int
        var classes: Int
        var backend: String
        var steps: Int
        var seconds: Double
        var final: EpochMetrics
    }

    func run() throws {
        let c = config()
        let (train, validation) = try Self.loadData(c)
        // The loss sees a minibatch of rows (the whole set when full batch) at a time.
        let batch = Shape(rows: c.batchSize > 0 ? min(c.batchSize, train.count) : train.count, cols: train.classes)
        // --fused runs the fused linear op, tuned as `tune --op linear-xent`.
        let compute = try backend.make(op: (c.fused ? "linear-xent" : "xent") + extended.opSuffix, shape: batch, dtype: .f32, tuning: tuning,
                                       storePath: store.path)
        let out = Console.current
        out.note("\(train.name): \(train.count) training and \(validation?.count ?? 0) validation rows, \(train.featureCount) features, "
                 + "\(train.classes) classes; \(compute.name) backend")
        let recorder = noRecord ? nil : try RunRecorder(store: try store.open(), kind: .train, name: name, device: compute.device,
                                                        config: c, seed: c.seed)
        let progress = ProgressObserver(epochs: c.epochs, next: recorder)
        let result: TrainingResult
        do {
            result = try Self.train(compute, c, train, validation, progress)
        } catch {
            recorder?.fail(error)
            throw error
        }
        try recorder?.finish()
        progress.clear()

        let f = result.final
        if json {
            out.line(try JSONOutput.string(Output(
                runID: recorder?.runID, db: recorder.map { _ in store.path }, dataset: c.dataset, trainRows: train.count,
                validationRows: validation?.count ?? 0, features: train.featureCount, classes: train.classes, backend: compute.name,
                steps: result.steps, seconds: f.seconds, final: f)))
            return
        }
        var line = "epoch \(f.epoch): train loss \(formatted(f.trainLoss)), accuracy \(percent(f.trainAccuracy))"
        if let vl = f.validationLoss, let va = f.validationAccuracy {
            line += "; validation loss \(formatted(vl)), accuracy \(percent(va))"
        }
        out.line(line)
        out.line("trained in \(String(format: "%.2f", f.seconds)) s (\(result.steps) steps, \(compute.name) backend)")
        if let recorder {
            out.line("run \(recorder.runID) recorded in \(store.path); for example:")
            out.line("  sqlite3 \(store.path) \"SELECT epoch, key, value FROM metrics WHERE run_id = \(recorder.runID) AND key IN ('train_loss', 'val_acc') ORDER BY step, key\"")
            out.line("  softmax-lab runs show \(recorder.runID)\(store.db == nil ? "" : " --db \(store.path)")")
        }
    }

    /// Opens the existential backend for the generic trainer.
    static func train(_ backend: any ComputeBackend, _ c: TrainingConfig, _ train: Dataset, _ validation: Dataset?,
                      _ observer: TrainingObserver) throws -> TrainingResult {
        func run<B: ComputeBackend>(_ b: B) throws -> TrainingResult {
            try ClassifierTrainer(backend: b, config: c, train: train, validation: validation).run(observer: observer)
        }
        return try run(backend)
    }

    private func percent(_ x: Double) -> String { String(format: "%.1f%%", 100 * x) }
}

/// Draws a progress line on stderr (when it is a terminal) and passes events on.
final class ProgressObserver: TrainingObserver {
    let epochs: Int
    let next: TrainingObserver?
    init(epochs: Int, next: TrainingObserver?) {
        self.epochs = epochs
        self.next = next
    }

    func trainingDidFinishStep(_ step: Int, epoch: Int, loss: Double) throws {
        try next?.trainingDidFinishStep(step, epoch: epoch, loss: loss)
    }

    func trainingDidFinishEpoch(_ m: EpochMetrics) throws {
        try next?.trainingDidFinishEpoch(m)
        if Console.current.showsProgress {
            let validation = m.validationAccuracy.map { String(format: ", val acc %.1f%%", 100 * $0) } ?? ""
            FileHandle.standardError.write(Data("\r\u{1B}[Kepoch \(m.epoch)/\(epochs): loss \(formatted(m.trainLoss))\(validation)".utf8))
        }
    }

    func clear() {
        if Console.current.showsProgress { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}

extension TrainingConfig.Initialization: ExpressibleByArgument {}
extension CSVDataset.Header: ExpressibleByArgument {}
extension CSVDataset.LabelKind: ExpressibleByArgument {}
