import GRDB

/// A device a run used; one row per (backend, platform, name, driver, host).
public struct DeviceRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "devices"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    public var id: Int64?
    public var backend: String
    public var platform: String
    public var name: String
    public var vendor: String
    public var driverVersion: String
    public var type: String
    public var computeUnits: Int?
    public var clockMhz: Int?
    public var globalMemoryBytes: Int64?
    public var localMemoryBytes: Int64?
    public var maxWorkGroupSize: Int?
    public var copyBandwidthGbs: Double?
    public var host: String
    public var firstSeenAt: String

    public init(backend: String, platform: String = "", name: String, vendor: String = "", driverVersion: String = "",
                type: String, computeUnits: Int? = nil, clockMhz: Int? = nil, globalMemoryBytes: Int64? = nil,
                localMemoryBytes: Int64? = nil, maxWorkGroupSize: Int? = nil, copyBandwidthGbs: Double? = nil, host: String) {
        self.backend = backend
        self.platform = platform
        self.name = name
        self.vendor = vendor
        self.driverVersion = driverVersion
        self.type = type
        self.computeUnits = computeUnits
        self.clockMhz = clockMhz
        self.globalMemoryBytes = globalMemoryBytes
        self.localMemoryBytes = localMemoryBytes
        self.maxWorkGroupSize = maxWorkGroupSize
        self.copyBandwidthGbs = copyBandwidthGbs
        self.host = host
        self.firstSeenAt = Timestamp.now()
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// One run of train, bench, gradcheck or tune.
public struct RunRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "runs"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    public enum Kind: String, Codable, Sendable, CaseIterable { case train, bench, gradcheck, tune }
    public typealias Status = RunStatus

    public var id: Int64?
    public var uuid: String
    public var kind: Kind
    public var name: String?
    public var status: Status
    public var startedAt: String
    public var endedAt: String?
    public var deviceId: Int64?
    public var backend: String
    /// The whole configuration as JSON (`json_extract(config, '$.learningRate')`).
    public var config: String
    public var seed: Int64?
    public var gitCommit: String?
    public var host: String
    public var pid: Int32?
    public var toolVersion: String
    public var commandLine: String
    public var error: String?

    public init(uuid: String, kind: Kind, name: String?, status: Status, startedAt: String, endedAt: String? = nil,
                deviceId: Int64?, backend: String, config: String, seed: Int64?, gitCommit: String?, host: String,
                pid: Int32?, toolVersion: String, commandLine: String, error: String? = nil) {
        self.uuid = uuid
        self.kind = kind
        self.name = name
        self.status = status
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.deviceId = deviceId
        self.backend = backend
        self.config = config
        self.seed = seed
        self.gitCommit = gitCommit
        self.host = host
        self.pid = pid
        self.toolVersion = toolVersion
        self.commandLine = commandLine
        self.error = error
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// One metric value: per epoch (train_loss, val_acc, lr, …) or per logged step (step_loss).
public struct MetricRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "metrics"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    public var id: Int64?
    public var runId: Int64
    public var key: String
    public var step: Int?
    public var epoch: Int?
    public var value: Double?
    public var recordedAt: String

    public init(runId: Int64, key: String, step: Int?, epoch: Int?, value: Double?, recordedAt: String = Timestamp.now()) {
        self.runId = runId
        self.key = key
        self.step = step
        self.epoch = epoch
        // NaN is stored as NULL: SQLite has no NaN, and a NULL reads as "no number" in every query.
        self.value = value.flatMap { $0.isNaN ? nil : $0 }
        self.recordedAt = recordedAt
    }
}

/// One timed operation of a bench run.
public struct TimingRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "timings"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    public var id: Int64?
    public var runId: Int64
    public var op: String
    public var shape: String
    public var backend: String
    public var deviceId: Int64?
    public var samples: Int
    public var minMs: Double?
    public var medianMs: Double?
    public var p90Ms: Double?
    public var maxMs: Double?
    public var bytes: Int64?
    public var flops: Int64?
    public var gbPerS: Double?
    public var gflopPerS: Double?
    public var percentOfBandwidth: Double?
    public var timing: String
    public var checkResult: String
    /// Peak resident memory of one call beyond its inputs and outputs (nil where not measured).
    public var peakExtraBytes: Int64?

    public init(runId: Int64, op: String, shape: String, backend: String, deviceId: Int64?, samples: Int,
                minMs: Double?, medianMs: Double?, p90Ms: Double?, maxMs: Double?, bytes: Int64?, flops: Int64?,
                gbPerS: Double?, gflopPerS: Double?, percentOfBandwidth: Double?, timing: String = "wall", checkResult: String = "ok",
                peakExtraBytes: Int64? = nil) {
        self.runId = runId
        self.op = op
        self.shape = shape
        self.backend = backend
        self.deviceId = deviceId
        self.samples = samples
        self.minMs = minMs
        self.medianMs = medianMs
        self.p90Ms = p90Ms
        self.maxMs = maxMs
        self.bytes = bytes
        self.flops = flops
        self.gbPerS = gbPerS
        self.gflopPerS = gflopPerS
        self.percentOfBandwidth = percentOfBandwidth
        self.timing = timing
        self.checkResult = checkResult
        self.peakExtraBytes = peakExtraBytes
    }
}

/// One row of the `run_summary` view.
public struct RunSummary: Codable, Sendable, Equatable, FetchableRecord {
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public var id: Int64
    public var name: String?
    public var kind: String
    public var status: String
    public var backend: String
    public var device: String?
    public var startedAt: String
    public var endedAt: String?
    public var durationS: Double?
    public var epochs: Int?
    public var finalTrainLoss: Double?
    public var finalValLoss: Double?
    public var bestValLoss: Double?
    public var finalTrainAcc: Double?
    public var finalValAcc: Double?
    public var bestValAcc: Double?
}
