import SoftmaxCore

/// The pure-Swift backend: host memory, SIMD kernels, all cores. Always available, and the one
/// `auto` picks when there is no OpenCL GPU.
public final class SwiftBackend: ComputeBackend {
    public typealias FloatBuffer = HostBuffer
    public typealias IndexBuffer = HostLabels

    /// The fused cross-entropy's tunables (`softmax-lab tune` measures them per shape class).
    public var parameters: SwiftParameters

    public init(parameters: SwiftParameters = .defaults) { self.parameters = parameters }

    public var name: String { "swift" }

    public var deviceName: String {
        "CPU, \(Parallel.workerCount) threads, SIMD16 (\(Self.codeGeneration))"
    }

    public var device: DeviceDescription {
        DeviceDescription(
            backend: name, name: deviceName, vendor: CPUInfo.modelName, driverVersion: Self.codeGeneration, type: "CPU",
            computeUnits: Parallel.workerCount, globalMemoryBytes: CPUInfo.memoryBytes)
    }

    /// How the vector code was compiled: for the build machine's ISA, or portable.
    public static var codeGeneration: String {
        #if SOFTMAXLAB_AVX512
        "native ISA, FMA, AVX-512"
        #elseif SOFTMAXLAB_FMA
        "native ISA, FMA"
        #else
        "portable ISA"
        #endif
    }

    public static var threadCount: Int { Parallel.workerCount }

    public func makeBuffer(rows: Int, cols: Int) throws -> HostBuffer {
        try makeBuffer(rows: rows, cols: cols, elementType: .f32)
    }

    public func makeBuffer(rows: Int, cols: Int, elementType: ElementType) throws -> HostBuffer {
        guard rows >= 0, cols >= 0 else {
            throw SoftmaxError.invalidOption("a buffer cannot have shape \(rows)x\(cols)")
        }
        try MemoryBudget.require("a \(rows)x\(cols) \(elementType.rawValue) buffer", shape: [rows, cols], elementBytes: elementType.bytes)
        return HostBuffer(rows: rows, cols: cols, elementType: elementType)
    }

    /// Rounds to the buffer's type (nearest, ties to even) where it is 16-bit.
    public func upload(_ matrix: Matrix, to buffer: HostBuffer) throws {
        try buffer.requireShape(matrix.rows, matrix.cols, "upload destination")
        matrix.storage.withUnsafeBufferPointer {
            HalfConversion.narrow($0.baseAddress!, count: matrix.count, into: buffer.raw, buffer.elementType)
        }
    }

    public func download(_ buffer: HostBuffer) throws -> Matrix {
        var values = [Float](repeating: 0, count: buffer.count)
        values.withUnsafeMutableBufferPointer {
            HalfConversion.widen(buffer.raw, buffer.elementType, count: buffer.count, into: $0.baseAddress!)
        }
        return Matrix(rows: buffer.rows, cols: buffer.cols, storage: values)
    }

    /// Row i of a buffer of any element type, as float32.
    private func row(_ buffer: HostBuffer, _ i: Int) -> [Float] {
        var values = [Float](repeating: 0, count: buffer.cols)
        values.withUnsafeMutableBufferPointer {
            HalfConversion.widen(buffer.raw + i * buffer.cols * buffer.elementType.bytes, buffer.elementType, count: buffer.cols,
                                 into: $0.baseAddress!)
        }
        return values
    }

    public func makeIndexBuffer(_ labels: [Int32]) throws -> HostLabels { HostLabels(labels) }

    public func download(indices buffer: HostLabels) throws -> [Int32] { buffer.values }

    public func upload(indices labels: [Int32], to buffer: HostLabels) throws {
        guard labels.count == buffer.values.count else {
            throw SoftmaxError.shapeMismatch(what: "label upload", expected: "\(buffer.values.count) labels", got: "\(labels.count)")
        }
        buffer.values = labels
    }

