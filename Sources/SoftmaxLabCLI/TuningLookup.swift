import ArgumentParser
import ExperimentStore
import Foundation
import SoftmaxCore

/// How later runs read `tune`'s choices: the newest choice of a finished tune run for the device
/// (backend, platform, name, host), op, shape class and storage type, unless it is stale — measured
/// with another driver version or other kernels — in which case it is ignored and that is said.
enum TuningLookup {
    struct Current {
        var choice: ExperimentStore.TunedChoice
        var shapeClass: ShapeClass
        /// Logits per millisecond at the shape it was measured at (NxC, or NxDxV for the fused
        /// linear op: N·V): what `--backend auto` compares.
        var elementsPerMs: Double? {
            guard let ms = choice.row.medianMs, ms > 0 else { return nil }
            if let shape = try? ShapeList.parse(choice.row.shape, flag: "tuning shape").first { return Double(shape.rows * shape.cols) / ms }
            if let shape = try? ShapeList.parseLinear(choice.row.shape).first { return Double(shape.rows * shape.vocabulary) / ms }
            return nil
        }
    }

    /// Why a choice does not hold for a device and kernels now, or nil when it does.
    static func staleness(_ choice: ExperimentStore.TunedChoice, device: DeviceDescription, kernelHash: String) -> String? {
        var reasons: [String] = []
        if choice.device.driverVersion != device.driverVersion {
            reasons.append("driver \(choice.device.driverVersion), now \(device.driverVersion)")
        }
        if choice.row.kernelHash != kernelHash { reasons.append("the kernels have changed since") }
        return reasons.isEmpty ? nil : reasons.joined(separator: "; ")
    }

    /// The choice that holds for `device` (running `kernelHash`), and sentences for stale ones newer than it.
    static func lookup(in store: ExperimentStore, device: DeviceDescription, kernelHash: String, op: String, shapeClass: ShapeClass,
                       dtype: ElementType) throws -> (current: Current?, stale: [String]) {
        var stale: [String] = []
        let choices = try store.tunedChoices(backend: device.backend, platform: device.platform, name: device.name,
                                             host: ProcessInfo.processInfo.hostName, op: op, shapeClass: shapeClass.name, dtype: dtype.rawValue)
        for choice in choices {
            guard let why = staleness(choice, device: device, kernelHash: kernelHash) else {
                return (Current(choice: choice, shapeClass: shapeClass), stale)
            }
            stale.append("tuning from run \(choice.row.runId) for \(device.backend) \(device.name) \(shapeClass) \(op) \(dtype.rawValue) is stale (\(why))")
        }
        return (nil, stale)
    }

    static func lookup<B: TunableBackend>(in store: ExperimentStore, for backend: B, op: String, shapeClass: ShapeClass,
                                          dtype: ElementType) throws -> (current: Current?, stale: [String]) {
        try lookup(in: store, device: backend.device, kernelHash: backend.kernelHash, op: op, shapeClass: shapeClass, dtype: dtype)
    }

    static func staleChoices<B: TunableBackend>(in store: ExperimentStore, for backend: B, op: String, shapeClass: ShapeClass,
                                                dtype: ElementType) throws -> [String] {
        try lookup(in: store, for: backend, op: op, shapeClass: shapeClass, dtype: dtype).stale
    }
}

/// `--no-tuning`, and applying the store's tuning to a backend, for the commands that compute.
struct TuningOptions: ParsableArguments {
    @Flag(help: "Ignore the parameters `softmax-lab tune` chose: every kernel with its defaults.")
    var noTuning = false

    /// The store at `path` when it exists and tuning is wanted; a store that cannot be read is said
    /// and ignored (the command's own work does not depend on it).
    func store(_ path: String) -> ExperimentStore? {
        guard !noTuning, FileManager.default.fileExists(atPath: path) else { return nil }
        do {
            return try ExperimentStore(path: path, mode: .existingOnly)
        } catch {
            Console.current.note("tuning: not read (\(error)); using the default parameters")
            return nil
        }
    }

    /// `compute` with the parameters the store chose for its device and this op, shape class and
    /// type, said on stderr; as it is when there is none (a stale one is said too).
    func apply(_ compute: any ComputeBackend, op: String, shape: Shape, dtype: ElementType, store: ExperimentStore?) throws -> any ComputeBackend {
        guard let store, let tunable = compute as? any TunableBackend else { return compute }
        return try Self.applyOpened(tunable, op: op, shape: shape, dtype: dtype, store: store)
    }

    private static func applyOpened<B: TunableBackend>(_ backend: B, op: String, shape: Shape, dtype: ElementType,
                                                 store: ExperimentStore) throws -> any ComputeBackend {
        let shapeClass = ShapeClass.of(shape)
        let (current, stale) = try TuningLookup.lookup(in: store, for: backend, op: op, shapeClass: shapeClass, dtype: dtype)
        for line in stale where current == nil { Console.current.note("\(line); using the default parameters") }
        guard let current else { return backend }
        let json = current.choice.row.parameters
        Console.current.note("tuned parameters from run \(current.choice.row.runId) for \(backend.name) \(backend.deviceName) \(shapeClass) \(op) \(dtype.rawValue): \(json)")
        return json == backend.parametersJSON ? backend : try backend.with(json: json)
    }
}
