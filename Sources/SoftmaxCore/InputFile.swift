#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads an input file whole, after checking what it is: a regular file (a device such as
/// /dev/zero or a FIFO would be read without end) small enough that reading and parsing it fits in
/// the machine's memory.
public enum InputFile {
    /// `expansion`: how many times its size the parsed file takes in memory (numbers as text take
    /// more than their bytes).
    public static func bytes(_ path: String, expansion: Int = 4) throws(SoftmaxError) -> [UInt8] {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw .invalidOption("\(path): cannot read the file (missing or not readable)")
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw .invalidOption("\(path) is not a regular file (a directory, device or pipe); give a file")
        }
        let size = Int(info.st_size)
        guard let needed = MemoryBudget.product([size, max(1, expansion)]), needed <= MemoryBudget.physicalBytes else {
            throw .invalidOption("\(path) is \(MemoryBudget.describe(size)); reading it would take more than this machine's \(MemoryBudget.describe(MemoryBudget.physicalBytes)) of memory")
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .invalidOption("\(path): cannot read the file (missing or not readable)") }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + done, size - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            done += n
        }
        // A file that shrank while being read is read as far as it goes.
        if done < size { bytes.removeLast(size - done) }
        return bytes
    }

    /// The file as UTF-8 text.
    public static func text(_ path: String, name: String, expansion: Int = 16) throws(SoftmaxError) -> String {
        let bytes = try bytes(path, expansion: expansion)
        guard let text = String(validating: bytes, as: UTF8.self) else { throw .invalidOption("\(name) is not UTF-8 text") }
        return text
    }
}
