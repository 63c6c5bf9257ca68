import COpenCL
import SoftmaxCore
import SoftmaxKernels
import Synchronization

/// A device's context and built programs, shared by every backend on that device in the process:
/// building the kernels takes ~0.5 s on PoCL, so programs are cached by device, driver, source and
/// defines.
final class OpenCLSession: @unchecked Sendable {
    let api: OpenCLAPI
    let device: OpenCLDevice
    let context: cl_context
    private let programs = Mutex<[String: Program]>([:])

    /// A built program; programs are immutable once built and safe to share between threads.
    struct Program: @unchecked Sendable { let handle: cl_program }

    private static let sessions = Mutex<[String: OpenCLSession]>([:])

    static func shared(api: OpenCLAPI, device: OpenCLDevice) throws -> OpenCLSession {
        let key = "\(device.platformName)|\(device.name)|\(device.driverVersion)|\(device.index)"
        return try sessions.withLock { (cache: inout [String: OpenCLSession]) throws -> OpenCLSession in
            if let s = cache[key] { return s }
            let s = try OpenCLSession(api: api, device: device)
            cache[key] = s
            return s
        }
    }

    private init(api: OpenCLAPI, device: OpenCLDevice) throws {
        self.api = api
        self.device = device
        var status: cl_int = 0
        var id: cl_device_id? = device.id
        guard let context = api.createContext(nil, 1, &id, nil, nil, &status), status == CL_SUCCESS else {
            throw OpenCLError(status: status, call: "clCreateContext")
        }
        self.context = context
    }

    /// The program for `source` with `defines` prepended, built once.
    func program(source: String, defines: String) throws -> cl_program {
        let text = defines + source
        let key = "\(device.name)|\(device.driverVersion)|\(text.hashValue)|\(text.utf8.count)"
        if let p = programs.withLock({ $0[key] }) { return p.handle }
        let p = try build(text)
        programs.withLock { $0[key] = Program(handle: p) }
        return p
    }

    /// Builds a program; a failure carries the compiler's log.
    func build(_ text: String) throws -> cl_program {
        var status: cl_int = 0
        let program: cl_program? = text.withCString { cString in
            var pointer: UnsafePointer<CChar>? = cString
            return api.createProgramWithSource(context, 1, &pointer, nil, &status)
        }
        guard let program, status == CL_SUCCESS else { throw OpenCLError(status: status, call: "clCreateProgramWithSource") }
        var id: cl_device_id? = device.id
        let built = api.buildProgram(program, 1, &id, "-cl-std=CL1.2", nil, nil)
        guard built == CL_SUCCESS else {
            var size = 0
            _ = api.getProgramBuildInfo(program, device.id, cl_program_build_info(CL_PROGRAM_BUILD_LOG), 0, nil, &size)
            var log = [CChar](repeating: 0, count: size + 1)
            _ = api.getProgramBuildInfo(program, device.id, cl_program_build_info(CL_PROGRAM_BUILD_LOG), size, &log, nil)
            _ = api.releaseProgram(program)
            throw OpenCLError(status: built, call: "clBuildProgram", detail: String(cChars: log).trimmingSpaces)
        }
        return program
    }
}
