import ExperimentStore
import Foundation
import Testing

@Suite struct MetricJournalTests {
    static func samples(_ count: Int) -> [MetricWriter.Sample] {
        (0..<count).map { (i: Int) -> MetricWriter.Sample in
            let key: String = i % 3 == 0 ? "step_loss" : "relative_error_∂W_opencl_\(i)"
            let step: Int? = i % 5 == 0 ? nil : i
            let epoch: Int? = i % 7 == 0 ? nil : i / 10
            let value: Double? = i % 11 == 0 ? nil : Double(i) * 0.25
            return MetricWriter.Sample(key: key, step: step, epoch: epoch, value: value, time: 1_795_900_000 + Double(i))
        }
    }

    static func expectEqual(_ got: [MetricWriter.Sample], _ want: [MetricWriter.Sample]) {
        #expect(got.count == want.count)
        for (g, w) in zip(got, want) {
            #expect(g.key == w.key && g.step == w.step && g.epoch == w.epoch && g.value == w.value && g.time == w.time,
                    "\(g) vs \(w)")
        }
    }

    /// Past the first 1 MiB the file grows; every field, nil or not, comes back.
    @Test func rowsComeBackAsAppended() throws {
        let t = try TemporaryStore()
        let path = t.path + ".journal"
        let rows = Self.samples(30_000)
        let journal = try MetricJournal(path: path)
        for r in rows { try journal.append(r) }
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0 > 1 << 20)
        Self.expectEqual(try MetricJournal.rows(atPath: path), rows)
        journal.remove()
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    /// What an open of the store sees while a writer creates its journal: never the journal at its
    /// name without its writer's lock (it would take it for a dead writer's, end the live run and
    /// delete the file). A second thread plays the open, in a tight loop, against 2,000 journals
    /// created and removed in turn; whenever it gets the lock it checks, for a moment, that no live
    /// journal is that file.
    @Test func aLiveJournalIsNeverSeenUnlocked() throws {
        let t = try TemporaryStore()
        let path = t.path + ".run-1.metrics"
        let shared = LiveJournal()
        let opener = Thread {
            while !shared.done {
                let fd = open(path, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { continue }
                defer { close(fd) }
                guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { continue }
                var info = stat()
                guard fstat(fd, &info) == 0 else { continue }
                // Holding the lock: the live journal, if this is it, must not appear now.
                for _ in 0..<200 where shared.inode == info.st_ino { shared.seenUnlocked += 1; break }
            }
            shared.finished = true
        }
        opener.start()
        for _ in 0..<2_000 {
            let journal = try MetricJournal(path: path)
            var info = stat()
            #expect(stat(path, &info) == 0)
            shared.inode = info.st_ino
            try journal.append(Self.samples(1)[0])
            shared.inode = 0
            journal.remove()
        }
        shared.done = true
        while !shared.finished { usleep(1000) }
        #expect(shared.seenUnlocked == 0, "a live journal was found unlocked \(shared.seenUnlocked) times")
        #expect(!FileManager.default.fileExists(atPath: path + ".creating-\(getpid())"))
    }

    /// A row torn by the process's death (cut short, or with bytes that never arrived) ends the rows.
    @Test func aTornLastRowIsDropped() throws {
        let t = try TemporaryStore()
        let path = t.path + ".journal"
        let rows = Self.samples(3)
        do {
            let journal = try MetricJournal(path: path)
            for r in rows { try journal.append(r) }
        }
        let whole = try Data(contentsOf: URL(fileURLWithPath: path))
        let lastStart = try MetricJournal.rows(atPath: path).count == 3 ? Self.recordStarts(whole)[2] : -1
        #expect(lastStart > 0)

        var cut = whole.prefix(lastStart + 20)
        try cut.write(to: URL(fileURLWithPath: path))
        Self.expectEqual(try MetricJournal.rows(atPath: path), Array(rows.prefix(2)))

        cut = whole
        cut[lastStart + 50] ^= 0xff
        try cut.write(to: URL(fileURLWithPath: path))
        Self.expectEqual(try MetricJournal.rows(atPath: path), Array(rows.prefix(2)))
    }

    /// Offsets of the records, from their length fields.
    static func recordStarts(_ data: Data) -> [Int] {
        var starts: [Int] = [], offset = 0
        while offset + 4 <= data.count {
            let size = data[offset..<offset + 4].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
            if size == 0 { break }
            starts.append(offset)
            offset += size
        }
        return starts
    }

    /// A run whose process died with rows journaled but not committed: the next open commits them,
    /// after the committed ones and in order, says so in the run's error, and deletes the journal,
    /// also when the store is opened through another spelling of its path.
    @Test func theNextOpenCommitsWhatOnlyTheJournalHeld() throws {
        let t = try TemporaryStore()
        let rows = (0..<10).map { MetricWriter.Sample(key: "step_loss", step: $0, epoch: 0, value: Double($0), time: 1_795_900_000) }
        // The writer had committed the first four before the process died.
        let (run, journalPath) = try journaledRun(t, rows: rows, committed: 4, pid: try endedProcessID())
        let link = t.folder.appendingPathComponent("link.sqlite").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: t.path)
        let reopened = try ExperimentStore(path: link)
        let recovered = try reopened.metrics(run, key: "step_loss")
        #expect(recovered.map(\.step) == Array(0..<10))
        #expect(recovered.map(\.value) == (0..<10).map { Double($0) })
        let record = try #require(try reopened.run(run))
        #expect(record.status == .interrupted)
        #expect(record.error?.contains("its last 6 metric rows were recovered") == true, "\(record.error ?? "")")
        // Ended when its last row was written, not when it was found dead.
        #expect(record.endedAt == Timestamp.string(Date(timeIntervalSince1970: 1_795_900_000)))
        #expect(!FileManager.default.fileExists(atPath: journalPath))
    }

    @Test func aJournalThatCannotBeReadDoesNotKeepTheStoreFromOpening() throws {
        let t = try TemporaryStore()
        let run: Int64
        do {
            let store = try ExperimentStore(path: t.path)
            run = try store.beginRun(sampleRun(pid: try endedProcessID()), params: [:])
            // Something in the journal's place that is not a readable file.
            try FileManager.default.createDirectory(atPath: MetricJournal.path(store: store.canonicalPath, runID: run),
                                                    withIntermediateDirectories: false)
        }
        let reopened = try ExperimentStore(path: t.path)
        let record = try #require(try reopened.run(run))
        #expect(record.status == .interrupted)
        #expect(record.error?.contains("its metrics journal was not recovered") == true, "\(record.error ?? "")")
    }

    @Test func aClosedWriterLeavesNoJournal() throws {
        let t = try TemporaryStore()
        let store = try ExperimentStore(path: t.path)
        let run = try store.beginRun(sampleRun(), params: [:])
        let writer = try MetricWriter(store: store, runID: run)
        let path = MetricJournal.path(store: store.canonicalPath, runID: run)
        try writer.append(.init(key: "train_loss", step: 1, epoch: 1, value: 0.5))
        #expect(FileManager.default.fileExists(atPath: path))
        try writer.close()
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(try store.metrics(run).count == 1)
    }
}

