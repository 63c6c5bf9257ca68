import COpenCL
import SoftmaxCore
import SoftmaxKernels

/// The OpenCL backend: buffers in device memory, every operation a kernel from `Kernels/`, and
/// per call only the loss and three status words read back.
public final class OpenCLBackend: ComputeBackend, @unchecked Sendable {
    public typealias FloatBuffer = OpenCLBuffer
    public typealias IndexBuffer = OpenCLLabels

    public let openCLDevice: OpenCLDevice
    public let parameters: KernelParameters
    let api: OpenCLAPI
    let session: OpenCLSession
    let queue: cl_command_queue
    var kernels: [String: cl_kernel] = [:]
    /// The fused kernels for 16-bit storage, by "kernel|logits|gradient".
    private var storageKernels: [String: cl_kernel] = [:]
    /// The kernels' source, kept for the 16-bit builds.
    private let source: String
    /// For arguments a call does not use (OpenCL has no null buffer arguments in every driver).
    let placeholder: cl_mem
    /// [first non-finite logits row, first bad-label row, first non-finite target row], preset per call.
    let status: cl_mem
    /// The reduced loss, its z part and the hit count of the last fused call.
    let loss: cl_mem
    /// The mean's divisors: Σ w_y and the counted rows.
    let denominator: cl_mem
    private let counter: cl_mem
    /// What `status` is preset to; a non-blocking write reads it later, so it never changes.
    let statusPreset: [Int32] = [Int32.max, Int32.max, Int32.max]
    /// Per-row buffers of calls whose caller does not want them, kept for the next call of as many
    /// rows: loss, lse, z part, hit, prediction.
    private var scratch: RowScratch?
    private var cachedWeights: (values: [Float], buffer: OpenCLBuffer)?
    /// The device bytes the last fused linear cross-entropy allocated for itself (freed when it
    /// returned): what `bench` records as its memory beyond inputs and outputs on a device.
    public internal(set) var lastLinearWorkspaceBytes = 0
    /// Events of the kernels launched while `deviceMilliseconds` profiles.
    private var events: [cl_event]?

    /// A backend on `device`; `parameters` default to the device's. Builds (or reuses) the kernels.
    public init(api: OpenCLAPI, device: OpenCLDevice, parameters: KernelParameters? = nil, source: String = KernelSources.all) throws {
        self.api = api
        self.openCLDevice = device
        self.parameters = parameters ?? .automatic(for: device)
        self.source = source
        session = try OpenCLSession.shared(api: api, device: device)
        var status: cl_int = 0
        guard let queue = api.createCommandQueue(session.context, device.id, cl_command_queue_properties(CL_QUEUE_PROFILING_ENABLE), &status),
              status == CL_SUCCESS else { throw OpenCLError(status: status, call: "clCreateCommandQueue") }
        self.queue = queue
        let context = session.context
        func allocate(_ bytes: Int) throws -> cl_mem {
            var s: cl_int = 0
            guard let m = api.createBuffer(context, cl_mem_flags(CL_MEM_READ_WRITE), bytes, nil, &s), s == CL_SUCCESS else {
                throw OpenCLError(status: s, call: "clCreateBuffer")
            }
            return m
        }
        placeholder = try allocate(64)
        self.status = try allocate(12)
        loss = try allocate(12)
        denominator = try allocate(8)
        counter = try allocate(4)
        let program = try session.program(source: source, defines: self.parameters.defines)
        for name in ["softmax_xent_fwd_bwd_row", "softmax_xent_fwd_bwd", "softmax_xent_fwd_bwd_lanes", "xent_denominator", "xent_reduce", "matmul_bias",
                     "matmul_tn_l2", "matmul_strided", "filter_tiles", "column_sums", "sgd_momentum", "copy_floats", "gather_rows", "gather_labels", "count_correct"] {
            var s: cl_int = 0
            guard let k = api.createKernel(program, name, &s), s == CL_SUCCESS else { throw OpenCLError(status: s, call: "clCreateKernel(\(name))") }
            kernels[name] = k
        }
    }

    deinit {
        for k in kernels.values { _ = api.releaseKernel(k) }
        for k in storageKernels.values { _ = api.releaseKernel(k) }
        _ = api.releaseMemObject(placeholder)
        _ = api.releaseMemObject(status)
        _ = api.releaseMemObject(loss)
        _ = api.releaseMemObject(denominator)
        _ = api.releaseMemObject(counter)
        _ = api.releaseCommandQueue(queue)
    }

