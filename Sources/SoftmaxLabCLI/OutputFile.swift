import ExperimentStore
import Foundation
import SoftmaxCore

/// A file a command writes (`--out`, `--grad-out`): checked when the command starts, before any
/// work, and written to a new temporary file beside it that is then renamed into place. So a
/// failure never leaves half a file, a symbolic link at the path is replaced rather than followed
/// into another file, and a path that is an experiment store, its `-wal`/`-shm`, a metrics journal
/// or any other SQLite database is refused: writing there would destroy recorded runs.
struct OutputFile {
    let path: String
    let flag: String
    /// A device or pipe: written in place, since it cannot be replaced.
    let isStream: Bool

    /// `stores`: the store paths the command knows of (its `--db`, the default one).
    init(_ path: String, flag: String, stores: [String] = [StoreOptions.defaultPath]) throws {
        self.path = path
        self.flag = flag
        guard !path.isEmpty else { throw InputError("\(flag) is empty; give a file path") }
        // A terminal, pipe or /dev/stdout (itself a link to one) is written to as it is.
        var info = stat()
        if stat(path, &info) == 0, [S_IFCHR, S_IFIFO, S_IFSOCK].contains(info.st_mode & S_IFMT) {
            isStream = true
            return
        }
        isStream = false
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw InputError("\(flag) \(path): the folder \(folder) does not exist")
        }
        guard access(folder, W_OK) == 0 else { throw InputError("\(flag) \(path): the folder \(folder) is not writable") }
        // The entry the rename would replace: the folder resolved, the last component not followed.
        let target = URL(fileURLWithPath: folder).resolvingSymlinksInPath().appendingPathComponent(url.lastPathComponent).path
        for store in stores {
            let canonical = ExperimentStore.canonical(store)
            let guarded = ["", "-wal", "-shm", "-journal"].map { canonical + $0 }
            if guarded.contains(target) || (target.hasPrefix(canonical + ".run-") && target.hasSuffix(".metrics")) {
                throw InputError("\(flag) \(path) is the experiment store \(store) or one of its files; writing there would destroy its runs, so choose another file")
            }
        }
        if target.range(of: #"\.run-[0-9]+\.metrics$"#, options: .regularExpression) != nil {
            throw InputError("\(flag) \(path) looks like a run's metrics journal; softmax-lab does not overwrite it, so choose another file")
        }
        if lstat(target, &info) == 0 {
            if info.st_mode & S_IFMT == S_IFDIR { throw InputError("\(flag) \(path) is a directory; give a file path") }
            if info.st_mode & S_IFMT == S_IFREG, let handle = FileHandle(forReadingAtPath: target) {
                let head = (try? handle.read(upToCount: 16)) ?? Data()
                try? handle.close()
                if head == Data("SQLite format 3\u{0}".utf8) {
                    throw InputError("\(flag) \(path) is a SQLite database (an experiment store?); softmax-lab does not overwrite it, so choose another file")
                }
            }
        }
    }

    /// Writes `data` whole, or leaves the path as it was.
    func write(_ data: Data) throws {
        if isStream {
            guard let handle = FileHandle(forWritingAtPath: path) else { throw InputError("\(flag) \(path): cannot open it for writing") }
            defer { try? handle.close() }
            do { try handle.write(contentsOf: data) } catch { throw InputError("\(flag) \(path): cannot write (\(error.localizedDescription))") }
            return
        }
        let url = URL(fileURLWithPath: path)
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp").path
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw InputError("\(flag) \(path): cannot create the file (\(String(cString: strerror(errno))))") }
        var failure: String?
        data.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = String(cString: strerror(errno))
                    return
                }
                offset += n
            }
        }
        if failure == nil, fsync(fd) != 0 { failure = String(cString: strerror(errno)) }
        close(fd)
        if failure == nil, rename(temporary, path) != 0 { failure = String(cString: strerror(errno)) }
        if let failure {
            unlink(temporary)
            throw InputError("\(flag) \(path): cannot write the file (\(failure))")
        }
    }
}
