import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension MetricJournal {
    /// What a journal holds, one record at a time.
    public enum Entry {
        case row(MetricSample)
        case end(RunEnd)
    }

    /// A journal opened for reading: mapped, not copied, so a journal of millions of rows is read
    /// in bounded memory. With `lock`, it holds the journal's lock exclusively, so neither a live
    /// writer nor a second recovery can be working on it at the same time.
    public final class Reader {
        public let path: String
        private let fd: Int32
        private let base: UnsafeRawPointer?
        private let size: Int

        /// Nil when `lock` is asked for and someone else holds the journal (its writer is alive, or
        /// another process is recovering it). Never follows a link; refuses anything but a file.
        public init?(path: String, lock: Bool) throws {
            self.path = path
            fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else {
                let reason = errno
                throw StoreError(reason == ELOOP
                    ? "\(path) is a symbolic link, not a metrics journal; it was left alone"
                    : "\(path): cannot read the metrics journal (\(String(cString: strerror(reason))))")
            }
            var info = stat()
            guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
                close(fd)
                throw StoreError("\(path) is not a regular file, so it is not a metrics journal; it was left alone")
            }
            if lock, flock(fd, LOCK_EX | LOCK_NB) != 0 {
                close(fd)
                return nil
            }
            size = Int(info.st_size)
            if size == 0 {
                base = nil
            } else {
                let p = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0)
                guard let p, p != MAP_FAILED else {
                    let reason = String(cString: strerror(errno))
                    close(fd)
                    throw StoreError("\(path): cannot map the metrics journal (\(reason))")
                }
                base = UnsafeRawPointer(p)
            }
        }

        deinit {
            if let base { munmap(UnsafeMutableRawPointer(mutating: base), size) }
            close(fd)
        }

        /// Calls `body` with each whole record in order.
        public func forEach(_ body: (Entry) throws -> Void) rethrows {
            guard let base else { return }
            try MetricJournal.parse(UnsafeRawBufferPointer(start: base, count: size), body)
        }
    }

    /// Walks the records of `bytes` (a whole journal) until the bytes end or a record is torn (wrong
    /// length, checksum or end record).
    public static func parse(_ bytes: UnsafeRawBufferPointer, _ body: (Entry) throws -> Void) rethrows {
        guard let start = bytes.baseAddress else { return }
        var offset = 0
        while bytes.count - offset >= headerBytes {
            let r = start + offset
            let size = Int(r.loadUnaligned(fromByteOffset: 0, as: UInt32.self))
            let keyCount = Int(r.loadUnaligned(fromByteOffset: 44, as: UInt32.self))
            guard size == (headerBytes + keyCount + 7) & ~7, size <= bytes.count - offset,
                  r.loadUnaligned(fromByteOffset: 4, as: UInt32.self) == checksum(r + 8, words: (size - 8) / 8)
            else { return }
            let flags = r.loadUnaligned(fromByteOffset: 40, as: UInt32.self)
            let key = String(decoding: UnsafeRawBufferPointer(start: r + headerBytes, count: keyCount), as: UTF8.self)
            let time = r.loadUnaligned(fromByteOffset: 8, as: Double.self)
            let entry: Entry
            if flags & endFlag != 0 {
                let parts = key.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
                guard let status = RunStatus(rawValue: String(parts[0])) else { return }
                let error = flags & 1 != 0 && parts.count > 1 ? String(parts[1]) : nil
                entry = .end(RunEnd(status: status, error: error, time: time))
            } else {
                entry = .row(MetricSample(
                    key: key,
                    step: flags & 1 != 0 ? Int(truncatingIfNeeded: r.loadUnaligned(fromByteOffset: 16, as: Int64.self)) : nil,
                    epoch: flags & 2 != 0 ? Int(truncatingIfNeeded: r.loadUnaligned(fromByteOffset: 24, as: Int64.self)) : nil,
                    value: flags & 4 != 0 ? r.loadUnaligned(fromByteOffset: 32, as: Double.self) : nil,
                    time: time))
            }
            try body(entry)
            offset += size
        }
    }
}