    public func gatherRows(_ indices: HostLabels, from source: HostBuffer, into destination: HostBuffer) throws {
        try destination.requireShape(indices.values.count, source.cols, "gather destination")
        try source.requireFloat32("gather source")
        try destination.requireFloat32("gather destination")
        let c = source.cols
        for (i, r) in indices.values.enumerated() {
            guard r >= 0, Int(r) < source.rows else {
                throw SoftmaxError.invalidOption("gather index \(r) at position \(i) is outside 0..<\(source.rows)")
            }
            (destination.pointer + i * c).update(from: source.pointer + Int(r) * c, count: c)
        }
    }

    public func gatherLabels(_ indices: HostLabels, from source: HostLabels, into destination: HostLabels) throws {
        guard destination.values.count == indices.values.count else {
            throw SoftmaxError.shapeMismatch(what: "gather destination", expected: "\(indices.values.count) labels", got: "\(destination.values.count)")
        }
        for (i, r) in indices.values.enumerated() {
            guard r >= 0, Int(r) < source.values.count else {
                throw SoftmaxError.invalidOption("gather index \(r) at position \(i) is outside 0..<\(source.values.count)")
            }
            destination.values[i] = source.values[Int(r)]
        }
    }

    public func countCorrect(scores: HostBuffer, labels: HostLabels) throws -> Int {
        guard labels.values.count == scores.rows else {
            throw SoftmaxError.shapeMismatch(what: "labels", expected: "\(scores.rows) labels (one per row)", got: "\(labels.values.count)")
        }
        try scores.requireFloat32("scores")
        let c = scores.cols
        var correct = 0
        for i in 0..<scores.rows {
            let row = UnsafeBufferPointer(start: scores.pointer + i * c, count: c)
            var best = 0
            for j in 1..<max(c, 1) where row[j] > row[best] { best = j }
            if best == Int(labels.values[i]) { correct += 1 }
        }
        return correct
    }

    public func crossEntropy(
        logits: HostBuffer, targets: BackendTargets<HostLabels, HostBuffer>,
        options: CrossEntropyOptions, outputs: CrossEntropyOutputs<HostBuffer, HostLabels>
    ) throws -> CrossEntropyValue {
        try outputs.validate(logits: logits, options: options)
        let n = logits.rows, c = logits.cols

        let weights = options.classWeights
        let reduction: ReductionScale
        switch targets {
        case .classIndices(let labels):
            guard labels.values.count == n else {
                throw SoftmaxError.shapeMismatch(what: "labels", expected: "\(n) labels (one per logits row)", got: "\(labels.values.count)")
            }
            try InputValidation.requireLabelsInRange(labels.values, classes: c, ignoreIndex: options.ignoreIndex)
            reduction = ReductionScale(labels: labels.values, options: options)
        case .probabilities(let q):
            try q.requireShape(n, c, "probability targets")
            try q.requireFloat32("probability targets")
            if let i = UnsafeBufferPointer(start: q.pointer, count: q.count).firstIndex(where: { !$0.isFinite }) {
                throw SoftmaxError.nonFinite(source: "probability targets", row: i / c, column: i % c, value: q.pointer[i])
            }
            reduction = ReductionScale(probabilityRows: n, options: options)
        }
        if let p = outputs.predictions, p.values.count != n {
            throw SoftmaxError.shapeMismatch(what: "predictions", expected: "\(n) (one per logits row)", got: "\(p.values.count)")
        }
        func withPredictions<R>(_ body: (UnsafeMutablePointer<Int32>?) -> R) -> R {
            guard let p = outputs.predictions else { return body(nil) }
            return p.values.withUnsafeMutableBufferPointer { body($0.baseAddress) }
        }

        let result = (weights ?? []).withUnsafeBufferPointer { w in
            let k = reduction.constants(classes: c, weights: weights == nil ? nil : w.baseAddress, options: options, argmax: outputs.accuracy)
            return withPredictions { predictionPointer in
                let sixteen = logits.elementType != .f32 || (outputs.gradient.map { $0.elementType != .f32 } ?? false)
                let out = FusedCrossEntropy.Outputs(
                    gradient: sixteen ? nil : outputs.gradient?.pointer, rowLoss: outputs.rowLosses?.pointer,
                    lse: outputs.logSumExp?.pointer, predictions: predictionPointer)
                let storage = FusedCrossEntropy.Storage16(
                    logits: logits.raw, logitType: logits.elementType, gradient: outputs.gradient?.raw,
                    gradientType: outputs.gradient?.elementType ?? .f32)
                func run(_ targets: FusedCrossEntropy.TargetPointers) -> FusedCrossEntropy.Totals {
                    sixteen
                        ? FusedCrossEntropy.run(storage: storage, rows: n, targets: targets, softcap: options.softcap, k, out, parameters)
                        : FusedCrossEntropy.run(logits: logits.pointer, rows: n, targets: targets, softcap: options.softcap, k, out, parameters)
                }
                switch targets {
                case .classIndices(let labels):
                    return labels.values.withUnsafeBufferPointer { run(.classIndices($0.baseAddress!)) }
                case .probabilities(let q):
                    return run(.probabilities(q.pointer))
                }
            }
        }
        if let row = result.firstNonFiniteRow {
            let values = self.row(logits, row)
            let column = values.firstIndex { !$0.isFinite } ?? 0
            throw SoftmaxError.nonFinite(source: "logits", row: row, column: column, value: values[column])
        }
        return reduction.value(result, accuracy: outputs.accuracy)
    }

