import GRDB

/// One candidate a tune run checked and timed: its device, op, shape class and storage type, its
/// parameters as JSON, whether it was right, how fast, and whether the run chose it.
public struct TuningRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "tuning"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    public var id: Int64?
    public var runId: Int64
    public var deviceId: Int64
    /// What the times belong to: the kernels' source (OpenCL) or the binary (Swift); another one
    /// makes the row stale.
    public var kernelHash: String
    public var toolVersion: String
    public var op: String
    public var shapeClass: String
    public var shape: String
    public var dtype: String
    public var parameters: String
    public var isDefault: Bool
    public var checkResult: String
    public var samples: Int
    public var medianMs: Double?
    public var p90Ms: Double?
    public var chosen: Bool

    public init(runId: Int64, deviceId: Int64, kernelHash: String, toolVersion: String, op: String, shapeClass: String, shape: String,
                dtype: String, parameters: String, isDefault: Bool, checkResult: String, samples: Int, medianMs: Double?, p90Ms: Double?,
                chosen: Bool) {
        self.runId = runId
        self.deviceId = deviceId
        self.kernelHash = kernelHash
        self.toolVersion = toolVersion
        self.op = op
        self.shapeClass = shapeClass
        self.shape = shape
        self.dtype = dtype
        self.parameters = parameters
        self.isDefault = isDefault
        self.checkResult = checkResult
        self.samples = samples
        self.medianMs = medianMs
        self.p90Ms = p90Ms
        self.chosen = chosen
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}
