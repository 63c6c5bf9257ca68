import COpenCL
import Synchronization
import SoftmaxCore

/// One OpenCL device and the properties that matter here.
public struct OpenCLDevice: @unchecked Sendable, CustomStringConvertible {
    public var index: Int
    public var platformName: String
    public var name: String
    public var vendor: String
    public var driverVersion: String
    public var openCLCVersion: String
    /// CPU, GPU, ACCELERATOR or OTHER.
    public var type: String
    public var computeUnits: Int
    public var clockMHz: Int
    public var globalMemoryBytes: Int64
    public var localMemoryBytes: Int64
    public var maxAllocationBytes: Int64
    public var maxWorkGroupSize: Int
    public var extensions: [String]
    let id: cl_device_id
    let platform: cl_platform_id

    public var isGPU: Bool { type == "GPU" }
    public var hasFP64: Bool { extensions.contains("cl_khr_fp64") }
    public var hasFP16: Bool { extensions.contains("cl_khr_fp16") }

    public var description: String { "\(name) (\(platformName), \(type))" }

    public var summary: DeviceDescription {
        DeviceDescription(
            backend: "opencl", platform: platformName, name: name, vendor: vendor, driverVersion: driverVersion, type: type,
            computeUnits: computeUnits, clockMHz: clockMHz, globalMemoryBytes: globalMemoryBytes,
            localMemoryBytes: localMemoryBytes, maxWorkGroupSize: maxWorkGroupSize)
    }

    /// Every device of every platform, in platform order; the reason when there are none.
    /// One enumeration at a time in the process: PoCL's first platform queries are not safe to run
    /// from two threads at once (one of them saw the platform without its device).
    public static func all(_ api: OpenCLAPI) throws(OpenCLUnavailable) -> [OpenCLDevice] {
        try enumeration.withLock { (_: inout Void) throws(OpenCLUnavailable) -> [OpenCLDevice] in try enumerate(api) }
    }

    private static let enumeration = Mutex<Void>(())

    private static func enumerate(_ api: OpenCLAPI) throws(OpenCLUnavailable) -> [OpenCLDevice] {
        var count: cl_uint = 0
        let status = api.getPlatformIDs(0, nil, &count)
        guard status == CL_SUCCESS, count > 0 else { throw .noPlatform(status: status) }
        var platforms = [cl_platform_id?](repeating: nil, count: Int(count))
        guard api.getPlatformIDs(count, &platforms, nil) == CL_SUCCESS else { throw .noPlatform(status: status) }
        var devices: [OpenCLDevice] = []
        for case let platform? in platforms {
            var n: cl_uint = 0
            guard api.getDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), 0, nil, &n) == CL_SUCCESS, n > 0 else { continue }
            var ids = [cl_device_id?](repeating: nil, count: Int(n))
            guard api.getDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), n, &ids, nil) == CL_SUCCESS else { continue }
            for case let id? in ids {
                devices.append(describe(api, platform: platform, device: id, index: devices.count))
            }
        }
        guard !devices.isEmpty else { throw .noDevice }
        return devices
    }

    static func describe(_ api: OpenCLAPI, platform: cl_platform_id, device: cl_device_id, index: Int) -> OpenCLDevice {
        /// A string property: ask for its size, then read it.
        func text(_ query: (Int, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int>?) -> cl_int) -> String {
            var size = 0
            _ = query(0, nil, &size)
            var bytes = [CChar](repeating: 0, count: size + 1)
            _ = bytes.withUnsafeMutableBytes { query(size, $0.baseAddress, nil) }
            return String(cChars: bytes).trimmingSpaces
        }
        func platformString(_ param: Int32) -> String {
            text { api.getPlatformInfo(platform, cl_platform_info(param), $0, $1, $2) }
        }
        func string(_ param: Int32) -> String {
            text { api.getDeviceInfo(device, cl_device_info(param), $0, $1, $2) }
        }
        func value<T: FixedWidthInteger>(_ param: Int32, _: T.Type) -> T {
            var v: T = 0
            _ = api.getDeviceInfo(device, cl_device_info(param), MemoryLayout<T>.size, &v, nil)
            return v
        }
        let typeBits = value(CL_DEVICE_TYPE, cl_device_type.self)
        let type = typeBits & cl_device_type(CL_DEVICE_TYPE_GPU) != 0 ? "GPU"
            : typeBits & cl_device_type(CL_DEVICE_TYPE_CPU) != 0 ? "CPU"
            : typeBits & cl_device_type(CL_DEVICE_TYPE_ACCELERATOR) != 0 ? "ACCELERATOR" : "OTHER"
        return OpenCLDevice(
            index: index, platformName: platformString(CL_PLATFORM_NAME),
            name: string(CL_DEVICE_NAME), vendor: string(CL_DEVICE_VENDOR), driverVersion: string(CL_DRIVER_VERSION),
            openCLCVersion: string(CL_DEVICE_OPENCL_C_VERSION), type: type,
            computeUnits: Int(value(CL_DEVICE_MAX_COMPUTE_UNITS, cl_uint.self)), clockMHz: Int(value(CL_DEVICE_MAX_CLOCK_FREQUENCY, cl_uint.self)),
            globalMemoryBytes: Int64(value(CL_DEVICE_GLOBAL_MEM_SIZE, cl_ulong.self)),
            localMemoryBytes: Int64(value(CL_DEVICE_LOCAL_MEM_SIZE, cl_ulong.self)),
            maxAllocationBytes: Int64(value(CL_DEVICE_MAX_MEM_ALLOC_SIZE, cl_ulong.self)),
            maxWorkGroupSize: Int(value(CL_DEVICE_MAX_WORK_GROUP_SIZE, Int.self)),
            extensions: string(CL_DEVICE_EXTENSIONS).split(separator: " ").map(String.init), id: device, platform: platform)
    }
}

extension String {
    /// A NUL-terminated C string held in an array.
    init(cChars: [CChar]) {
        self.init(decoding: cChars.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}
