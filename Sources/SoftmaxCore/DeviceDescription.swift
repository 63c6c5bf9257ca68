/// What a backend computes on, as the experiment store records it.
public struct DeviceDescription: Sendable, Equatable, Codable {
    /// "swift" or "opencl".
    public var backend: String
    public var platform: String
    public var name: String
    public var vendor: String
    public var driverVersion: String
    /// CPU, GPU or ACCELERATOR.
    public var type: String
    public var computeUnits: Int?
    public var clockMHz: Int?
    public var globalMemoryBytes: Int64?
    public var localMemoryBytes: Int64?
    public var maxWorkGroupSize: Int?

    public init(backend: String, platform: String = "", name: String, vendor: String = "", driverVersion: String = "",
                type: String, computeUnits: Int? = nil, clockMHz: Int? = nil, globalMemoryBytes: Int64? = nil,
                localMemoryBytes: Int64? = nil, maxWorkGroupSize: Int? = nil) {
        self.backend = backend
        self.platform = platform
        self.name = name
        self.vendor = vendor
        self.driverVersion = driverVersion
        self.type = type
        self.computeUnits = computeUnits
        self.clockMHz = clockMHz
        self.globalMemoryBytes = globalMemoryBytes
        self.localMemoryBytes = localMemoryBytes
        self.maxWorkGroupSize = maxWorkGroupSize
    }
}