    /// The kernels' source as built (`ContentHash`): tuning measured with other kernels is stale.
    public var kernelSourceHash: String { ContentHash.hex(source) }

    /// The same device and session with other parameters (the kernels are built, or taken from
    /// the session's cache, for them).
    public func with(parameters: KernelParameters) throws -> OpenCLBackend {
        try OpenCLBackend(api: api, device: openCLDevice, parameters: parameters, source: source)
    }

    public var name: String { "opencl" }
    public var deviceName: String { openCLDevice.name }
    public var device: DeviceDescription { openCLDevice.summary }

    // MARK: Memory

    func allocate(bytes: Int, what: String) throws -> cl_mem {
        guard bytes <= openCLDevice.globalMemoryBytes else {
            throw SoftmaxError.invalidOption(
                "\(what) needs \(Self.size(bytes)) but \(openCLDevice.name) has \(Self.size(Int(openCLDevice.globalMemoryBytes))) of memory (CL_DEVICE_GLOBAL_MEM_SIZE)")
        }
        guard bytes <= openCLDevice.maxAllocationBytes else {
            throw SoftmaxError.invalidOption(
                "\(what) needs \(Self.size(bytes)) but \(openCLDevice.name) allows at most \(Self.size(Int(openCLDevice.maxAllocationBytes))) per buffer (CL_DEVICE_MAX_MEM_ALLOC_SIZE)")
        }
        var s: cl_int = 0
        guard let m = api.createBuffer(session.context, cl_mem_flags(CL_MEM_READ_WRITE), max(bytes, 4), nil, &s), s == CL_SUCCESS else {
            throw OpenCLError(status: s, call: "clCreateBuffer", detail: "\(what), \(Self.size(bytes))")
        }
        return m
    }

    static func size(_ bytes: Int) -> String {
        bytes >= 1 << 30 ? "\(Double(bytes * 10 / (1 << 30)) / 10) GiB" : "\(Double(bytes * 10 / (1 << 20)) / 10) MiB"
    }

    public func makeBuffer(rows: Int, cols: Int) throws -> OpenCLBuffer {
        try makeBuffer(rows: rows, cols: cols, elementType: .f32)
    }

    public func makeBuffer(rows: Int, cols: Int, elementType: ElementType) throws -> OpenCLBuffer {
        guard rows >= 0, cols >= 0 else { throw SoftmaxError.invalidOption("a buffer cannot have shape \(rows)x\(cols)") }
        let what = "a \(rows)x\(cols) \(elementType == .f32 ? "float" : elementType.rawValue) buffer"
        guard let bytes = MemoryBudget.product([rows, cols, elementType.bytes]) else {
            throw SoftmaxError.invalidOption("\(what) is more than this machine can address")
        }
        // Whole float32 words, so `copy` moves any buffer as words without reading past its end.
        let padded = (bytes + 3) / 4 * 4
        let buffer = OpenCLBuffer(rows: rows, cols: cols, elementType: elementType, mem: try allocate(bytes: padded, what: what), api: api)
        // Zero-filled, as the protocol promises (clCreateBuffer leaves memory undefined); 0 is
        // all zero bits in every type.
        if buffer.count > 0 {
            var zero: UInt16 = 0
            try api.check(api.enqueueFillBuffer(queue, buffer.mem, &zero, 2, 0, padded, 0, nil, nil), "clEnqueueFillBuffer")
        }
        return buffer
    }

    /// 16-bit buffers get the values rounded on the host (`ElementType.bits`), half the bytes sent.
    public func upload(_ matrix: Matrix, to buffer: OpenCLBuffer) throws {
        try buffer.requireShape(matrix.rows, matrix.cols, "upload destination")
        guard matrix.count > 0 else { return }
        func write(_ bytes: UnsafeRawBufferPointer) -> cl_int {
            api.enqueueWriteBuffer(queue, buffer.mem, cl_bool(CL_TRUE), 0, bytes.count, bytes.baseAddress, 0, nil, nil)
        }
        let type = buffer.elementType
        try api.check(type == .f32 ? matrix.storage.withUnsafeBytes(write) : matrix.storage.map { type.bits($0) }.withUnsafeBytes(write),
                      "clEnqueueWriteBuffer")
    }

