import SoftmaxCore

/// Trains a linear softmax classifier (scores = x·W + b) by minibatch SGD with momentum, entirely
/// through `ComputeBackend`: data and weights stay in the backend's buffers, and each step reads
/// back only the minibatch loss.
public final class ClassifierTrainer<Backend: ComputeBackend> {
    let backend: Backend
    let config: TrainingConfig
    let train: Dataset
    let validation: Dataset?

    public init(backend: Backend, config: TrainingConfig, train: Dataset, validation: Dataset?) throws {
        try config.validate()
        guard train.count > 0 else { throw InputError("the training set is empty") }
        self.backend = backend
        self.config = config
        self.train = train
        self.validation = validation
    }

    /// A data set in the backend's memory, with buffers to score it.
    private struct DeviceData {
        var x: Backend.FloatBuffer
        var y: Backend.IndexBuffer
        var scores: Backend.FloatBuffer
        var count: Int
    }

    private func upload(_ d: Dataset) throws -> DeviceData {
        DeviceData(x: try backend.makeBuffer(d.features), y: try backend.makeIndexBuffer(d.labels),
                   scores: try backend.makeBuffer(rows: d.count, cols: d.classes), count: d.count)
    }

    /// Buffers of one minibatch size.
    private struct Batch {
        var indices: Backend.IndexBuffer
        var x: Backend.FloatBuffer
        var y: Backend.IndexBuffer
        var scores: Backend.FloatBuffer
        var gradient: Backend.FloatBuffer
    }

    private func makeBatch(_ rows: Int) throws -> Batch {
        let zeros = [Int32](repeating: 0, count: rows)
        return Batch(indices: try backend.makeIndexBuffer(zeros), x: try backend.makeBuffer(rows: rows, cols: train.featureCount),
                     y: try backend.makeIndexBuffer(zeros), scores: try backend.makeBuffer(rows: rows, cols: train.classes),
                     gradient: try backend.makeBuffer(rows: rows, cols: train.classes))
    }

    public func run(observer: TrainingObserver? = nil) throws -> TrainingResult {
        let clock = ContinuousClock(), started = clock.now
        let d = train.featureCount, c = train.classes
        var rng = SeededGenerator(seed: config.seed)
        var w0 = Matrix(rows: d, cols: c)
        if config.initialization == .normal {
            w0.storage = (0..<(d * c)).map { _ in config.initScale * Float(BuiltinDatasets.normal(&rng)) }
        }
        let w = try backend.makeBuffer(w0), b = try backend.makeBuffer(rows: 1, cols: c)
        let vw = try backend.makeBuffer(rows: d, cols: c), vb = try backend.makeBuffer(rows: 1, cols: c)
        let dw = try backend.makeBuffer(rows: d, cols: c), db = try backend.makeBuffer(rows: 1, cols: c)
        // The fused op has no L2 term: λ·W is added by an SGD step used as an axpy (see lossAndGradients).
        let l2Scratch = config.fused && config.l2 > 0 ? try backend.makeBuffer(rows: d, cols: c) : nil
        let trainData = try upload(train)
        let validationData = try validation.map(upload)

        let fullBatch = config.batchSize == 0 || config.batchSize >= train.count
        let batchSize = fullBatch ? train.count : config.batchSize
        let remainder = train.count % batchSize
        let batch = fullBatch ? nil : try makeBatch(batchSize)
        let lastBatch = fullBatch || remainder == 0 ? nil : try makeBatch(remainder)
        let fullGradient = fullBatch ? try backend.makeBuffer(rows: train.count, cols: c) : nil

        var learningRate = config.learningRate
        var history: [EpochMetrics] = []
        var step = 0
        var order = Array(0..<train.count).map(Int32.init)
        var epoch = 0
        do {
            for e in 1...config.epochs {
                epoch = e
                if !fullBatch { order.shuffle(using: &rng) }
                var start = 0
                while start < train.count {
                    let rows = min(batchSize, train.count - start)
                    let loss = try lossAndGradients(
                        fullBatch ? nil : (rows == batchSize ? batch! : lastBatch!), order[start..<(start + rows)],
                        trainData, w, b, gradient: fullGradient, dw, db, l2Scratch: l2Scratch)
                    try backend.sgdStep(parameter: w, gradient: dw, velocity: vw, learningRate: learningRate, momentum: config.momentum)
                    try backend.sgdStep(parameter: b, gradient: db, velocity: vb, learningRate: learningRate, momentum: config.momentum)
                    step += 1
                    start += rows
                    guard loss.isFinite else {
                        throw TrainingDiverged(epoch: epoch, step: step, symptom: "the loss is \(loss)", learningRate: learningRate)
                    }
                    if config.logEvery > 0, step % config.logEvery == 0 {
                        try observer?.trainingDidFinishStep(step, epoch: epoch, loss: loss)
                    }
                }
                let (trainLoss, trainAccuracy) = try evaluate(trainData, w, b)
                let validationResult = try validationData.map { try evaluate($0, w, b) }
                let metrics = EpochMetrics(
                    epoch: epoch, step: step, trainLoss: trainLoss, trainAccuracy: trainAccuracy,
                    validationLoss: validationResult?.loss, validationAccuracy: validationResult?.accuracy,
                    learningRate: learningRate, seconds: seconds(clock.now - started))
                history.append(metrics)
                try observer?.trainingDidFinishEpoch(metrics)
                learningRate *= config.learningRateDecay
            }
        } catch SoftmaxError.nonFinite(source: "logits", _, _, _) {
            // Inputs were checked when loaded, so non-finite scores mean the weights blew up.
            throw TrainingDiverged(epoch: epoch, step: step + 1, symptom: "the scores are no longer finite", learningRate: learningRate)
        }
        return TrainingResult(history: history, steps: step, weights: try backend.download(w), bias: try backend.download(b).storage)
    }

