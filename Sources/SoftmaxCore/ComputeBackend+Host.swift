/// Array-in, array-out conveniences built on the buffer operations (for `loss`, tests and library
/// users); a training loop should use the buffers directly.
extension ComputeBackend {
    public func makeBuffer(_ matrix: Matrix) throws -> FloatBuffer {
        let buffer = try makeBuffer(rows: matrix.rows, cols: matrix.cols)
        try upload(matrix, to: buffer)
        return buffer
    }

    public func makeTargets(_ targets: Targets) throws -> BackendTargets<IndexBuffer, FloatBuffer> {
        switch targets {
        case .classIndices(let labels): .classIndices(try makeIndexBuffer(labels))
        case .probabilities(let p): .probabilities(try makeBuffer(p))
        }
    }

    /// `storage`: the logits are held (rounded) in that type; `gradientType`: the gradient's
    /// (the logits' by default). The result is float32 either way.
    public func crossEntropy(
        logits: Matrix, targets: Targets, options: CrossEntropyOptions = CrossEntropyOptions(),
        storage: ElementType = .f32, gradientType: ElementType? = nil
    ) throws -> CrossEntropyResult {
        // No checks of its own: the backend's (every one of them makes the same) name the row.
        let n = logits.rows
        let logitsBuffer = try makeBuffer(rows: n, cols: logits.cols, elementType: storage)
        try upload(logits, to: logitsBuffer)
        let outputs = CrossEntropyOutputs<FloatBuffer, IndexBuffer>(
            gradient: try makeBuffer(rows: n, cols: logits.cols, elementType: gradientType ?? storage),
            rowLosses: try makeBuffer(rows: n, cols: 1),
            logSumExp: try makeBuffer(rows: n, cols: 1),
            predictions: try makeIndexBuffer([Int32](repeating: 0, count: n)))
        let value = try crossEntropy(logits: logitsBuffer, targets: try makeTargets(targets), options: options, outputs: outputs)
        return CrossEntropyResult(
            loss: value.loss,
            zLoss: value.zLoss,
            rowLosses: try download(outputs.rowLosses!).storage,
            gradient: try download(outputs.gradient!),
            logSumExp: try download(outputs.logSumExp!).storage,
            predictions: try download(indices: outputs.predictions!),
            accuracy: value.accuracy ?? .nan)
    }

    /// The fused linear cross-entropy on host matrices: hidden N×D, classifier D×V (V×D with
    /// layout `.vd`), bias V (or nil); the gradients are computed when `gradients` is set, with
    /// Cut Cross-Entropy's tile filter when `filterEpsilon` > 0 (`LinearCrossEntropyOutputs`).
    public func linearCrossEntropy(
        hidden: Matrix, classifier: Matrix, layout: ClassifierLayout = .dv, bias: [Float]?, targets: Targets,
        options: CrossEntropyOptions = CrossEntropyOptions(), gradients: Bool = true, filterEpsilon: Float = 0
    ) throws -> LinearCrossEntropyResult {
        let n = hidden.rows, d = hidden.cols, v = layout == .dv ? classifier.cols : classifier.rows
        let biasBuffer = try bias.map { try makeBuffer(Matrix(rows: 1, cols: $0.count, storage: $0)) }
        let outputs = LinearCrossEntropyOutputs<FloatBuffer, IndexBuffer>(
            hiddenGradient: gradients ? try makeBuffer(rows: n, cols: d) : nil,
            classifierGradient: gradients ? try makeBuffer(rows: classifier.rows, cols: classifier.cols) : nil,
            biasGradient: gradients && bias != nil ? try makeBuffer(rows: 1, cols: v) : nil,
            rowLosses: try makeBuffer(rows: n, cols: 1),
            logSumExp: try makeBuffer(rows: n, cols: 1),
            predictions: try makeIndexBuffer([Int32](repeating: 0, count: n)), filterEpsilon: filterEpsilon)
        let value = try linearCrossEntropy(
            hidden: try makeBuffer(hidden), classifier: try makeBuffer(classifier), layout: layout, bias: biasBuffer,
            targets: try makeTargets(targets), options: options, outputs: outputs)
        return LinearCrossEntropyResult(
            value: value,
            rowLosses: try download(outputs.rowLosses!).storage,
            logSumExp: try download(outputs.logSumExp!).storage,
            predictions: try download(indices: outputs.predictions!),
            hiddenGradient: try outputs.hiddenGradient.map { try download($0) },
            classifierGradient: try outputs.classifierGradient.map { try download($0) },
            biasGradient: try outputs.biasGradient.map { try download($0).storage })
    }

    /// Objective and gradients of the linear classifier scores = x·W + b.
    public func classifierGradients(
        x: Matrix, targets: Targets, weights: Matrix, bias: [Float],
        options: CrossEntropyOptions = CrossEntropyOptions(), l2: Float = 0
    ) throws -> ClassifierGradients {
        guard weights.rows == x.cols else {
            throw SoftmaxError.shapeMismatch(what: "weights", expected: "\(x.cols) rows (one per feature)", got: "\(weights.rows)")
        }
        guard bias.count == weights.cols else {
            throw SoftmaxError.shapeMismatch(what: "bias", expected: "\(weights.cols) values", got: "\(bias.count)")
        }
        // Bad targets are rejected before anything is uploaded or computed.
        try InputValidation.validate(logits: Shape(rows: x.rows, cols: weights.cols), targets: targets, options: options)
        let xb = try makeBuffer(x), wb = try makeBuffer(weights)
        let bb = try makeBuffer(Matrix(rows: 1, cols: bias.count, storage: bias))
        let scores = try makeBuffer(rows: x.rows, cols: weights.cols)
        try linearForward(x: xb, weights: wb, bias: bb, scores: scores)
        let grad = try makeBuffer(rows: x.rows, cols: weights.cols)
        let loss = try crossEntropy(logits: scores, targets: try makeTargets(targets), options: options,
                                    outputs: CrossEntropyOutputs(gradient: grad)).loss
        let dW = try makeBuffer(rows: weights.rows, cols: weights.cols)
        let db = try makeBuffer(rows: 1, cols: weights.cols)
        try linearBackward(x: xb, gradient: grad, weights: wb, l2: l2, weightGradient: dW, biasGradient: db)
        var squaredNorm = 0.0
        for w in weights.storage { squaredNorm += Double(w) * Double(w) }
        return ClassifierGradients(
            objective: loss + 0.5 * Double(l2) * squaredNorm,
            weightGradient: try download(dW),
            biasGradient: try download(db).storage)
    }
}