    public func download(_ buffer: OpenCLBuffer) throws -> Matrix {
        Matrix(rows: buffer.rows, cols: buffer.cols, storage: try read(buffer, from: 0, count: buffer.count))
    }

    /// `count` values of a buffer from element `from` on, widened to float32.
    func read(_ buffer: OpenCLBuffer, from: Int, count: Int) throws -> [Float] {
        let type = buffer.elementType
        func read<T: Numeric>(_ zero: T) throws -> [T] {
            var values = [T](repeating: zero, count: count)
            if count > 0 {
                try api.check(values.withUnsafeMutableBytes { bytes in
                    api.enqueueReadBuffer(queue, buffer.mem, cl_bool(CL_TRUE), from * type.bytes, bytes.count, bytes.baseAddress, 0, nil, nil)
                }, "clEnqueueReadBuffer")
            }
            return values
        }
        return type == .f32 ? try read(Float(0)) : try read(UInt16(0)).map { type.value(bits: $0) }
    }

    public func download(indices buffer: OpenCLLabels) throws -> [Int32] {
        buffer.count == 0 ? [] : try downloadLabels(buffer, from: 0, count: buffer.count)
    }

    public func makeIndexBuffer(_ labels: [Int32]) throws -> OpenCLLabels {
        let buffer = OpenCLLabels(count: labels.count, mem: try allocate(bytes: labels.count * 4, what: "\(labels.count) labels"), api: api)
        try upload(indices: labels, to: buffer)
        return buffer
    }

    public func upload(indices labels: [Int32], to buffer: OpenCLLabels) throws {
        guard labels.count == buffer.count else {
            throw SoftmaxError.shapeMismatch(what: "label upload", expected: "\(buffer.count) labels", got: "\(labels.count)")
        }
        guard !labels.isEmpty else { return }
        try api.check(labels.withUnsafeBytes { bytes in api.enqueueWriteBuffer(queue, buffer.mem, cl_bool(CL_TRUE), 0, bytes.count, bytes.baseAddress, 0, nil, nil) }, "clEnqueueWriteBuffer")
    }

    func downloadLabels(_ buffer: OpenCLLabels, from: Int, count: Int) throws -> [Int32] {
        var values = [Int32](repeating: 0, count: count)
        try api.check(values.withUnsafeMutableBytes { bytes in api.enqueueReadBuffer(queue, buffer.mem, cl_bool(CL_TRUE), from * 4, bytes.count, bytes.baseAddress, 0, nil, nil) }, "clEnqueueReadBuffer")
        return values
    }

    // MARK: Launching

    enum Argument {
        case buffer(cl_mem)
        case int(Int)
        case float(Float)
        case long(Int)
    }

    /// A fused kernel (`name`) for 16-bit logits or gradient, built on first use for the pair of types.
    func storageKernel(_ name: String, logits: ElementType, gradient: ElementType) throws -> cl_kernel {
        let key = "\(name)|\(logits.rawValue)|\(gradient.rawValue)"
        if let kernel = storageKernels[key] { return kernel }
        func code(_ type: ElementType) -> Int { type == .f32 ? 0 : type == .f16 ? 1 : 2 }
        let program = try session.program(source: source, defines: parameters.defines + "#define XENT_LOGIT \(code(logits))\n#define XENT_GRAD \(code(gradient))\n")
        var s: cl_int = 0
        guard let kernel = api.createKernel(program, name, &s), s == CL_SUCCESS else {
            throw OpenCLError(status: s, call: "clCreateKernel(\(key))")
        }
        storageKernels[key] = kernel
        return kernel
    }

    /// Sets the arguments and enqueues; `global` is rounded up to a multiple of `local`.
    func launch(_ name: String, global: [Int], local: [Int]?, _ arguments: [Argument]) throws {
        try launch(kernels[name]!, name: name, global: global, local: local, arguments)
    }

