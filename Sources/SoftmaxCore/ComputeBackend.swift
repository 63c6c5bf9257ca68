/// A buffer owned by a backend: host memory for the Swift backend, a `cl_mem` for OpenCL.
public protocol BackendBuffer: AnyObject {
    var rows: Int { get }
    var cols: Int { get }
    /// float32 unless made with `makeBuffer(rows:cols:elementType:)`.
    var elementType: ElementType { get }
}

extension BackendBuffer {
    public var elementType: ElementType { .f32 }

    /// Throws unless the buffer holds float32: every operation but the fused loss+gradient's logits
    /// and gradient.
    public func requireFloat32(_ what: String) throws(SoftmaxError) {
        guard elementType == .f32 else {
            throw .invalidOption("\(what) must be float32, got \(elementType.rawValue)")
        }
    }
}

extension BackendBuffer {
    /// Throws a shape mismatch naming `what` unless the buffer is rows × cols.
    public func requireShape(_ rows: Int, _ cols: Int, _ what: String) throws(SoftmaxError) {
        guard self.rows == rows, self.cols == cols else {
            throw .shapeMismatch(what: what, expected: "\(rows)x\(cols)", got: "\(self.rows)x\(self.cols)")
        }
    }
}

/// Targets that already live in a backend's memory.
public enum BackendTargets<Labels: AnyObject, Floats: BackendBuffer> {
    case classIndices(Labels)
    case probabilities(Floats)
}

/// Where the fused loss+gradient writes besides returning the reduced loss; each is optional.
public struct CrossEntropyOutputs<Buffer: BackendBuffer, Indices: AnyObject> {
    /// N×C: ∂(reduced loss)/∂logits (for `.none`, the gradient of the sum of the row losses).
    public var gradient: Buffer?
    /// N×1: each row's loss before reduction, z part included (0 for ignored rows).
    public var rowLosses: Buffer?
    /// N×1: log Σ_j exp(f'_ij).
    public var logSumExp: Buffer?
    /// N: each row's predicted class, argmax of f' (the first on ties). Implies `accuracy`.
    public var predictions: Indices?
    /// Count the correct predictions (`CrossEntropyValue.correct`) even without `predictions`.
    public var accuracy: Bool

    public init(gradient: Buffer? = nil, rowLosses: Buffer? = nil, logSumExp: Buffer? = nil,
                predictions: Indices? = nil, accuracy: Bool = false) {
        self.gradient = gradient
        self.rowLosses = rowLosses
        self.logSumExp = logSumExp
        self.predictions = predictions
        self.accuracy = accuracy || predictions != nil
    }
}

extension CrossEntropyOutputs {
    /// The checks every backend makes before a fused call: non-empty logits, options that fit C,
    /// outputs of the right shapes (a backend checks the length of `predictions` itself).
    public func validate(logits: Buffer, options: CrossEntropyOptions) throws(SoftmaxError) {
        let n = logits.rows, c = logits.cols
        guard n > 0, c > 0 else { throw .empty(what: "logits (\(n)x\(c))") }
        try options.validate(classes: c)
        try gradient?.requireShape(n, c, "gradient")
        try rowLosses?.requireShape(n, 1, "row losses")
        try logSumExp?.requireShape(n, 1, "log-sum-exp")
        try rowLosses?.requireFloat32("row losses")
        try logSumExp?.requireFloat32("log-sum-exp")
    }
}

/// The shape checks of the linear layer's operations, shared by every backend.
public enum LinearShapes {
    /// x (N×D) · weights (D×C) + bias (1×C) → scores (N×C).
    public static func validateForward(x: some BackendBuffer, weights: some BackendBuffer, bias: some BackendBuffer,
                                       scores: some BackendBuffer) throws(SoftmaxError) {
        try weights.requireShape(x.cols, weights.cols, "weights")
        try bias.requireShape(1, weights.cols, "bias")
        try scores.requireShape(x.rows, weights.cols, "scores")
        for (b, what) in [(x, "x"), (weights, "weights"), (bias, "bias"), (scores, "scores")] as [(any BackendBuffer, String)] {
            try b.requireFloat32(what)
        }
    }

    /// xᵀ (D×N) · gradient (N×C) + l2·weights → weightGradient (D×C); biasGradient (1×C).
    public static func validateBackward(x: some BackendBuffer, gradient: some BackendBuffer, weights: some BackendBuffer,
                                        weightGradient: some BackendBuffer, biasGradient: some BackendBuffer) throws(SoftmaxError) {
        try gradient.requireShape(x.rows, gradient.cols, "gradient")
        try weights.requireShape(x.cols, gradient.cols, "weights")
        try weightGradient.requireShape(x.cols, gradient.cols, "weight gradient")
        try biasGradient.requireShape(1, gradient.cols, "bias gradient")
        for (b, what) in [(x, "x"), (gradient, "gradient"), (weights, "weights"), (weightGradient, "weight gradient"),
                          (biasGradient, "bias gradient")] as [(any BackendBuffer, String)] {
            try b.requireFloat32(what)
        }
    }
}

