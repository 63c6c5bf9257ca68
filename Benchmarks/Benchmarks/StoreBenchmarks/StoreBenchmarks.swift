import Benchmark
import ExperimentStore
import Foundation

/// Writing metrics: 100,000 rows in batched transactions, and through the background writer that
/// training uses; and what the writer's `append` costs the thread that trains.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .mallocCountTotal], maxDuration: .seconds(20), maxIterations: 10)

    func freshStore() throws -> (ExperimentStore, Int64) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bench-\(UUID().uuidString).sqlite").path
        let store = try ExperimentStore(path: path)
        let run = RunRecord(uuid: UUID().uuidString, kind: .train, name: nil, status: .running, startedAt: Timestamp.now(),
                            deviceId: nil, backend: "swift", config: "{}", seed: nil, gitCommit: nil, host: "bench", pid: nil,
                            toolVersion: "bench", commandLine: "bench")
        return (store, try store.beginRun(run, params: [:]))
    }

    Benchmark("100,000 metric rows, 1,000 per transaction") { benchmark in
        let (store, run) = try freshStore()
        let now = Timestamp.now()
        let batches = (0..<100).map { b in
            (0..<1000).map { i in MetricRecord(runId: run, key: "step_loss", step: b * 1000 + i, epoch: b, value: Double(i), recordedAt: now) }
        }
        benchmark.startMeasurement()
        for batch in batches { try store.record(metrics: batch) }
    }

    Benchmark("100,000 metric rows through MetricWriter") { benchmark in
        let (store, run) = try freshStore()
        let writer = try MetricWriter(store: store, runID: run)
        benchmark.startMeasurement()
        for i in 0..<100_000 { try writer.append(MetricWriter.Sample(key: "step_loss", step: i, epoch: i / 1000, value: Double(i))) }
        try writer.close()
    }

    // What recording costs the training thread: the appends of a 4,500-step digits run with every
    // step logged (timestamp, lock, journal), while the writer commits on its own thread.
    Benchmark("5,000 MetricWriter.append calls (the training thread's share)",
              configuration: .init(metrics: [.wallClock], maxDuration: .seconds(20), maxIterations: 50)) { benchmark in
        let (store, run) = try freshStore()
        let writer = try MetricWriter(store: store, runID: run)
        // Let the writer thread grow and fault in the journal, as it does before a run's first step.
        Thread.sleep(forTimeInterval: 0.02)
        benchmark.startMeasurement()
        for i in 0..<5000 { try writer.append(MetricWriter.Sample(key: "step_loss", step: i, epoch: i / 45, value: Double(i))) }
        benchmark.stopMeasurement()
        try writer.close()
    }
}
