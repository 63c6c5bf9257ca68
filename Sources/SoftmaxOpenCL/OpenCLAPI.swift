import COpenCL
#if canImport(Glibc)
import Glibc
#endif

/// The OpenCL entry points, loaded from `libOpenCL.so.1` at run time, so the binary starts (and
/// falls back to the Swift backend) on machines without OpenCL.
public final class OpenCLAPI: @unchecked Sendable {
    public static let defaultLibrary = "libOpenCL.so.1"

    let getPlatformIDs: PFN_clGetPlatformIDs
    let getPlatformInfo: PFN_clGetPlatformInfo
    let getDeviceIDs: PFN_clGetDeviceIDs
    let getDeviceInfo: PFN_clGetDeviceInfo
    let createContext: PFN_clCreateContext
    let createCommandQueue: PFN_clCreateCommandQueue
    let releaseCommandQueue: PFN_clReleaseCommandQueue
    let createBuffer: PFN_clCreateBuffer
    let releaseMemObject: PFN_clReleaseMemObject
    let enqueueWriteBuffer: PFN_clEnqueueWriteBuffer
    let enqueueReadBuffer: PFN_clEnqueueReadBuffer
    let enqueueFillBuffer: PFN_clEnqueueFillBuffer
    let enqueueCopyBuffer: PFN_clEnqueueCopyBuffer
    let createProgramWithSource: PFN_clCreateProgramWithSource
    let buildProgram: PFN_clBuildProgram
    let getProgramBuildInfo: PFN_clGetProgramBuildInfo
    let releaseProgram: PFN_clReleaseProgram
    let createKernel: PFN_clCreateKernel
    let releaseKernel: PFN_clReleaseKernel
    let setKernelArg: PFN_clSetKernelArg
    let enqueueNDRangeKernel: PFN_clEnqueueNDRangeKernel
    let finish: PFN_clFinish
    let getEventProfilingInfo: PFN_clGetEventProfilingInfo
    let releaseEvent: PFN_clReleaseEvent

    /// Loads the library (a name searched as the dynamic loader does, or a path).
    public init(library: String = OpenCLAPI.defaultLibrary) throws(OpenCLUnavailable) {
        guard let handle = dlopen(library, RTLD_NOW | RTLD_LOCAL) else {
            throw .libraryNotFound(library: library, reason: dlerror().map { String(cString: $0) } ?? "dlopen failed")
        }
        func symbol<T>(_ name: String) throws(OpenCLUnavailable) -> T {
            guard let pointer = dlsym(handle, name) else { throw .missingEntryPoint(library: library, name: name) }
            return unsafeBitCast(pointer, to: T.self)
        }
        getPlatformIDs = try symbol("clGetPlatformIDs")
        getPlatformInfo = try symbol("clGetPlatformInfo")
        getDeviceIDs = try symbol("clGetDeviceIDs")
        getDeviceInfo = try symbol("clGetDeviceInfo")
        createContext = try symbol("clCreateContext")
        createCommandQueue = try symbol("clCreateCommandQueue")
        releaseCommandQueue = try symbol("clReleaseCommandQueue")
        createBuffer = try symbol("clCreateBuffer")
        releaseMemObject = try symbol("clReleaseMemObject")
        enqueueWriteBuffer = try symbol("clEnqueueWriteBuffer")
        enqueueReadBuffer = try symbol("clEnqueueReadBuffer")
        enqueueFillBuffer = try symbol("clEnqueueFillBuffer")
        enqueueCopyBuffer = try symbol("clEnqueueCopyBuffer")
        createProgramWithSource = try symbol("clCreateProgramWithSource")
        buildProgram = try symbol("clBuildProgram")
        getProgramBuildInfo = try symbol("clGetProgramBuildInfo")
        releaseProgram = try symbol("clReleaseProgram")
        createKernel = try symbol("clCreateKernel")
        releaseKernel = try symbol("clReleaseKernel")
        setKernelArg = try symbol("clSetKernelArg")
        enqueueNDRangeKernel = try symbol("clEnqueueNDRangeKernel")
        finish = try symbol("clFinish")
        getEventProfilingInfo = try symbol("clGetEventProfilingInfo")
        releaseEvent = try symbol("clReleaseEvent")
        // The handle stays open for the life of the process: kernels and buffers may outlive this object.
    }

    /// Throws an `OpenCLError` naming the call unless `status` is CL_SUCCESS.
    @inline(__always)
    func check(_ status: cl_int, _ call: StaticString) throws(OpenCLError) {
        if status != CL_SUCCESS { throw OpenCLError(status: status, call: "\(call)") }
    }
}
