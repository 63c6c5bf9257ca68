import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A call's peak resident memory beyond what was resident before it (its inputs and preallocated
/// outputs): Linux's high-water mark, reset just before the call (`/proc/self/clear_refs`), minus
/// the resident size then. glibc's mmap threshold is pinned and its free heap trimmed first, so a
/// block freed by an earlier call goes back to the kernel instead of staying resident and hiding
/// the next call's allocation; `scripts/bench-peers.py` measures its peers the same way.
enum PeakMemory {
    /// glibc's `mallopt` and `malloc_trim` (malloc.h, which the Glibc module leaves out), if present.
    private static let mallopt = symbol("mallopt", as: (@convention(c) (Int32, Int32) -> Int32).self)
    private static let mallocTrim = symbol("malloc_trim", as: (@convention(c) (Int) -> Int32).self)

    private static func symbol<F>(_ name: String, as type: F.Type) -> F? {
        #if canImport(Glibc)
        guard let address = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { return nil }
        return unsafeBitCast(address, to: type)
        #else
        return nil
        #endif
    }

    private static let pinned: Void = {
        // M_MMAP_THRESHOLD is -3.
        _ = mallopt?(-3, 128 * 1024)
    }()

    /// nil where the kernel offers no high-water mark to reset (not Linux).
    static func extraBytes(of body: () throws -> Void) rethrows -> Int? {
        _ = pinned
        _ = mallocTrim?(0)
        guard let before = field("VmRSS"), (try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)) != nil else {
            try body()
            return nil
        }
        try body()
        return field("VmHWM").map { max(0, $0 - before) }
    }

    /// A `/proc/self/status` field in bytes.
    private static func field(_ name: String) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix(name + ":") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            if parts.count >= 2, let kB = Int(parts[1]) { return kB * 1024 }
        }
        return nil
    }
}
