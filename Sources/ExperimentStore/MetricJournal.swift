import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The rows a `MetricWriter` has accepted, in a memory-mapped file next to the store, so that a
/// process killed before its next group commit loses at most the row it was writing: memory-mapped
/// pages belong to the kernel's page cache and outlive the process. Appending costs a few stores
/// (no system call); a `write` per row would have cost more than the training steps it records.
///
/// The writer holds an exclusive `flock` on the file for as long as it lives, so "journal present
/// and unlocked" means its writer is gone, whatever became of its pid. The next `ExperimentStore`
/// opened on this host that finds such a journal commits the rows the run's transactions had not
/// (`JournalRecovery`) and deletes the file; a writer that finishes normally deletes it itself.
///
/// The file is created with O_EXCL | O_NOFOLLOW under a name of its own, locked, and hard-linked
/// into place: a link (or anything else) already there is refused, never written through, and the
/// journal is never seen at its name unlocked while its writer lives.
///
/// Format: records one after another, each 8-byte aligned: length (UInt32, whole record),
/// checksum (UInt32, FNV-1a of the rest by 8-byte words), time (Double), step, epoch (Int64),
/// value (Double), flags (UInt32: step, epoch, value present; 8 = the run's end), key length
/// (UInt32), key (UTF-8). An end record carries the run's final status and error as its key
/// ("status\nerror"), so a run whose last commits could not be made still ends as it really ended.
/// Reading stops at the first record whose length or checksum is wrong: the one in flight when the
/// process died.
public final class MetricJournal {
    /// Address space to reserve up front, largest first (an address-space limit may refuse the
    /// first); the file itself grows by `growth` as rows arrive.
    static let reservations = [1 << 36, 1 << 32, 1 << 28]
    static let growth = 1 << 20
    static let headerBytes = 48
    static let endFlag: UInt32 = 8
    /// Room kept free past the last row for the run's end record, so that a journal that can no
    /// longer grow (disk full) can still say how the run ended.
    static let endReserve = 4096

    public let path: String
    private let fd: Int32
    private let base: UnsafeMutableRawPointer
    private let reserved: Int
    private var fileSize = 0
    private var end = 0

    /// The journal of run `runID` of the store at `storePath`.
    public static func path(store storePath: String, runID: Int64) -> String { "\(storePath).run-\(runID).metrics" }

    /// Creates the file, which must not exist yet, and locks it.
    ///
    /// The file is created and locked under a name of its own and only then linked to `path`:
    /// created at `path` and locked after, it stood there unlocked for an instant, and an open of
    /// the store in that instant could take it for a dead writer's journal, end the live run as
    /// interrupted and delete the file (what a CI run's `aKilledRunIsMarkedInterrupted…`, finding
    /// no journal, looked like). Where the file system has no hard links, it is created in place.
    public init(path: String) throws {
        self.path = path
        let creating = "\(path).creating-\(getpid())"
        // A name only this process uses; one left by a process of the same pid that died here is litter.
        unlink(creating)
        var descriptor = open(creating, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        if descriptor >= 0 {
            _ = flock(descriptor, LOCK_EX | LOCK_NB)
            let linked = link(creating, path) == 0
            let reason = errno
            unlink(creating)
            if !linked {
                close(descriptor)
                descriptor = -1
                if reason != EPERM && reason != EOPNOTSUPP && reason != ENOSYS { throw Self.refusal(path, reason) }
            }
        }
        if descriptor < 0 {
            descriptor = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
            guard descriptor >= 0 else { throw Self.refusal(path, errno) }
            _ = flock(descriptor, LOCK_EX | LOCK_NB)
        }
        fd = descriptor
        var mapping: (UnsafeMutableRawPointer, Int)?
        for size in Self.reservations where mapping == nil {
            if let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), p != MAP_FAILED { mapping = (p, size) }
        }
        guard let mapping else {
            let reason = String(cString: strerror(errno))
            unlink(path)
            close(fd)
            throw StoreError("\(path): cannot map the metrics journal (\(reason))")
        }
        (base, reserved) = mapping
        do {
            try grow(to: Self.endReserve)
        } catch {
            unlink(path)
            throw error
        }
    }

    deinit {
        munmap(base, reserved)
        close(fd)
    }

    /// The sentence for a journal that cannot be created at `path` (errno `reason`).
    private static func refusal(_ path: String, _ reason: Int32) -> StoreError {
        var info = stat()
        if reason == EEXIST, lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFLNK {
            return StoreError("\(path) is a symbolic link where the run's metrics journal goes; softmax-lab never writes through a link, so remove it and run again")
        }
        if reason == EEXIST {
            return StoreError("\(path) already exists where the run's metrics journal goes; move it away and run again")
        }
        return StoreError("\(path): cannot create the metrics journal (\(String(cString: strerror(reason))))")
    }

    /// Writes one row; when this returns, the row survives the process being killed.
    public func append(_ s: MetricSample) throws {
        let flags = UInt32(s.step == nil ? 0 : 1) | UInt32(s.epoch == nil ? 0 : 2) | UInt32(s.value == nil ? 0 : 4)
        try write(key: s.key, time: s.time, step: Int64(s.step ?? 0), epoch: Int64(s.epoch ?? 0), value: s.value ?? 0, flags: flags)
    }