    /// Tiles of the fused linear cross-entropy for tests of tile edges; nil takes the parameters'
    /// (`SwiftParameters.linearRows`, `linearVocab`), each chosen from the shape when nil
    /// (`LinearCrossEntropy.Tiles.automatic`).
    public var linearTiles: (rows: Int, vocab: Int)?

    /// Bytes the fused linear cross-entropy allocates beyond its inputs and outputs for this shape.
    public func linearCrossEntropyWorkspaceBytes(rows n: Int, features d: Int, vocabulary v: Int) -> Int {
        LinearCrossEntropy.workspaceBytes(tiles(rows: n, vocabulary: v), features: d, vocabulary: v, threads: Parallel.workerCount)
    }

    private func tiles(rows n: Int, vocabulary v: Int) -> LinearCrossEntropy.Tiles {
        let automatic = LinearCrossEntropy.Tiles.automatic(rows: n, vocabulary: v)
        let rows = linearTiles?.rows ?? parameters.linearRows ?? automatic.rows, vocab = linearTiles?.vocab ?? parameters.linearVocab ?? automatic.vocab
        return .init(rows: Swift.max(1, Swift.min(rows, n)), vocab: Swift.max(1, vocab))
    }

    public func linearCrossEntropy(
        hidden: HostBuffer, classifier: HostBuffer, layout: ClassifierLayout, bias: HostBuffer?,
        targets: BackendTargets<HostLabels, HostBuffer>,
        options: CrossEntropyOptions,
        outputs: LinearCrossEntropyOutputs<HostBuffer, HostLabels>
    ) throws -> CrossEntropyValue {
        try outputs.validate(hidden: hidden, classifier: classifier, layout: layout, bias: bias, options: options)
        let n = hidden.rows, d = hidden.cols, v = LinearCrossEntropyOutputs<HostBuffer, HostLabels>.vocabulary(classifier, layout)
        guard case .classIndices(let labels) = targets else {
            throw LinearCrossEntropyFault.probabilityTargets
        }
        guard labels.values.count == n else {
            throw SoftmaxError.shapeMismatch(what: "labels", expected: "\(n) labels (one per hidden row)", got: "\(labels.values.count)")
        }
        if let p = outputs.predictions, p.values.count != n {
            throw SoftmaxError.shapeMismatch(what: "predictions", expected: "\(n) (one per hidden row)", got: "\(p.values.count)")
        }
        try InputValidation.requireLabelsInRange(labels.values, classes: v, ignoreIndex: options.ignoreIndex)
        let tiles = tiles(rows: n, vocabulary: v)
        try MemoryBudget.require("the fused linear cross-entropy's workspace",
                                 shape: [LinearCrossEntropy.workspaceBytes(tiles, features: d, vocabulary: v, threads: Parallel.workerCount)],
                                 elementBytes: 1)
        let weights = options.classWeights
        let reduction = ReductionScale(labels: labels.values, options: options)
        let totals = (weights ?? []).withUnsafeBufferPointer { w in
            labels.values.withUnsafeBufferPointer { y in
                let k = reduction.constants(classes: v, weights: weights == nil ? nil : w.baseAddress, options: options, argmax: outputs.accuracy)
                func run(_ predictions: UnsafeMutablePointer<Int32>?) -> FusedCrossEntropy.Totals {
                    LinearCrossEntropy.run(
                        .init(hidden: hidden.pointer, rows: n, features: d, classifier: classifier.pointer, transposed: layout == .vd,
                              bias: bias?.pointer,
                              labels: y.baseAddress!, k: k),
                        softcap: options.softcap, tiles: tiles,
                        .init(gradient: nil, rowLoss: outputs.rowLosses?.pointer, lse: outputs.logSumExp?.pointer, predictions: predictions),
                        .init(hidden: outputs.hiddenGradient?.pointer, classifier: outputs.classifierGradient?.pointer,
                              bias: outputs.biasGradient?.pointer, filter: outputs.filterEpsilon * reduction.scale))
                }
                guard let p = outputs.predictions else { return run(nil) }
                return p.values.withUnsafeMutableBufferPointer { run($0.baseAddress) }
            }
        }
        if let row = totals.firstNonFiniteRow {
            // Name the input at fault: a non-finite value in H, W or b, or logits that overflowed.
            for (buffer, what) in [(hidden, "hidden states"), (classifier, "classifier"), (bias, "bias")] {
                if let buffer, let e = LinearCrossEntropyFault.nonFinite(UnsafeBufferPointer(start: buffer.pointer, count: buffer.count), cols: buffer.cols, what: what) {
                    throw e
                }
            }
            throw LinearCrossEntropyFault.overflow(row: row)
        }
        return reduction.value(totals, accuracy: outputs.accuracy)
    }

