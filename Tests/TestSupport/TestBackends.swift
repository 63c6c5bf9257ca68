import Foundation
import SoftmaxCPU
import SoftmaxOpenCL

/// Every backend the conformance suites run against: the Swift backend, and each OpenCL device
/// with each fused-kernel variant (and two work-group sizes of the work-group-per-row one), so
/// both variants are checked on PoCL's CPU device too.
public enum TestBackends {
    public static let swift = BackendCase("swift") { SwiftBackend() }

    public static let openCLDevices: [OpenCLDevice] = {
        guard let api = openCLAPI else { return [] }
        return (try? OpenCLDevice.all(api)) ?? []
    }()

    static let openCLAPI = try? OpenCLAPI()

    public static let openCL: [BackendCase] = openCLDevices.flatMap { device in
        cases(device, [rowVariant, KernelParameters(xentVariant: .workGroupPerRow, xentWorkGroupSize: 32), largestWorkGroup(device), lanesVariant])
    }

    public static let all: [BackendCase] = [swift] + openCL

    /// The Swift backend and each OpenCL device with both fused variants at one work-group size
    /// (so one program build serves both): for suites that build programs of their own (16-bit
    /// storage, a build per pair of types), where every parameter set is one more PoCL build.
    public static let bothVariantsOnce: [BackendCase] = [swift] + openCLDevices.flatMap { device in
        cases(device, [rowVariant, largestWorkGroup(device), lanesVariant])
    }

    static let rowVariant = KernelParameters(xentVariant: .rowPerWorkItem)
    /// Rows of more than `KernelParameters.lanesMaxClasses` classes, or fewer than 8 rows, take the
    /// row variant here.
    static let lanesVariant = KernelParameters(xentVariant: .rowsInLanes)

    static func largestWorkGroup(_ device: OpenCLDevice) -> KernelParameters {
        KernelParameters(xentVariant: .workGroupPerRow, xentWorkGroupSize: min(256, device.maxWorkGroupSize))
    }

    /// A backend case per parameter set, named by variant (and work-group size for that variant).
    static func cases(_ device: OpenCLDevice, _ parameters: [KernelParameters]) -> [BackendCase] {
        parameters.map { p in
            BackendCase("opencl \(device.name) \(p.xentVariant!.rawValue)\(p.xentVariant == .workGroupPerRow ? " wg \(p.xentWorkGroupSize)" : "")") {
                try OpenCLBackend(api: openCLAPI!, device: device, parameters: p)
            }
        }
    }

    /// Each OpenCL device for the fused linear cross-entropy: the device's default variant in
    /// blocks of `blockRows` rows (nil: the automatic blocks), and the work-group variant (the GPU
    /// default for long rows) in automatic blocks.
    public static func openCLLinear(blockRows: Int?) -> [BackendCase] {
        openCLDevices.flatMap { device in
            [BackendCase("opencl \(device.name) blocks of \(blockRows.map(String.init) ?? "auto")") {
                try OpenCLBackend(api: openCLAPI!, device: device, parameters: KernelParameters(linearBlockRows: blockRows))
            },
             BackendCase("opencl \(device.name) workGroupPerRow") {
                 try OpenCLBackend(api: openCLAPI!, device: device, parameters: KernelParameters(xentVariant: .workGroupPerRow, xentWorkGroupSize: 32))
             }]
        }
    }

    /// CI installs PoCL: there, an empty OpenCL list is a failure, not a skip.
    public static var openCLRequired: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }
}
