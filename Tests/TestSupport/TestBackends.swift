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
        [KernelParameters(xentVariant: .rowPerWorkItem),
         KernelParameters(xentVariant: .workGroupPerRow, xentWorkGroupSize: 32),
         KernelParameters(xentVariant: .workGroupPerRow, xentWorkGroupSize: min(256, device.maxWorkGroupSize))].map { p in
            BackendCase("opencl \(device.name) \(p.xentVariant!.rawValue)\(p.xentVariant == .workGroupPerRow ? " wg \(p.xentWorkGroupSize)" : "")") {
                try OpenCLBackend(api: openCLAPI!, device: device, parameters: p)
            }
        }
    }

    public static let all: [BackendCase] = [swift] + openCL

    /// The Swift backend and each OpenCL device with its automatic parameters: for suites of one
    /// kernel variant whatever the parameters (16-bit storage has only the work-group variant),
    /// where every parameter set would be one more PoCL build of the program.
    public static let onePerDevice: [BackendCase] = [swift] + openCLDevices.map { device in
        BackendCase("opencl \(device.name)") { try OpenCLBackend(api: openCLAPI!, device: device) }
    }

    /// CI installs PoCL: there, an empty OpenCL list is a failure, not a skip.
    public static var openCLRequired: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }
}
