import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Work split over the machine's cores in contiguous ranges.
///
/// A few ranges per worker, not one: `concurrentPerform` hands ranges out dynamically, and with one
/// range per core a worker thread that wakes late left the caller doing both halves (bimodal
/// timings, 20 vs 32 GB/s, on this 2-core machine).
enum Parallel {
    static let workerCount: Int = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    static let rangesPerWorker = 4

    /// How many tasks `0..<count` splits into so that each gets at least `minimum` items.
    static func taskCount(_ count: Int, minimum: Int) -> Int {
        guard workerCount > 1 else { return 1 }
        return max(1, min(workerCount * rangesPerWorker, count / max(minimum, 1)))
    }

    /// The range of `count` items that task `task` of `tasks` handles.
    static func range(_ task: Int, of tasks: Int, count: Int) -> Range<Int> {
        (count * task / tasks)..<(count * (task + 1) / tasks)
    }

    /// Runs `body(task, range)` for each of `tasks` ranges of `0..<count`, concurrently when tasks > 1.
    static func forEach(_ count: Int, tasks: Int, _ body: (Int, Range<Int>) -> Void) {
        if tasks <= 1 {
            body(0, 0..<count)
            return
        }
        withoutActuallyEscaping(body) { body in
            let unchecked = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: tasks) { t in
                unchecked.value(t, range(t, of: tasks, count: count))
            }
        }
    }
}

/// Pointers and closures handed to worker threads that each write disjoint memory.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