    /// One step's forward and backward pass, on the whole training set (no batch) or on the rows
    /// `indices` gathered into `batch`; returns the mean loss and leaves ∂W, ∂b in dw, db.
    private func lossAndGradients(
        _ batch: Batch?, _ indices: ArraySlice<Int32>, _ data: DeviceData, _ w: Backend.FloatBuffer, _ b: Backend.FloatBuffer,
        gradient fullGradient: Backend.FloatBuffer?, _ dw: Backend.FloatBuffer, _ db: Backend.FloatBuffer,
        l2Scratch: Backend.FloatBuffer?
    ) throws -> Double {
        let (x, y, scores, gradient): (Backend.FloatBuffer, Backend.IndexBuffer, Backend.FloatBuffer, Backend.FloatBuffer)
        if let m = batch {
            try backend.upload(indices: Array(indices), to: m.indices)
            try backend.gatherRows(m.indices, from: data.x, into: m.x)
            try backend.gatherLabels(m.indices, from: data.y, into: m.y)
            (x, y, scores, gradient) = (m.x, m.y, m.scores, m.gradient)
        } else {
            (x, y, scores, gradient) = (data.x, data.y, data.scores, fullGradient!)
        }
        if config.fused {
            let loss = try backend.linearCrossEntropy(
                hidden: x, classifier: w, layout: .dv, bias: b, targets: .classIndices(y), options: config.lossOptions,
                outputs: LinearCrossEntropyOutputs(classifierGradient: dw, biasGradient: db)).loss
            if let l2Scratch {
                // dw += λ·w: an SGD step with no momentum and learning rate −λ, from a zeroed velocity, is that axpy.
                try backend.sgdStep(parameter: dw, gradient: w, velocity: l2Scratch, learningRate: -config.l2, momentum: 0)
            }
            return loss
        }
        try backend.linearForward(x: x, weights: w, bias: b, scores: scores)
        let loss = try backend.crossEntropy(logits: scores, targets: .classIndices(y), options: config.lossOptions,
                                            outputs: CrossEntropyOutputs(gradient: gradient)).loss
        try backend.linearBackward(x: x, gradient: gradient, weights: w, l2: config.l2, weightGradient: dw, biasGradient: db)
        return loss
    }

    /// Mean loss and accuracy of the current classifier on a whole data set.
    private func evaluate(_ data: DeviceData, _ w: Backend.FloatBuffer, _ b: Backend.FloatBuffer) throws -> (loss: Double, accuracy: Double) {
        if config.fused {
            let value = try backend.linearCrossEntropy(
                hidden: data.x, classifier: w, layout: .dv, bias: b, targets: .classIndices(data.y), options: config.lossOptions,
                outputs: LinearCrossEntropyOutputs(accuracy: true))
            return (value.loss, Double(value.correct ?? 0) / Double(data.count))
        }
        try backend.linearForward(x: data.x, weights: w, bias: b, scores: data.scores)
        let loss = try backend.crossEntropy(logits: data.scores, targets: .classIndices(data.y), options: config.lossOptions,
                                            outputs: CrossEntropyOutputs()).loss
        let correct = try backend.countCorrect(scores: data.scores, labels: data.y)
        return (loss, Double(correct) / Double(data.count))
    }

    private func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }
}
