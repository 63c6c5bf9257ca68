import Foundation

/// Commits a run's metrics from a background thread, so recording costs a training step only an
/// append to a buffer: a transaction at most every `commitInterval` takes every row that arrived
/// since the last one (group commit). Committing every step instead made per-step logging 13×
/// slower than training. Each row is also written to the run's `MetricJournal` before `append`
/// returns, so a killed process loses at most the row in flight: the next store opened on the file
/// commits what the journal holds beyond the committed rows. A commit that finds the store locked
/// by another process past SQLite's busy timeout keeps its rows and tries again.
public final class MetricWriter: @unchecked Sendable {
    public typealias Sample = MetricSample

    /// Set to nil by the writer thread as it ends, so that after `close()` the writer no longer
    /// keeps the database open: a process that opens the file next never meets the last
    /// connection's closing checkpoint, which holds the file exclusively.
    private var store: ExperimentStore?
    private let runID: Int64
    private let storePath: String
    private let journal: MetricJournal
    private let condition = NSCondition()
    private var pending: [Sample] = []
    private var appended = 0
    private var committed = 0
    private var writerIsWaiting = false
    private var flushRequested = false
    private var closing = false
    private var threadEnded = false
    /// The longest a row waits before its commit starts.
    public static let commitInterval = 0.02
    /// How far the writer thread keeps the journal's file grown and its pages faulted in ahead of
    /// the rows (2 MiB: some 30,000 rows), so appending never waits on the file system.
    static let journalLead = 2 << 20
    private var failure: Error?

    /// Every metric row of run `runID` must go through this one writer: recovery counts the run's
    /// committed rows to know where in the journal the uncommitted ones begin.
    public init(store: ExperimentStore, runID: Int64) throws {
        journal = try MetricJournal(path: MetricJournal.path(store: store.canonicalPath, runID: runID))
        self.store = store
        self.runID = runID
        storePath = store.path
        pending.reserveCapacity(1024)
        // The thread holds the writer until `close()` ends its loop.
        let thread = Thread { self.loop() }
        thread.name = "softmax-lab metric writer"
        thread.start()
    }

    /// Queues a row for the next commit; never waits for the database.
    public func append(_ sample: Sample) throws {
        condition.lock()
        defer { condition.unlock() }
        if let failure { throw failure }
        try journal.append(sample)
        pending.append(sample)
        appended += 1
        // Wake the writer only when it sleeps; while it commits, rows pile up for the next batch.
        if writerIsWaiting { condition.signal() }
    }

    public func append(_ samples: [Sample]) throws {
        for s in samples { try append(s) }
    }

    /// Waits until everything appended so far is committed; throws the writer's error if one
    /// occurred, or a sentence when the store stayed locked past `timeout`.
    public func flush(timeout: Duration = MetricWriter.lockPatience) throws {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date(timeIntervalSinceNow: timeout / .seconds(1))
        while committed < appended && failure == nil {
            flushRequested = true
            condition.broadcast()
            if !condition.wait(until: deadline) && committed < appended && failure == nil {
                flushRequested = false
                throw StoreError("\(storePath) stayed locked by another process for \(String(format: "%g", timeout / .seconds(1))) s more; \(appended - committed) metric rows of run \(runID) are not committed yet and wait in \(journal.path), which the next softmax-lab to open the store commits", reason: .locked)
            }
        }
        flushRequested = false
        if let failure { throw failure }
    }

    /// Ends the run: journals how it ended (so it ends so even if what follows fails), commits the
    /// remaining rows, writes the run's final status, and only then deletes the journal. On any
    /// failure the journal stays, with the run's end in it, for the next open to finish the job.
    public func finish(_ end: RunEnd, timeout: Duration = MetricWriter.lockPatience) throws {
        condition.lock()
        // Best effort: without it (a full journal) the run still ends below, or is marked interrupted.
        try? journal.appendEnd(end)
        condition.unlock()
        defer { stopThread() }
        try flush(timeout: timeout)
        try store?.finishRun(runID, status: end.status, error: end.error)
        journal.remove()
    }

    /// Flushes and stops the thread, waiting until it has let go of the store; deletes the journal
    /// when every row was committed, and keeps it (for the next open to recover) otherwise. Every
    /// writer must be closed or finished.
    public func close() throws {
        defer { stopThread() }
        try flush()
        journal.remove()
    }

    /// How long `finish` and `flush` wait for another process to release the store's write lock.
    public static let lockPatience: Duration = .seconds(60)

    private func stopThread() {
        condition.lock()
        closing = true
        condition.broadcast()
        while !threadEnded { condition.wait() }
        condition.unlock()
    }

    /// One transaction for the batch.
    private func commit(_ batch: [Sample]) throws {
        try store?.record(metrics: Self.records(batch, runID: runID))
    }

    /// The store's rows for samples; timestamps are formatted once per millisecond, since a batch
    /// holds hundreds of rows from the same few milliseconds.
    static func records(_ batch: some Collection<Sample>, runID: Int64) -> [MetricRecord] {
        var lastMillisecond = -1.0, stamp = ""
        return batch.map { s in
            let millisecond = (s.time * 1000).rounded(.down)
            if millisecond != lastMillisecond {
                stamp = Timestamp.string(Date(timeIntervalSince1970: s.time))
                lastMillisecond = millisecond
            }
            return MetricRecord(runId: runID, key: s.key, step: s.step, epoch: s.epoch, value: s.value, recordedAt: stamp)
        }
    }

    /// Grows the journal under the lock (appends read its size), faults its new pages in outside it.
    private func prepareJournal() {
        condition.lock()
        let fresh = try? journal.extend(lead: Self.journalLead)
        condition.unlock()
        if let range = fresh { journal.populate(range) }
    }

    private func loop() {
        defer {
            condition.lock()
            store = nil
            threadEnded = true
            condition.broadcast()
            condition.unlock()
        }
        var batch: [Sample] = []
        while true {
            prepareJournal()
            condition.lock()
            while pending.isEmpty && batch.isEmpty && !closing {
                writerIsWaiting = true
                condition.wait()
                writerIsWaiting = false
            }
            // Let rows gather for one interval unless someone waits for them.
            let deadline = Date(timeIntervalSinceNow: Self.commitInterval)
            while !flushRequested && !closing && condition.wait(until: deadline) {}
            if pending.isEmpty && batch.isEmpty {
                condition.unlock()
                return
            }
            // Rows that waited out a lock go first: the journal's order is the committed order.
            if batch.isEmpty {
                swap(&batch, &pending)
            } else {
                batch.append(contentsOf: pending)
                pending.removeAll(keepingCapacity: true)
            }
            condition.unlock()
            do {
                try commit(batch)
                condition.lock()
                committed += batch.count
                condition.broadcast()
                condition.unlock()
                batch.removeAll(keepingCapacity: true)
            } catch let error as StoreError where error.reason == .locked {
                // Another process holds the write lock past the busy timeout: the rows are safe in
                // the journal; try again, unless the writer is being stopped.
                condition.lock()
                let stop = closing
                condition.unlock()
                if stop { return }
                Thread.sleep(forTimeInterval: 0.05)
            } catch {
                condition.lock()
                failure = error
                condition.broadcast()
                condition.unlock()
                return
            }
        }
    }
}
