import ExperimentStore
import Foundation
import Testing

@Suite struct MetricWriterTests {
    @Test func everyAppendedRowIsCommittedInOrderByClose() throws {
        let t = try TemporaryStore()
        let store = try ExperimentStore(path: t.path)
        let run = try store.beginRun(sampleRun(), params: [:])
        let writer = try MetricWriter(store: store, runID: run)
        for i in 0..<5000 { try writer.append(.init(key: "step_loss", step: i, epoch: i / 100, value: Double(i))) }
        try writer.append([.init(key: "val_acc", step: 4999, epoch: 50, value: .nan)])
        try writer.close()
        let rows = try store.metrics(run, key: "step_loss")
        #expect(rows.map(\.step) == Array(0..<5000))
        #expect(rows.map(\.value) == (0..<5000).map { Double($0) })
        #expect(try store.metrics(run, key: "val_acc").first?.value == nil)
        #expect(rows.allSatisfy { $0.recordedAt.hasSuffix("Z") && $0.recordedAt.count == 24 })
    }

    @Test func flushWaitsForTheCommit() throws {
        let t = try TemporaryStore()
        let store = try ExperimentStore(path: t.path)
        let run = try store.beginRun(sampleRun(), params: [:])
        let writer = try MetricWriter(store: store, runID: run)
        try writer.append(.init(key: "train_loss", step: 1, epoch: 1, value: 0.5))
        try writer.flush()
        // Read through a separate connection, as another process would.
        #expect(try ExperimentStore(path: t.path).metrics(run).count == 1)
        try writer.close()
    }

    @Test func aFailedCommitIsReportedToTheWriter() throws {
        let t = try TemporaryStore()
        let store = try ExperimentStore(path: t.path)
        // No such run: the foreign key fails the commit.
        let writer = try MetricWriter(store: store, runID: 12345)
        try writer.append(.init(key: "train_loss", step: 1, epoch: 1, value: 1))
        #expect(throws: (any Error).self) { try writer.flush() }
        #expect(throws: (any Error).self) { try writer.append(.init(key: "train_loss", step: 2, epoch: 1, value: 1)) }
        #expect(throws: (any Error).self) { try writer.close() }
    }

    /// The writer's thread must not be the one that closes the database: the last connection's
    /// close checkpoints with the file held exclusively, and a program opening it at that moment
    /// was refused with "database is locked".
    @Test func closeLetsGoOfTheStore() throws {
        let t = try TemporaryStore()
        weak var released: ExperimentStore?
        try {
            let store = try ExperimentStore(path: t.path)
            released = store
            let writer = try MetricWriter(store: store, runID: try store.beginRun(sampleRun(), params: [:]))
            try writer.append(.init(key: "train_loss", step: 1, epoch: 1, value: 0.5))
            try writer.close()
        }()
        #expect(released == nil)
    }

    @Test func timestampsAreISO8601UTCWithMilliseconds() {
        #expect(Timestamp.string(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp.string(Date(timeIntervalSince1970: 1_795_932_233.341)) == "2026-11-29T06:03:53.341Z")
    }
}

/// A run of a process that died (or `pid`) with `rows` in its journal, the first `committed` of
/// them committed, as its writer would have left them, and `finished` if its row was made final
/// while the journal was still held; returns the run and its journal's path.
func journaledRun(_ t: TemporaryStore, rows: [MetricWriter.Sample], committed: Int, pid: Int32?,
                  finished: Bool = false) throws -> (run: Int64, journal: String) {
    let store = try ExperimentStore(path: t.path)
    let run = try store.beginRun(sampleRun(pid: pid), params: [:])
    let path = MetricJournal.path(store: store.canonicalPath, runID: run)
    let journal = try MetricJournal(path: path)
    for r in rows { try journal.append(r) }
    try store.record(metrics: MetricWriterTests.records(Array(rows.prefix(committed)), run: run))
    if finished { try store.finishRun(run, status: .finished) }
    return (run, path)
}

extension MetricWriterTests {
    /// The store's rows for samples, as the writer would commit them.
    static func records(_ samples: [MetricWriter.Sample], run: Int64) -> [MetricRecord] {
        samples.map {
            MetricRecord(runId: run, key: $0.key, step: $0.step, epoch: $0.epoch, value: $0.value,
                         recordedAt: Timestamp.string(Date(timeIntervalSince1970: $0.time)))
        }
    }
}
