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
/// The next `ExperimentStore` opened on this host that finds the run's process gone inserts the
/// rows its transactions had not committed (`markInterruptedRuns`) and deletes the file; a writer
/// that closes normally deletes it itself.
///
/// Format: records one after another, each 8-byte aligned: length (UInt32, whole record),
/// checksum (UInt32, FNV-1a of the rest by 8-byte words), time (Double), step, epoch (Int64),
/// value (Double), flags (UInt32: step, epoch, value present), key length (UInt32), key (UTF-8).
/// Reading stops at the first record whose length or checksum is wrong: the one in flight when the
/// process died.
public final class MetricJournal {
    /// Address space to reserve up front, largest first (an address-space limit may refuse the
    /// first); the file itself grows by `growth` as rows arrive.
    static let reservations = [1 << 36, 1 << 32, 1 << 28]
    static let growth = 1 << 20
    static let headerBytes = 48

    public let path: String
    private let fd: Int32
    private let base: UnsafeMutableRawPointer
    private let reserved: Int
    private var fileSize = 0
    private var end = 0

    /// The journal of run `runID` of the store at `storePath`.
    public static func path(store storePath: String, runID: Int64) -> String { "\(storePath).run-\(runID).metrics" }

    /// Creates (or empties) the file.
    public init(path: String) throws {
        self.path = path
        fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StoreError("\(path): cannot create the metrics journal (\(String(cString: strerror(errno))))") }
        var mapping: (UnsafeMutableRawPointer, Int)?
        for size in Self.reservations where mapping == nil {
            if let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), p != MAP_FAILED { mapping = (p, size) }
        }
        guard let mapping else {
            let reason = String(cString: strerror(errno))
            close(fd)
            unlink(path)
            throw StoreError("\(path): cannot map the metrics journal (\(reason))")
        }
        (base, reserved) = mapping
    }

    deinit {
        munmap(base, reserved)
        close(fd)
    }

    /// Writes one row; when this returns, the row survives the process being killed.
    public func append(_ s: MetricWriter.Sample) throws {
        var key = s.key
        try key.withUTF8 { k in
            let size = (Self.headerBytes + k.count + 7) & ~7
            if end + size > fileSize { try grow(to: end + size) }
            let r = base + end
            r.storeBytes(of: s.time, toByteOffset: 8, as: Double.self)
            r.storeBytes(of: Int64(s.step ?? 0), toByteOffset: 16, as: Int64.self)
            r.storeBytes(of: Int64(s.epoch ?? 0), toByteOffset: 24, as: Int64.self)
            r.storeBytes(of: s.value ?? 0, toByteOffset: 32, as: Double.self)
            let flags = UInt32(s.step == nil ? 0 : 1) | UInt32(s.epoch == nil ? 0 : 2) | UInt32(s.value == nil ? 0 : 4)
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

    private func grow(to needed: Int) throws {
        let size = (needed + Self.growth - 1) / Self.growth * Self.growth
        guard size <= reserved else { throw StoreError("\(path): the metrics journal is full (\(reserved >> 20) MiB of rows)") }
        guard ftruncate(fd, off_t(size)) == 0 else {
            throw StoreError("\(path): cannot grow the metrics journal (\(String(cString: strerror(errno))))")
        }
        fileSize = size
    }

    /// Deletes the file (after the last row is committed, or when the run's rows are given up).
    public func remove() { unlink(path) }

    /// Every complete row of the file at `path`, in the order appended.
    public static func rows(atPath path: String) throws -> [MetricWriter.Sample] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw StoreError("\(path): cannot read the metrics journal")
        }
        return data.withUnsafeBytes { bytes in
            var rows: [MetricWriter.Sample] = []
            var offset = 0
            while offset + headerBytes <= bytes.count {
                let r = bytes.baseAddress! + offset
                let size = Int(r.loadUnaligned(fromByteOffset: 0, as: UInt32.self))
                let keyCount = Int(r.loadUnaligned(fromByteOffset: 44, as: UInt32.self))
                guard size == (headerBytes + keyCount + 7) & ~7, offset + size <= bytes.count,
                      r.loadUnaligned(fromByteOffset: 4, as: UInt32.self) == checksum(r + 8, words: (size - 8) / 8)
                else { break }
                let flags = r.loadUnaligned(fromByteOffset: 40, as: UInt32.self)
                rows.append(MetricWriter.Sample(
                    key: String(decoding: UnsafeRawBufferPointer(start: r + headerBytes, count: keyCount), as: UTF8.self),
                    step: flags & 1 != 0 ? Int(r.loadUnaligned(fromByteOffset: 16, as: Int64.self)) : nil,
                    epoch: flags & 2 != 0 ? Int(r.loadUnaligned(fromByteOffset: 24, as: Int64.self)) : nil,
                    value: flags & 4 != 0 ? r.loadUnaligned(fromByteOffset: 32, as: Double.self) : nil,
                    time: r.loadUnaligned(fromByteOffset: 8, as: Double.self)))
                offset += size
            }
            return rows
        }
    }

    /// FNV-1a over 8-byte words (the record's padding is part of it; the file starts zeroed):
    /// enough to tell a whole record from a torn one, at a few nanoseconds a row.
    static func checksum(_ p: UnsafeRawPointer, words: Int) -> UInt32 {
        var h: UInt64 = 14_695_981_039_346_656_037
        for i in 0..<words { h = (h ^ p.loadUnaligned(fromByteOffset: i &* 8, as: UInt64.self)) &* 1_099_511_628_211 }
        return UInt32(truncatingIfNeeded: h ^ (h >> 32))
    }
}