    /// Writes the run's end: what the store's `runs` row should say once the rows before it are in.
    public func appendEnd(_ end: RunEnd) throws {
        var text = end.status.rawValue + "\n" + (end.error ?? "")
        // It must fit the reserve: a very long error keeps its beginning.
        let room = Self.endReserve - Self.headerBytes - 8
        if text.utf8.count > room { text = String(decoding: text.utf8.prefix(room), as: UTF8.self) }
        while text.utf8.count > room { text.removeLast() }
        try write(key: text, time: end.time, step: 0, epoch: 0, value: 0, flags: Self.endFlag | (end.error == nil ? 0 : 1), reserve: 0)
    }

    private func write(key: String, time: Double, step: Int64, epoch: Int64, value: Double, flags: UInt32,
                       reserve: Int = MetricJournal.endReserve) throws {
        var key = key
        try key.withUTF8 { k in
            let size = (Self.headerBytes + k.count + 7) & ~7
            if end + size + reserve > fileSize { try grow(to: end + size + reserve) }
            let r = base + end
            r.storeBytes(of: time, toByteOffset: 8, as: Double.self)
            r.storeBytes(of: step, toByteOffset: 16, as: Int64.self)
            r.storeBytes(of: epoch, toByteOffset: 24, as: Int64.self)
            r.storeBytes(of: value, toByteOffset: 32, as: Double.self)
            r.storeBytes(of: flags, toByteOffset: 40, as: UInt32.self)
            r.storeBytes(of: UInt32(k.count), toByteOffset: 44, as: UInt32.self)
            if let source = k.baseAddress { (r + Self.headerBytes).copyMemory(from: source, byteCount: k.count) }
            r.storeBytes(of: Self.checksum(r + 8, words: (size - 8) / 8), toByteOffset: 4, as: UInt32.self)
            r.storeBytes(of: UInt32(size), toByteOffset: 0, as: UInt32.self)
            end += size
        }
    }

    /// Grows the file so that `lead` bytes exist past the last row, and returns the new part (nil
    /// when there was room). Call it under the same lock as `append`; then `populate` the range
    /// outside it.
    func extend(lead: Int) throws -> Range<Int>? {
        guard end + lead > fileSize else { return nil }
        let old = fileSize
        try grow(to: end + lead)
        return old..<fileSize
    }

    /// Faults the pages of `range` in, writable, without changing a byte, so the appends that reach
    /// them take no page fault: a first write to a page of a shared file mapping costs the writing
    /// thread microseconds (the training thread, without this). Safe while rows are appended;
    /// best effort (kernels before 5.14 refuse it).
    func populate(_ range: Range<Int>) {
        #if os(Linux)
        let populateWrite: Int32 = 23  // MADV_POPULATE_WRITE
        _ = madvise(base + range.lowerBound, range.count, populateWrite)
        #endif
    }

    /// Allocates the file's blocks (not a sparse `ftruncate`): a store to a mapped page whose block
    /// the disk cannot supply would kill the process with SIGBUS, where this fails with a sentence.
    private func grow(to needed: Int) throws {
        let size = (needed + Self.growth - 1) / Self.growth * Self.growth
        guard size <= reserved else { throw StoreError("\(path): the metrics journal is full (\(reserved >> 20) MiB of rows)") }
        let code = posix_fallocate(fd, off_t(fileSize), off_t(size - fileSize))
        guard code == 0 else {
            throw StoreError("\(path): cannot grow the metrics journal (\(String(cString: strerror(code)))); the disk may be full",
                             reason: code == ENOSPC || code == EFBIG ? .full : nil)
        }
        fileSize = size
    }

    /// Deletes the file while still holding its lock, so no recovery can start on it in between.
    public func remove() { unlink(path) }

    /// Every complete row of the file at `path`, in the order appended (end records left out).
    public static func rows(atPath path: String) throws -> [MetricSample] {
        guard let reader = try Reader(path: path, lock: false) else { return [] }
        var rows: [MetricSample] = []
        reader.forEach { entry in if case .row(let s) = entry { rows.append(s) } }
        return rows
    }

    /// FNV-1a over 8-byte words (the record's padding is part of it; the file starts zeroed):
    /// enough to tell a whole record from a torn one, at a few nanoseconds a row.
    static func checksum(_ p: UnsafeRawPointer, words: Int) -> UInt32 {
        var h: UInt64 = 14_695_981_039_346_656_037
        for i in 0..<words { h = (h ^ p.loadUnaligned(fromByteOffset: i &* 8, as: UInt64.self)) &* 1_099_511_628_211 }
        return UInt32(truncatingIfNeeded: h ^ (h >> 32))
    }
}

/// How a run ended, as its writer journaled it.
public struct RunEnd: Sendable, Equatable {
    public var status: RunStatus
    public var error: String?
    public var time: Double

    public init(status: RunStatus, error: String?, time: Double = Date().timeIntervalSince1970) {
        self.status = status
        self.error = error
        self.time = time
    }
}