    func launch(_ kernel: cl_kernel, name: String, global: [Int], local: [Int]?, _ arguments: [Argument]) throws {
        for (i, argument) in arguments.enumerated() {
            let s: cl_int
            switch argument {
            case .buffer(var m): s = api.setKernelArg(kernel, cl_uint(i), MemoryLayout<cl_mem>.size, &m)
            case .int(let v):
                var x = cl_int(truncatingIfNeeded: v)
                s = api.setKernelArg(kernel, cl_uint(i), 4, &x)
            case .float(var x): s = api.setKernelArg(kernel, cl_uint(i), 4, &x)
            case .long(let v):
                var x = cl_long(v)
                s = api.setKernelArg(kernel, cl_uint(i), 8, &x)
            }
            try api.check(s, "clSetKernelArg")
        }
        var globalSize = global
        if let local { for d in global.indices { globalSize[d] = (global[d] + local[d] - 1) / local[d] * local[d] } }
        var localSize = local ?? []
        var event: cl_event?
        let profiling = events != nil
        let s = globalSize.withUnsafeMutableBufferPointer { g in
            localSize.withUnsafeMutableBufferPointer { l in
                withUnsafeMutablePointer(to: &event) { e in
                    api.enqueueNDRangeKernel(queue, kernel, cl_uint(global.count), nil, g.baseAddress, local == nil ? nil : l.baseAddress,
                                             0, nil, profiling ? e : nil)
                }
            }
        }
        if s != CL_SUCCESS { throw OpenCLError(status: s, call: "clEnqueueNDRangeKernel(\(name))") }
        if let event { events?.append(event) }
    }

    /// The summed execution time (profiling start to end) of every kernel `body` launches.
    public func deviceMilliseconds(of body: () throws -> Void) throws -> Double? {
        events = []
        defer {
            for e in events ?? [] { _ = api.releaseEvent(e) }
            events = nil
        }
        try body()
        try synchronize()
        var total: cl_ulong = 0
        for e in events ?? [] {
            var start: cl_ulong = 0, end: cl_ulong = 0
            try api.check(api.getEventProfilingInfo(e, cl_profiling_info(CL_PROFILING_COMMAND_START), 8, &start, nil), "clGetEventProfilingInfo")
            try api.check(api.getEventProfilingInfo(e, cl_profiling_info(CL_PROFILING_COMMAND_END), 8, &end, nil), "clGetEventProfilingInfo")
            total += end &- start
        }
        return Double(total) / 1e6
    }

    public func synchronize() throws {
        try api.check(api.finish(queue), "clFinish")
    }

    // MARK: Operations

    public func crossEntropy(
        logits: OpenCLBuffer, targets: BackendTargets<OpenCLLabels, OpenCLBuffer>,
        options: CrossEntropyOptions, outputs: CrossEntropyOutputs<OpenCLBuffer, OpenCLLabels>
    ) throws -> CrossEntropyValue {
        try outputs.validate(logits: logits, options: options)
        let n = logits.rows, c = logits.cols
        let labels: cl_mem, probabilities: cl_mem, useProbabilities: Bool
        switch targets {
        case .classIndices(let l):
            guard l.count == n else {
                throw SoftmaxError.shapeMismatch(what: "labels", expected: "\(n) labels (one per logits row)", got: "\(l.count)")
            }
            (labels, probabilities, useProbabilities) = (l.mem, placeholder, false)
        case .probabilities(let q):
            try q.requireShape(n, c, "probability targets")
            try q.requireFloat32("probability targets")
            (labels, probabilities, useProbabilities) = (placeholder, q.mem, true)
        }
        if let p = outputs.predictions, p.count != n {
            throw SoftmaxError.shapeMismatch(what: "predictions", expected: "\(n) (one per logits row)", got: "\(p.count)")
        }
        let weights = try weightBuffer(options.classWeights)
        let rows = try rowScratch(rows: n)
        let rowLoss = outputs.rowLosses?.mem ?? rows.rowLoss.mem, lse = outputs.logSumExp?.mem ?? rows.lse.mem
        let mean = options.reduction == .mean

        // Non-blocking: the kernels after it in the queue are the only readers.
        try api.check(statusPreset.withUnsafeBytes { bytes in api.enqueueWriteBuffer(queue, status, cl_bool(CL_FALSE), 0, 12, bytes.baseAddress, 0, nil, nil) }, "clEnqueueWriteBuffer")
        // Always: the counted rows are part of every result.
        try launchDenominator(rows: n, classes: c, labels: labels, weights: weights, useProbabilities: useProbabilities, ignoreIndex: options.ignoreIndex)
        let arguments = XentLaunch(
            rows: n, classes: c, logits: logits.mem, labels: labels, probabilities: probabilities,
            weights: weights?.mem ?? placeholder, useProbabilities: useProbabilities, hasWeights: weights != nil,
            labelSmoothing: options.labelSmoothing, weightSum: options.classWeights?.reduce(0, +) ?? Float(c),
            ignoreIndex: options.ignoreIndex, denominator: denominator, mean: mean,
            gradient: outputs.gradient?.mem ?? placeholder, writeGradient: outputs.gradient != nil,
            rowLoss: rowLoss, rowLse: lse, status: status,
            softcap: options.softcap ?? 0, zLoss: options.zLoss, wantArgmax: outputs.accuracy,
            predictions: outputs.predictions?.mem ?? rows.predictions.mem, rowZ: rows.z.mem, rowHit: rows.hit.mem).arguments
        try launchFused(rows: n, classes: c, logitType: logits.elementType, gradientType: outputs.gradient?.elementType ?? .f32, arguments)
        let (result, value) = try reduceAndRead(rows: n, rowLoss: rowLoss, rowZ: rows.z.mem, rowHit: rows.hit.mem, accuracy: outputs.accuracy,
                                                mean: mean, statusWords: status, count: 3)
        if result[1] != Int32.max, case .classIndices(let l) = targets {
            throw try labelError(l, row: Int(result[1]), classes: c, ignoreIndex: options.ignoreIndex)
        }
        if result[2] != Int32.max, case .probabilities(let q) = targets {
            throw try nonFinite(in: q, row: Int(result[2]), source: "probability targets")
        }
        if result[0] != Int32.max {
            throw try nonFinite(in: logits, row: Int(result[0]), source: "logits")
        }
        return value
    }