    public func linearForward(x: HostBuffer, weights: HostBuffer, bias: HostBuffer, scores: HostBuffer) throws {
        let n = x.rows, d = x.cols, c = weights.cols
        try LinearShapes.validateForward(x: x, weights: weights, bias: bias, scores: scores)
        for i in 0..<n { (scores.pointer + i * c).update(from: bias.pointer, count: c) }
        MatrixMultiply.accumulate(
            m: n, n: c, k: d, a: .init(base: x.pointer, rowStride: d, colStride: 1),
            b: weights.pointer, ldb: c, c: scores.pointer, ldc: c)
    }

    public func linearBackward(
        x: HostBuffer, gradient: HostBuffer, weights: HostBuffer, l2: Float,
        weightGradient: HostBuffer, biasGradient: HostBuffer
    ) throws {
        let n = x.rows, d = x.cols, c = gradient.cols
        try LinearShapes.validateBackward(x: x, gradient: gradient, weights: weights, weightGradient: weightGradient, biasGradient: biasGradient)
        // dW = λ·W, then += xᵀ·G with xᵀ read through strides.
        for i in 0..<(d * c) { weightGradient.pointer[i] = l2 * weights.pointer[i] }
        MatrixMultiply.accumulate(
            m: d, n: c, k: n, a: .init(base: x.pointer, rowStride: 1, colStride: d),
            b: gradient.pointer, ldb: c, c: weightGradient.pointer, ldc: c)
        ColumnSums.compute(gradient.pointer, rows: n, cols: c, into: biasGradient.pointer)
    }

    public func sgdStep(parameter: HostBuffer, gradient: HostBuffer, velocity: HostBuffer, learningRate: Float, momentum: Float) throws {
        for (b, what) in [(parameter, "parameter"), (gradient, "gradient"), (velocity, "velocity")] { try b.requireFloat32(what) }
        try gradient.requireShape(parameter.rows, parameter.cols, "gradient")
        try velocity.requireShape(parameter.rows, parameter.cols, "velocity")
        let p = parameter.pointer, g = gradient.pointer, v = velocity.pointer
        let count = parameter.count
        let mu = Vec(repeating: momentum), lr = Vec(repeating: learningRate)
        var i = 0
        while i + vecWidth <= count {
            let vi = multiplyAdd(mu, load(v + i), load(g + i))
            store(vi, v + i)
            store(load(p + i) - lr * vi, p + i)
            i += vecWidth
        }
        while i < count {
            v[i] = momentum * v[i] + g[i]
            p[i] -= learningRate * v[i]
            i += 1
        }
    }

}
