import ArgumentParser
import SoftmaxCore
import SoftmaxCPU

/// Which backend computes: `auto` takes the best available one and says which.
enum BackendKind: String, ExpressibleByArgument, CaseIterable {
    case auto
    case swift
}

struct BackendOptions: ParsableArguments {
    @Option(help: "Backend: auto (the best available, and why) or swift (pure Swift, SIMD, all cores).")
    var backend: BackendKind = .auto

    /// The chosen backend, with the reason on stderr when it was chosen automatically.
    func make() -> any ComputeBackend {
        let backend = SwiftBackend()
        if self.backend == .auto {
            Console.current.note("backend: swift (\(backend.deviceName)); no OpenCL backend in this build")
        }
        return backend
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

    func validate() throws {
        guard labelSmoothing.isFinite, labelSmoothing >= 0, labelSmoothing < 1 else {
            throw ValidationError("--label-smoothing must be in [0, 1), got \(labelSmoothing)")
        }
    }

    func options(classes: Int) throws -> CrossEntropyOptions {
        var options = CrossEntropyOptions(reduction: reduction, ignoreIndex: ignoreIndex, labelSmoothing: labelSmoothing)
        if let weights {
            let w = try InputFiles.vector(weights, what: "--weights")
            guard w.count == classes else {
                throw InputError("--weights has \(w.count) values but the logits have \(classes) classes")
            }
            if let k = w.firstIndex(where: { !$0.isFinite || $0 < 0 }) {
                throw InputError("--weights value \(k) is \(w[k]); class weights must be finite and non-negative")
            }
            options.classWeights = w
        }
        return options
    }
}

extension Reduction: ExpressibleByArgument {}
