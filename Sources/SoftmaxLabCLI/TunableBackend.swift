import Foundation
import SoftmaxCore
import SoftmaxCPU
import SoftmaxKernels
import SoftmaxOpenCL

/// A backend whose fused cross-entropy has parameters `tune` can vary: the same device with other
/// parameters, the candidates for a shape, and what makes a measurement stale.
public protocol TunableBackend: ComputeBackend {
    associatedtype Parameters: Codable & Equatable
    var parameters: Parameters { get }
    /// The same device with `parameters`.
    func with(parameters: Parameters) throws -> Self
    /// What `tune` tries for a shape and storage type, the parameters without tuning first.
    func candidates(for shape: Shape, elementType: ElementType) -> [Parameters]
    /// What `tune --op linear-xent` tries for the fused linear cross-entropy of N×D×V, the
    /// parameters without tuning first.
    func linearCandidates(rows: Int, features: Int, vocabulary: Int) -> [Parameters]
    /// The kernels the times belong to (with the device's driver version, the row's identity).
    var kernelHash: String { get }
}

extension TunableBackend {
    /// `parameters` as JSON, keys sorted: how the store keeps them.
    public var parametersJSON: String { TuningJSON.encode(parameters) }

    /// The same device with parameters given as JSON (as `parametersJSON` writes them).
    public func with(json: String) throws -> Self {
        guard let p = try? JSONDecoder().decode(Parameters.self, from: Data(json.utf8)) else {
            throw InputError("the stored tuning parameters \(json) do not fit this \(name) backend; run `softmax-lab tune` again or pass --no-tuning")
        }
        return try with(parameters: p)
    }

    public func candidatesJSON(for shape: Shape, elementType: ElementType) -> [String] {
        candidates(for: shape, elementType: elementType).map(TuningJSON.encode)
    }

    public func linearCandidatesJSON(rows: Int, features: Int, vocabulary: Int) -> [String] {
        linearCandidates(rows: rows, features: features, vocabulary: vocabulary).map(TuningJSON.encode)
    }
}

enum TuningJSON {
    static func encode<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(value)) ?? Data("{}".utf8), as: UTF8.self)
    }

    /// The top-level fields of a JSON object, each as its JSON text: for telling neighbours apart.
    static func fields(_ json: String) -> [String: String] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else { return [:] }
        return object.mapValues { "\($0)" }
    }
}

extension SwiftBackend: TunableBackend {
    public func with(parameters: SwiftParameters) throws -> SwiftBackend { SwiftBackend(parameters: parameters) }

    public func candidates(for shape: Shape, elementType: ElementType) -> [SwiftParameters] {
        SwiftParameters.candidates(rows: shape.rows, classes: shape.cols, elementType: elementType)
    }

    public func linearCandidates(rows: Int, features: Int, vocabulary: Int) -> [SwiftParameters] {
        SwiftParameters.linearCandidates(rows: rows, features: features, vocabulary: vocabulary)
    }

    /// The Swift kernels are compiled into this executable: its bytes are their source.
    public var kernelHash: String { Self.executableHash }

    static let executableHash: String = {
        guard let bytes = FileManager.default.contents(atPath: "/proc/self/exe") ?? CommandLine.arguments.first.flatMap(FileManager.default.contents(atPath:)) else {
            return "unknown"
        }
        return bytes.withUnsafeBytes { ContentHash.hex($0) }
    }()
}

extension OpenCLBackend: TunableBackend {
    public func candidates(for shape: Shape, elementType: ElementType) -> [KernelParameters] {
        var all = KernelParameters.candidates(for: openCLDevice, classes: shape.cols)
        if let i = all.firstIndex(of: parameters), i > 0 { all.insert(all.remove(at: i), at: 0) }
        return all
    }

    public func linearCandidates(rows: Int, features: Int, vocabulary: Int) -> [KernelParameters] {
        var all = KernelParameters.linearCandidates(for: openCLDevice, rows: rows, vocabulary: vocabulary)
        if let i = all.firstIndex(of: parameters), i > 0 { all.insert(all.remove(at: i), at: 0) }
        return all
    }

    public var kernelHash: String { kernelSourceHash }

    /// The hash of the kernels a backend builds by default, without building them.
    static let defaultKernelHash = ContentHash.hex(KernelSources.all)
}