    /// `xent_denominator` into `denominator`: Σ w_y and the counted rows of n labels of c classes
    /// (N and N for probability targets), the mean's divisors of every fused call.
    func launchDenominator(rows n: Int, classes c: Int, labels: cl_mem, weights: OpenCLBuffer?, useProbabilities: Bool, ignoreIndex: Int32) throws {
        let wg = parameters.xentWorkGroupSize
        try launch("xent_denominator", global: [wg], local: [wg], [
            .int(n), .int(c), .buffer(labels), .buffer(weights?.mem ?? placeholder), .int(weights == nil ? 0 : 1),
            .int(useProbabilities ? 1 : 0), .int(Int(ignoreIndex)), .buffer(denominator)])
    }

    /// How every fused call ends: `xent_reduce` of n rows into `loss`, then `count` status words
    /// from `statusWords`, the divisors and the loss read back. The status and count reads need
    /// not block: the loss's blocking read after them in the in-order queue returns only once all
    /// are done.
    func reduceAndRead(rows n: Int, rowLoss: cl_mem, rowZ: cl_mem, rowHit: cl_mem, accuracy: Bool, mean: Bool,
                       statusWords: cl_mem, count: Int) throws -> (status: [Int32], value: CrossEntropyValue) {
        let wg = parameters.xentWorkGroupSize
        try launch("xent_reduce", global: [wg], local: [wg], [
            .int(n), .buffer(rowLoss), .buffer(rowZ), .buffer(rowHit), .int(accuracy ? 1 : 0), .buffer(denominator), .int(mean ? 1 : 0), .buffer(loss)])
        var words = [Int32](repeating: 0, count: count)
        var values = [Float](repeating: 0, count: 3)
        var counts = [Float](repeating: 0, count: 2)
        try words.withUnsafeMutableBytes { bytes in
            try api.check(api.enqueueReadBuffer(queue, statusWords, cl_bool(CL_FALSE), 0, bytes.count, bytes.baseAddress, 0, nil, nil), "clEnqueueReadBuffer")
        }
        try counts.withUnsafeMutableBytes { bytes in
            try api.check(api.enqueueReadBuffer(queue, denominator, cl_bool(CL_FALSE), 0, 8, bytes.baseAddress, 0, nil, nil), "clEnqueueReadBuffer")
        }
        try values.withUnsafeMutableBytes { bytes in
            try api.check(api.enqueueReadBuffer(queue, loss, cl_bool(CL_TRUE), 0, 12, bytes.baseAddress, 0, nil, nil), "clEnqueueReadBuffer")
        }
        return (words, CrossEntropyValue(loss: Double(values[0]), zLoss: Double(values[1]), counted: Int(counts[1]),
                                         correct: accuracy ? Int(values[2]) : nil))
    }

    /// The error for the label of `row` that a kernel reported out of range (reads that label only).
    func labelError(_ labels: OpenCLLabels, row: Int, classes: Int, ignoreIndex: Int32) throws -> SoftmaxError {
        let label = try downloadLabels(labels, from: row, count: 1)[0]
        return SoftmaxError.labelOutOfRange(source: "labels", location: "row \(row)", label: Int(label), classes: classes, ignoreIndex: ignoreIndex)
    }

