import ArgumentParser
import ExperimentStore
import Foundation
import SoftmaxCore
import SoftmaxCPU
import SoftmaxOpenCL

/// Which backend computes: `auto` takes the first OpenCL GPU, else the Swift backend, and says why.
enum BackendKind: String, ExpressibleByArgument, CaseIterable {
    case auto
    case swift
    case opencl
    /// Every backend and device (bench and gradcheck).
    case all
}

/// OpenCL as this process found it: loaded once (the library path from $SOFTMAXLAB_OPENCL_LIBRARY,
/// else libOpenCL.so.1), with the reason when it is unavailable.
enum OpenCLEnvironment {
    static let libraryPath = ProcessInfo.processInfo.environment["SOFTMAXLAB_OPENCL_LIBRARY"] ?? OpenCLAPI.defaultLibrary

    static let discovered: Result<(api: OpenCLAPI, devices: [OpenCLDevice]), OpenCLUnavailable> = {
        do {
            let api = try OpenCLAPI(library: libraryPath)
            return .success((api, try OpenCLDevice.all(api)))
        } catch let reason as OpenCLUnavailable {
            return .failure(reason)
        } catch {
            return .failure(.noDevice)
        }
    }()

    /// The device `selector` names: an index from `softmax-lab devices`, or part of a name.
    static func device(_ selector: String, in devices: [OpenCLDevice]) throws -> OpenCLDevice {
        if let index = Int(selector) {
            guard devices.indices.contains(index) else {
                throw InputError("--device \(index) is not an OpenCL device index; `softmax-lab devices` lists 0..<\(devices.count)")
            }
            return devices[index]
        }
        guard let d = devices.first(where: { $0.name.localizedCaseInsensitiveContains(selector) || $0.platformName.localizedCaseInsensitiveContains(selector) }) else {
            throw InputError("--device '\(selector)' matches no OpenCL device (\(devices.map(\.name).joined(separator: ", ")))")
        }
        return d
    }
}

struct BackendOptions: ParsableArguments {
    /// Unset: `all` for the commands that compare backends (`makeAll`), `auto` for the others (`make`).
    @Option(help: "auto (the first OpenCL GPU, else swift, and why), swift (pure Swift, SIMD, all cores), opencl, or all (every backend and device: the default of bench and gradcheck).")
    var backend: BackendKind?

    @Option(help: "OpenCL device: an index from `softmax-lab devices` or part of its name.")
    var device: String?

    /// Every usable backend: the Swift one and one per OpenCL device (`--backend all`, the default
    /// here), or the one chosen (`auto` picks one, as everywhere).
    func makeAll() throws -> [any ComputeBackend] {
        let backend = backend ?? .all
        if backend == .opencl, device == "all", case .success(let env) = OpenCLEnvironment.discovered {
            return try env.devices.map { try OpenCLBackend(api: env.api, device: $0) }
        }
        guard backend == .all, device == nil || device == "all" else { return [try make(backend)] }
        guard case .success(let env) = OpenCLEnvironment.discovered else { return [SwiftBackend()] }
        return [SwiftBackend()] + (try env.devices.map { try OpenCLBackend(api: env.api, device: $0) })
    }

    /// The chosen backend (`auto` unless given); `auto` says on stderr which it picked and why.
    func make() throws -> any ComputeBackend { try make(backend ?? .auto) }

    /// The chosen backend for one op, shape and storage type, with the store's tuning for them
    /// applied. `auto` without `--device` takes the backend whose tuned choice for the shape class
    /// is fastest when the store has current tuning for more than one, else the rule of `make()`.
    func make(op: String, shape: Shape, dtype: ElementType, tuning: TuningOptions, storePath: String) throws -> any ComputeBackend {
        let store = tuning.store(storePath)
        var compute: (any ComputeBackend)?
        if (backend ?? .auto) == .auto, device == nil, let store {
            compute = try fastestTuned(store, op: op, shape: shape, dtype: dtype)
        }
        return try tuning.apply(try compute ?? make(), op: op, shape: shape, dtype: dtype, store: store)
    }

    /// The backend with the most logits per millisecond in its current tuned choice for the shape
    /// class, said with the numbers; nil when fewer than two backends have one.
    private func fastestTuned(_ store: ExperimentStore, op: String, shape: Shape, dtype: ElementType) throws -> (any ComputeBackend)? {
        let shapeClass = ShapeClass.of(shape)
        var options: [(label: String, make: () throws -> any ComputeBackend, device: DeviceDescription, hash: String)] = [
            ("swift", { SwiftBackend() }, SwiftBackend().device, SwiftBackend.executableHash)
        ]
        if case .success(let env) = OpenCLEnvironment.discovered {
            for d in env.devices {
                options.append(("opencl on \(d.name)", { try OpenCLBackend(api: env.api, device: d) }, d.summary, OpenCLBackend.defaultKernelHash))
            }
        }
        let measured = try options.compactMap { o -> (label: String, make: () throws -> any ComputeBackend, rate: Double, run: Int64)? in
            guard let current = try TuningLookup.lookup(in: store, device: o.device, kernelHash: o.hash, op: op, shapeClass: shapeClass,
                                                        dtype: dtype).current,
                  let rate = current.elementsPerMs else { return nil }
            return (o.label, o.make, rate, current.choice.row.runId)
        }.sorted { $0.rate > $1.rate }
        guard measured.count >= 2 else { return nil }
        let others = measured.dropFirst().map { "\($0.label) \(String(format: "%.3g", $0.rate)) (run \($0.run))" }.joined(separator: ", ")
        Console.current.note("backend: \(measured[0].label) (tuned fastest for \(shapeClass) \(op) \(dtype.rawValue): \(String(format: "%.3g", measured[0].rate)) logits/ms in run \(measured[0].run), against \(others))")
        return try measured[0].make()
    }