/// The operations a training step needs, on buffers the backend owns, so that a loop written once
/// keeps data and weights on the device and reads back only the loss.
///
/// Shapes: x N×D, weights D×C, bias 1×C, scores/logits/gradient N×C.
public protocol ComputeBackend: AnyObject {
    associatedtype FloatBuffer: BackendBuffer
    /// Int32 values on the device: class labels, and the row indices of a minibatch.
    associatedtype IndexBuffer: AnyObject

    /// "swift" or "opencl".
    var name: String { get }
    /// The device, in words ("2 threads, AVX-512" or the OpenCL device name).
    var deviceName: String { get }
    /// The device's properties, for the experiment store.
    var device: DeviceDescription { get }

    /// A zero-filled buffer.
    func makeBuffer(rows: Int, cols: Int) throws -> FloatBuffer
    /// A zero-filled buffer of 16-bit (or 32-bit) floats: the fused loss+gradient reads its logits
    /// and writes its gradient in their buffers' types; `upload` rounds, `download` widens.
    func makeBuffer(rows: Int, cols: Int, elementType: ElementType) throws -> FloatBuffer
    func upload(_ matrix: Matrix, to buffer: FloatBuffer) throws
    func download(_ buffer: FloatBuffer) throws -> Matrix
    func makeIndexBuffer(_ labels: [Int32]) throws -> IndexBuffer
    func download(indices: IndexBuffer) throws -> [Int32]
    /// Overwrites an index buffer of the same length (e.g. a minibatch's row indices).
    func upload(indices: [Int32], to buffer: IndexBuffer) throws

    /// destination row i = source row indices[i]: a minibatch, gathered on the device.
    func gatherRows(_ indices: IndexBuffer, from source: FloatBuffer, into destination: FloatBuffer) throws
    /// destination[i] = source[indices[i]].
    func gatherLabels(_ indices: IndexBuffer, from source: IndexBuffer, into destination: IndexBuffer) throws
    /// How many rows have their largest score (the first, on ties) at their label.
    func countCorrect(scores: FloatBuffer, labels: IndexBuffer) throws -> Int

    /// Fused softmax cross-entropy: returns the reduced loss (for `.none`, the sum of the row losses),
    /// its z part and the accuracy asked for, and fills the requested outputs. Labels out of range
    /// and non-finite logits are errors.
    func crossEntropy(
        logits: FloatBuffer,
        targets: BackendTargets<IndexBuffer, FloatBuffer>,
        options: CrossEntropyOptions,
        outputs: CrossEntropyOutputs<FloatBuffer, IndexBuffer>
    ) throws -> CrossEntropyValue

    /// Fused linear cross-entropy: the loss of the logits f = hidden·classifier + bias (hidden N×D,
    /// classifier D×V, or V×D with layout `.vd`, bias 1×V) against the targets, returned as
    /// `crossEntropy` returns it, and
    /// any of ∂H, ∂W, ∂b and the per-row outputs, without ever holding N×V values. Class-index
    /// targets; probability targets (themselves N×V) are refused with a sentence.
    func linearCrossEntropy(
        hidden: FloatBuffer, classifier: FloatBuffer, layout: ClassifierLayout, bias: FloatBuffer?,
        targets: BackendTargets<IndexBuffer, FloatBuffer>,
        options: CrossEntropyOptions,
        outputs: LinearCrossEntropyOutputs<FloatBuffer, IndexBuffer>
    ) throws -> CrossEntropyValue

    /// scores = x·weights + bias.
    func linearForward(x: FloatBuffer, weights: FloatBuffer, bias: FloatBuffer, scores: FloatBuffer) throws

    /// weightGradient = xᵀ·gradient + l2·weights; biasGradient = Σ_rows gradient.
    func linearBackward(
        x: FloatBuffer, gradient: FloatBuffer, weights: FloatBuffer, l2: Float,
        weightGradient: FloatBuffer, biasGradient: FloatBuffer
    ) throws

    /// velocity = momentum·velocity + gradient; parameter −= learningRate·velocity.
    func sgdStep(parameter: FloatBuffer, gradient: FloatBuffer, velocity: FloatBuffer, learningRate: Float, momentum: Float) throws

    /// destination = source (same element count): the device's bandwidth yardstick.
    func copy(_ source: FloatBuffer, to destination: FloatBuffer) throws

    /// Returns when all work submitted so far has finished (for timing asynchronous devices).
    func synchronize() throws

    /// The device's own time, in milliseconds, for the work `body` submits (OpenCL profiling events);
    /// nil where the backend has no device timer (the Swift backend runs on the host).
    func deviceMilliseconds(of body: () throws -> Void) throws -> Double?
}

extension ComputeBackend {
    public func synchronize() throws {}

    public func deviceMilliseconds(of body: () throws -> Void) throws -> Double? {
        try body()
        return nil
    }
}