    /// The fused variant the parameters choose for `rows` × `classes`, with `arguments` (an
    /// `XentLaunch`'s); 16-bit logits or gradient take the same kernels built for the pair of types
    /// (softmax_xent.cl).
    func launchFused(rows n: Int, classes c: Int, logitType: ElementType, gradientType: ElementType, _ arguments: [Argument]) throws {
        func kernel(_ name: String) throws -> cl_kernel {
            logitType == .f32 && gradientType == .f32 ? kernels[name]! : try storageKernel(name, logits: logitType, gradient: gradientType)
        }
        switch parameters.variant(rows: n, classes: c, device: openCLDevice) {
        case .rowPerWorkItem:
            try launch(try kernel("softmax_xent_fwd_bwd_row"), name: "softmax_xent_fwd_bwd_row", global: [n], local: nil, arguments)
        case .workGroupPerRow:
            let rowGroup = parameters.rowWorkGroupSize(classes: c)
            try launch(try kernel("softmax_xent_fwd_bwd"), name: "softmax_xent_fwd_bwd", global: [n * rowGroup], local: [rowGroup], arguments)
        case .rowsInLanes:
            // An explicit, small work-group: PoCL picked 4096 work-items, whose private arrays
            // (4 KB each) overflowed its thread's stack.
            let group = min(64, max(openCLDevice.maxWorkGroupSize, 1))
            let items = (n + 7) / 8
            try launch(try kernel("softmax_xent_fwd_bwd_lanes"), name: "softmax_xent_fwd_bwd_lanes",
                       global: [(items + group - 1) / group * group], local: [group], arguments)
        }
    }

    /// Per-row buffers the kernels write whether or not the caller wants them.
    struct RowScratch {
        var rows: Int
        var rowLoss: OpenCLBuffer
        var lse: OpenCLBuffer
        var z: OpenCLBuffer
        var hit: OpenCLBuffer
        var predictions: OpenCLLabels
    }

    /// The scratch row buffers for n rows, reused while calls keep the same row count (every
    /// training step), created without the zero fill since the kernels write every row they read.
    func rowScratch(rows n: Int) throws -> RowScratch {
        if let scratch, scratch.rows == n { return scratch }
        scratch = nil
        let bytes = n * 4
        func floats(_ what: String) throws -> OpenCLBuffer {
            OpenCLBuffer(rows: n, cols: 1, mem: try allocate(bytes: bytes, what: what), api: api)
        }
        let made = RowScratch(
            rows: n, rowLoss: try floats("per-row losses"), lse: try floats("per-row log-sum-exp"),
            z: try floats("per-row z parts"), hit: try floats("per-row hits"),
            predictions: OpenCLLabels(count: n, mem: try allocate(bytes: bytes, what: "per-row predictions"), api: api))
        scratch = made
        return made
    }

    /// The error for the first non-finite value of a row that the kernel flagged (reads that row only).
    func nonFinite(in buffer: OpenCLBuffer, row: Int, source: String) throws -> SoftmaxError {
        let values = try read(buffer, from: row * buffer.cols, count: buffer.cols)
        let column = values.firstIndex { !$0.isFinite } ?? 0
        return SoftmaxError.nonFinite(source: source, row: row, column: column, value: values[column])
    }

    /// Class weights live on the device; re-uploaded only when they change.
    func weightBuffer(_ weights: [Float]?) throws -> OpenCLBuffer? {
        guard let weights else { return nil }
        if let cached = cachedWeights, cached.values == weights { return cached.buffer }
        let buffer = try makeBuffer(Matrix(rows: 1, cols: weights.count, storage: weights))
        cachedWeights = (weights, buffer)
        return buffer
    }

    public func linearForward(x: OpenCLBuffer, weights: OpenCLBuffer, bias: OpenCLBuffer, scores: OpenCLBuffer) throws {
        let n = x.rows, d = x.cols, c = weights.cols
        try LinearShapes.validateForward(x: x, weights: weights, bias: bias, scores: scores)
        let t = parameters.tile
        try launch("matmul_bias", global: [c, n], local: [t, t], [.int(n), .int(d), .int(c), .buffer(x.mem), .buffer(weights.mem), .buffer(bias.mem), .buffer(scores.mem)])
    }

