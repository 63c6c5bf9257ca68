import ExperimentStore
import Foundation
import SoftmaxCore
import SoftmaxTraining

/// Records one run in the store: inserted as `running` before work starts, metrics committed as
/// they come (each epoch, and each logged step), `finished` or `failed` at the end.
final class RunRecorder: TrainingObserver {
    let store: ExperimentStore
    let runID: Int64
    /// Metrics go through a background writer so that per-step logging costs a step almost nothing.
    private let writer: MetricWriter

    /// Starts the run. `config` is saved whole (as JSON) and flattened into `params`.
    init<Config: Encodable>(store: ExperimentStore, kind: RunRecord.Kind, name: String?, device: DeviceDescription,
                            config: Config, seed: UInt64?) throws {
        self.store = store
        let host = ProcessInfo.processInfo.hostName
        let deviceID = try store.register(device: Self.record(device))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = try encoder.encode(config)
        let run = RunRecord(
            uuid: UUID().uuidString.lowercased(), kind: kind, name: name, status: .running, startedAt: Timestamp.now(),
            deviceId: deviceID, backend: device.backend, config: String(decoding: json, as: UTF8.self),
            seed: seed.map { Int64(bitPattern: $0) }, gitCommit: Self.gitCommit(), host: host, pid: getpid(),
            toolVersion: SoftmaxLab.configuration.version, commandLine: Console.current.commandLine)
        runID = try store.beginRun(run, params: ExperimentStore.flatten(json: json))
        do {
            writer = try MetricWriter(store: store, runID: runID)
        } catch {
            try? store.finishRun(runID, status: .failed, error: String(describing: error))
            throw error
        }
    }

    func trainingDidFinishStep(_ step: Int, epoch: Int, loss: Double) throws {
        try writer.append(MetricWriter.Sample(key: "step_loss", step: step, epoch: epoch, value: loss))
    }

    func trainingDidFinishEpoch(_ m: EpochMetrics) throws {
        let now = Date().timeIntervalSince1970
        var values: [(String, Double?)] = [("train_loss", m.trainLoss), ("train_acc", m.trainAccuracy), ("lr", Double(m.learningRate)),
                                           ("elapsed_s", m.seconds)]
        if let l = m.validationLoss { values.append(("val_loss", l)) }
        if let a = m.validationAccuracy { values.append(("val_acc", a)) }
        try writer.append(values.map { MetricWriter.Sample(key: $0.0, step: m.step, epoch: m.epoch, value: $0.1, time: now) })
    }

    /// A bench run's results on one device: one `timings` row each; the device's copy bandwidth (the
    /// fastest copy measured, which is the DRAM rate for shapes larger than the caches) kept in `devices`.
    func record(_ results: [BenchmarkResult], repeats: Int, device: DeviceDescription) throws {
        let copies = results.filter { $0.op == "copy" && $0.gbPerSecond != nil }
        let deviceID = try store.register(device: Self.record(device, copyBandwidth: copies.max { $0.bytes < $1.bytes }?.gbPerSecond))
        try store.record(timings: results.flatMap { r in
            var rows = [TimingRecord(
                runId: runID, op: r.op, shape: r.shape, backend: r.backend, deviceId: deviceID, samples: r.timing == nil ? 0 : repeats,
                minMs: r.timing?.min, medianMs: r.timing?.median, p90Ms: r.timing?.p90, maxMs: r.timing?.max,
                bytes: Int64(r.bytes), flops: Int64(r.flops), gbPerS: r.gbPerSecond, gflopPerS: r.gflopPerSecond,
                percentOfBandwidth: r.percentOfCopy, timing: "wall", checkResult: r.check, peakExtraBytes: r.peakExtraBytes.map(Int64.init))]
            if let k = r.kernelTiming {
                // The same op by the device's clock: rates from the kernel time alone.
                let seconds = k.median / 1e3
                rows.append(TimingRecord(
                    runId: runID, op: r.op, shape: r.shape, backend: r.backend, deviceId: deviceID, samples: repeats,
                    minMs: k.min, medianMs: k.median, p90Ms: k.p90, maxMs: k.max, bytes: Int64(r.bytes), flops: Int64(r.flops),
                    gbPerS: r.bytes > 0 ? Double(r.bytes) / seconds / 1e9 : nil, gflopPerS: r.flops > 0 ? Double(r.flops) / seconds / 1e9 : nil,
                    percentOfBandwidth: nil, timing: "kernel", checkResult: r.check))
            }
            return rows
        })
    }

    static func record(_ device: DeviceDescription, copyBandwidth: Double? = nil) -> DeviceRecord {
        DeviceRecord(
            backend: device.backend, platform: device.platform, name: device.name, vendor: device.vendor,
            driverVersion: device.driverVersion, type: device.type, computeUnits: device.computeUnits, clockMhz: device.clockMHz,
            globalMemoryBytes: device.globalMemoryBytes, localMemoryBytes: device.localMemoryBytes,
            maxWorkGroupSize: device.maxWorkGroupSize, copyBandwidthGbs: copyBandwidth, host: ProcessInfo.processInfo.hostName)
    }

    /// Records rows outside training (gradcheck's errors), through the same writer.
    func record(metrics: [MetricWriter.Sample]) throws { try writer.append(metrics) }

    /// Commits the last rows and marks the run finished. Where the store cannot take them (locked
    /// past the writer's patience, disk full), the rows and the run's end wait in its journal for
    /// the next open, and the sentence says so.
    func finish() throws {
        try writer.finish(RunEnd(status: .finished, error: nil))
    }

    /// Marks the run failed with the error's sentence; a failure to record that is not allowed to
    /// hide the original error (the journal keeps the run's end for the next open).
    func fail(_ error: Error) {
        let end = RunEnd(status: .failed, error: String(describing: error))
        do {
            try writer.finish(end)
        } catch {
            try? store.finishRun(runID, status: end.status, error: end.error)
        }
    }

    /// `git describe --always --dirty` of the project when the current directory is its checkout.
    static func gitCommit() -> String? {
        let cwd = FileManager.default.currentDirectoryPath
        guard FileManager.default.fileExists(atPath: cwd + "/Sources/SoftmaxLabCLI"),
              FileManager.default.isExecutableFile(atPath: "/usr/bin/git") else { return nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/git")
        process.arguments = ["-C", cwd, "describe", "--always", "--dirty", "--abbrev=40"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        return String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