    private func make(_ backend: BackendKind) throws -> any ComputeBackend {
        switch backend {
        case .all:
            throw InputError("--backend all runs several backends; this command takes one (auto, swift or opencl)")
        case .swift:
            return SwiftBackend()
        case .opencl:
            switch OpenCLEnvironment.discovered {
            case .failure(let reason):
                throw InputError("--backend opencl: OpenCL is unavailable: \(reason)")
            case .success(let env):
                let d = try device.map { try OpenCLEnvironment.device($0, in: env.devices) } ?? env.devices.first { $0.isGPU } ?? env.devices[0]
                return try OpenCLBackend(api: env.api, device: d)
            }
        case .auto:
            switch OpenCLEnvironment.discovered {
            case .failure(let reason):
                let swift = SwiftBackend()
                Console.current.note("backend: swift (\(swift.deviceName)); OpenCL unavailable: \(reason)")
                return swift
            case .success(let env):
                if let selector = device {
                    let d = try OpenCLEnvironment.device(selector, in: env.devices)
                    Console.current.note("backend: opencl on \(d.name) (chosen by --device)")
                    return try OpenCLBackend(api: env.api, device: d)
                }
                if let gpu = env.devices.first(where: \.isGPU) {
                    Console.current.note("backend: opencl on \(gpu.name) (the first OpenCL GPU)")
                    return try OpenCLBackend(api: env.api, device: gpu)
                }
                let swift = SwiftBackend()
                Console.current.note("backend: swift (\(swift.deviceName)); OpenCL has no GPU here, only \(env.devices.map(\.name).joined(separator: ", ")), and on a CPU the Swift backend is faster (--backend opencl to use it anyway)")
                return swift
            }
        }
    }
}

/// The options of PyTorch's `cross_entropy`, shared by the commands that compute a loss.
struct LossOptions: ParsableArguments {
    @Option(help: "none | sum | mean (PyTorch's reduction).")
    var reduction: Reduction = .mean

    @Option(help: "Rows with this label contribute no loss and a zero gradient.")
    var ignoreIndex: Int32 = CrossEntropyOptions.defaultIgnoreIndex

    @Option(help: "Class weights: a file (.npy or text) or a comma-separated list, one per class.")
    var weights: String?

    @Option(help: "Label smoothing ε in [0, 1).")
    var labelSmoothing: Float = 0

    @OptionGroup var extended: ExtendedLossOptions

    /// The options, checked by Core's rules (`CrossEntropyOptions.validate`); a broken rule is
    /// reported in the words of the flag that set it.
    func options(classes: Int) throws -> CrossEntropyOptions {
        var options = CrossEntropyOptions(reduction: reduction, ignoreIndex: ignoreIndex, labelSmoothing: labelSmoothing,
                                          softcap: extended.softcap, zLoss: extended.zLoss)
        if let weights { options.classWeights = try InputFiles.vector(weights, what: "--weights") }
        do {
            try options.validate(classes: classes)
        } catch {
            switch error {
            case .labelSmoothingOutOfRange(let value):
                throw InputError("--label-smoothing must be in [0, 1), got \(value)")
            case .softcapOutOfRange, .zLossOutOfRange:
                throw InputError(ExtendedLossOptions.sentence(error))
            case .invalidClassWeight(let k, let value):
                throw InputError("--weights entry \(k) is \(value); class weights must be finite and non-negative (entries count from 0)")
            case .shapeMismatch(what: "class weights", _, let got):
                throw InputError("--weights has \(got) values but the logits have \(classes) classes")
            default:
                throw error
            }
        }
        return options
    }
}

extension Reduction: ExpressibleByArgument {}
extension ElementType: ExpressibleByArgument {}
extension ClassifierLayout: ExpressibleByArgument {}

/// The loss options beyond PyTorch's `cross_entropy` (Liger-Kernel's and Cut Cross-Entropy's),
/// shared by every command that computes a loss, `bench` and `train` included.
struct ExtendedLossOptions: ParsableArguments {
    @Option(help: "Softcap s > 0: the logits become s·tanh(f/s) before the loss (Gemma 2).")
    var softcap: Float?

    @Option(name: .customLong("z-loss"), help: "z-loss λ ≥ 0: each counted row adds λ·lse² (PaLM; Liger's lse_square_scale).")
    var zLoss: Float = 0

    func validate() throws {
        do {
            try CrossEntropyOptions(softcap: softcap, zLoss: zLoss).validate(classes: 1)
        } catch {
            throw ValidationError(Self.sentence(error))
        }
    }

    /// Core's rule broken, in the flag's words.
    static func sentence(_ error: SoftmaxError) -> String {
        switch error {
        case .softcapOutOfRange(let value): "--softcap must be a finite number above 0, got \(value)"
        case .zLossOutOfRange(let value): "--z-loss must be a finite number of at least 0, got \(value)"
        default: error.description
        }
    }

    /// The words bench uses for an op run with these options ("xent+softcap+z").
    var opSuffix: String { (softcap == nil ? "" : "+softcap") + (zLoss > 0 ? "+z" : "") }
}