extension MetricJournalTests {
    /// The fuzz seed journal, written by scripts/make-fuzz-seeds.py from the format's description
    /// alone, reads back as written: two rows and the run's end, and its torn copy as nothing.
    @Test func aJournalWrittenFromTheFormatsDescriptionReads() throws {
        let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fuzz/Corpus/journal")
        var entries: [MetricJournal.Entry] = []
        try #require(try MetricJournal.Reader(path: corpus.appendingPathComponent("rows-and-end").path, lock: false)).forEach { entries.append($0) }
        #expect(entries.count == 3)
        if case .row(let s) = entries[0] { #expect(s.key == "step_loss" && s.step == 1 && s.epoch == 0 && s.value == 2.3) } else { Issue.record("\(entries[0])") }
        if case .row(let s) = entries[1] { #expect(s.key == "val_acc" && s.step == nil && s.epoch == 1 && s.value == 0.9) } else { Issue.record("\(entries[1])") }
        if case .end(let e) = entries[2] { #expect(e.status == .finished && e.error == nil) } else { Issue.record("\(entries[2])") }
        #expect(try MetricJournal.rows(atPath: corpus.appendingPathComponent("torn").path).count == 1)
    }
}

/// State shared by `aLiveJournalIsNeverSeenUnlocked`'s two threads, behind a lock.
final class LiveJournal: @unchecked Sendable {
    private let lock = NSLock()
    private var _inode: UInt = 0, _done = false, _finished = false, _seenUnlocked = 0
    var inode: UInt { get { lock.withLock { _inode } } set { lock.withLock { _inode = newValue } } }
    var done: Bool { get { lock.withLock { _done } } set { lock.withLock { _done = newValue } } }
    var finished: Bool { get { lock.withLock { _finished } } set { lock.withLock { _finished = newValue } } }
    var seenUnlocked: Int { get { lock.withLock { _seenUnlocked } } set { lock.withLock { _seenUnlocked = newValue } } }
}
