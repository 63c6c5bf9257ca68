import ArgumentParser
import Foundation
import SoftmaxCPU
import SoftmaxOpenCL

/// `softmax-lab devices`: every OpenCL platform and device, the Swift backend, and why OpenCL is
/// unavailable when it is.
struct DevicesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices",
        abstract: "List the OpenCL devices and the Swift backend (and why OpenCL is unavailable, if it is).")

    @Flag(help: "Print as JSON.") var json = false

    struct Device: Encodable {
        var index: Int?
        var backend: String
        var platform: String
        var name: String
        var vendor: String
        var driverVersion: String
        var type: String
        var computeUnits: Int?
        var clockMHz: Int?
        var globalMemoryBytes: Int64?
        var localMemoryBytes: Int64?
        var maxAllocationBytes: Int64?
        var maxWorkGroupSize: Int?
        var openCLC: String?
        var fp64: Bool?
        var fp16: Bool?
    }

    struct Output: Encodable {
        var devices: [Device]
        var openCLLibrary: String
        var openCLUnavailable: String?
    }

    func run() throws {
        let swift = SwiftBackend()
        var devices = [Device(
            backend: "swift", platform: "", name: swift.deviceName, vendor: swift.device.vendor, driverVersion: swift.device.driverVersion,
            type: "CPU", computeUnits: SwiftBackend.threadCount, globalMemoryBytes: swift.device.globalMemoryBytes)]
        var unavailable: String?
        switch OpenCLEnvironment.discovered {
        case .success(let env):
            devices += env.devices.map { d in
                Device(index: d.index, backend: "opencl", platform: d.platformName, name: d.name, vendor: d.vendor, driverVersion: d.driverVersion,
                       type: d.type, computeUnits: d.computeUnits, clockMHz: d.clockMHz, globalMemoryBytes: d.globalMemoryBytes,
                       localMemoryBytes: d.localMemoryBytes, maxAllocationBytes: d.maxAllocationBytes, maxWorkGroupSize: d.maxWorkGroupSize,
                       openCLC: d.openCLCVersion, fp64: d.hasFP64, fp16: d.hasFP16)
            }
        case .failure(let reason):
            unavailable = reason.description
        }
        if json {
            return Console.current.line(try JSONOutput.string(Output(devices: devices, openCLLibrary: OpenCLEnvironment.libraryPath, openCLUnavailable: unavailable)))
        }
        let gib = { (b: Int64?) in b.map { String(format: "%.1f GiB", Double($0) / Double(1 << 30)) } ?? "" }
        Console.current.line(Table.render(
            header: ["#", "backend", "device", "platform", "type", "units", "MHz", "memory", "local", "max WG", "fp64", "driver"],
            rows: devices.map { d in
                [d.index.map(String.init) ?? "-", d.backend, d.name, d.platform, d.type, d.computeUnits.map(String.init) ?? "",
                 d.clockMHz.map(String.init) ?? "", gib(d.globalMemoryBytes), d.localMemoryBytes.map { "\($0 / 1024) KiB" } ?? "",
                 d.maxWorkGroupSize.map(String.init) ?? "", d.fp64.map { $0 ? "yes" : "no" } ?? "", d.driverVersion]
            }))
        if let unavailable { Console.current.line("OpenCL is unavailable: \(unavailable)") }
    }
}