    public func linearBackward(
        x: OpenCLBuffer, gradient: OpenCLBuffer, weights: OpenCLBuffer, l2: Float,
        weightGradient: OpenCLBuffer, biasGradient: OpenCLBuffer
    ) throws {
        let n = x.rows, d = x.cols, c = gradient.cols
        try LinearShapes.validateBackward(x: x, gradient: gradient, weights: weights, weightGradient: weightGradient, biasGradient: biasGradient)
        let t = parameters.tile
        try launch("matmul_tn_l2", global: [c, d], local: [t, t], [
            .int(n), .int(d), .int(c), .buffer(x.mem), .buffer(gradient.mem), .buffer(weights.mem), .float(l2), .buffer(weightGradient.mem)])
        try launch("column_sums", global: [c], local: nil, [.int(n), .int(c), .buffer(gradient.mem), .buffer(biasGradient.mem), .int(0)])
    }

    public func sgdStep(parameter: OpenCLBuffer, gradient: OpenCLBuffer, velocity: OpenCLBuffer, learningRate: Float, momentum: Float) throws {
        for (b, what) in [(parameter, "parameter"), (gradient, "gradient"), (velocity, "velocity")] { try b.requireFloat32(what) }
        try gradient.requireShape(parameter.rows, parameter.cols, "gradient")
        try velocity.requireShape(parameter.rows, parameter.cols, "velocity")
        guard parameter.count > 0 else { return }
        try launch("sgd_momentum", global: [parameter.count], local: nil, [
            .int(parameter.count), .buffer(parameter.mem), .buffer(gradient.mem), .buffer(velocity.mem), .float(learningRate), .float(momentum)])
    }

    /// Any element type, as float32 words (16-bit buffers are padded to whole words).
    public func copy(_ source: OpenCLBuffer, to destination: OpenCLBuffer) throws {
        guard source.count == destination.count, source.elementType == destination.elementType else {
            throw SoftmaxError.shapeMismatch(what: "copy destination", expected: "\(source.count) \(source.elementType.rawValue) values",
                                             got: "\(destination.count) \(destination.elementType.rawValue)")
        }
        let words = (source.bytes + 3) / 4
        guard words > 0 else { return }
        try launch("copy_floats", global: [(words + 3) / 4], local: nil, [.int(words), .buffer(source.mem), .buffer(destination.mem)])
    }

    public func gatherRows(_ indices: OpenCLLabels, from source: OpenCLBuffer, into destination: OpenCLBuffer) throws {
        try destination.requireShape(indices.count, source.cols, "gather destination")
        try source.requireFloat32("gather source")
        try destination.requireFloat32("gather destination")
        guard indices.count > 0, source.cols > 0 else { return }
        try launch("gather_rows", global: [source.cols, indices.count], local: nil, [
            .int(indices.count), .int(source.cols), .buffer(indices.mem), .buffer(source.mem), .buffer(destination.mem)])
    }

    public func gatherLabels(_ indices: OpenCLLabels, from source: OpenCLLabels, into destination: OpenCLLabels) throws {
        guard destination.count == indices.count else {
            throw SoftmaxError.shapeMismatch(what: "gather destination", expected: "\(indices.count) labels", got: "\(destination.count)")
        }
        guard indices.count > 0 else { return }
        try launch("gather_labels", global: [indices.count], local: nil, [.int(indices.count), .buffer(indices.mem), .buffer(source.mem), .buffer(destination.mem)])
    }

    public func countCorrect(scores: OpenCLBuffer, labels: OpenCLLabels) throws -> Int {
        guard labels.count == scores.rows else {
            throw SoftmaxError.shapeMismatch(what: "labels", expected: "\(scores.rows) labels (one per row)", got: "\(labels.count)")
        }
        try scores.requireFloat32("scores")
        var zero: Int32 = 0
        try api.check(api.enqueueWriteBuffer(queue, counter, cl_bool(CL_TRUE), 0, 4, &zero, 0, nil, nil), "clEnqueueWriteBuffer")
        try launch("count_correct", global: [scores.rows], local: nil, [
            .int(scores.rows), .int(scores.cols), .buffer(scores.mem), .buffer(labels.mem), .buffer(counter)])
        var count: Int32 = 0
        try api.check(api.enqueueReadBuffer(queue, counter, cl_bool(CL_TRUE), 0, 4, &count, 0, nil, nil), "clEnqueueReadBuffer")
        return Int(count)
    }

}
