#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Sizes that come from files and flags, checked before anything is allocated: the element count
/// with overflow-safe arithmetic, the bytes against the machine's memory. Swift traps on an
/// overflowing product and the allocator aborts on a size it cannot supply; either would end the
/// process with a backtrace instead of a sentence.
public enum MemoryBudget {
    /// The machine's physical memory.
    public static let physicalBytes: Int = {
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), size = sysconf(Int32(_SC_PAGESIZE))
        guard pages > 0, size > 0 else { return Int.max }
        return pages.multipliedReportingOverflow(by: size).overflow ? Int.max : pages * size
    }()

    /// The product of `factors`, or nil when it overflows `Int` (or a factor is negative).
    public static func product(_ factors: [Int]) -> Int? {
        var result = 1
        for f in factors {
            guard f >= 0 else { return nil }
            let (p, overflow) = result.multipliedReportingOverflow(by: f)
            if overflow { return nil }
            result = p
        }
        return result
    }

    /// The bytes of `copies` arrays of `shape` with `elementBytes` each, after checking that they fit
    /// in the machine's memory; `what` names them in the sentence ("--shapes 100000x100000").
    @discardableResult
    public static func require(_ what: String, shape: [Int], elementBytes: Int = 4, copies: Int = 1) throws(SoftmaxError) -> Int {
        let shown = shape.map(String.init).joined(separator: "×")
        guard let bytes = product(shape + [elementBytes, copies]) else {
            throw .invalidOption("\(what): \(shown) elements is more than this machine can address")
        }
        guard bytes <= physicalBytes else {
            throw .invalidOption("\(what): \(shown) elements need \(describe(bytes))\(copies > 1 ? " (\(copies) arrays)" : ""), more than this machine's \(describe(physicalBytes)) of memory")
        }
        return bytes
    }

    /// "38.1 GB"-style sizes for sentences.
    public static func describe(_ bytes: Int) -> String {
        let units = ["bytes", "kB", "MB", "GB", "TB", "PB", "EB"]
        var value = Double(bytes), unit = 0
        while value >= 1000 && unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        return unit == 0 ? "\(bytes) bytes" : "\((value * 10).rounded() / 10) \(units[unit])"
    }
}
