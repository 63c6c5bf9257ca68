import Dispatch
import Synchronization
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

    /// How many tasks `0..<count` splits into so that each gets at least `minimum` items, for
    /// `workers` threads handed `ranges` each.
    static func taskCount(_ count: Int, minimum: Int, workers: Int = workerCount, ranges: Int = rangesPerWorker) -> Int {
        guard workers > 1 else { return 1 }
        return max(1, min(workers * ranges, count / max(minimum, 1)))
    }

    /// The range of `count` items that task `task` of `tasks` handles.
    static func range(_ task: Int, of tasks: Int, count: Int) -> Range<Int> {
        (count * task / tasks)..<(count * (task + 1) / tasks)
    }

    /// Runs `body(task, range)` for each of `tasks` ranges of `0..<count`, on up to `workers`
    /// threads at once (concurrently when tasks > 1 and workers > 1).
    static func forEach(_ count: Int, tasks: Int, workers: Int = workerCount, _ body: (Int, Range<Int>) -> Void) {
        if tasks <= 1 {
            body(0, 0..<count)
            return
        }
        if workers <= 1 {
            for t in 0..<tasks { body(t, range(t, of: tasks, count: count)) }
            return
        }
        withoutActuallyEscaping(body) { body in
            let unchecked = UncheckedSendable(body)
            guard workers < min(workerCount, tasks) else {
                DispatchQueue.concurrentPerform(iterations: tasks) { t in
                    unchecked.value(t, range(t, of: tasks, count: count))
                }
                return
            }
            // Fewer threads than cores: that many workers take the tasks in turn.
            let next = Atomic<Int>(0)
            DispatchQueue.concurrentPerform(iterations: workers) { _ in
                while case let t = next.add(1, ordering: .relaxed).oldValue, t < tasks {
                    unchecked.value(t, range(t, of: tasks, count: count))
                }
            }
        }
    }
}

/// Pointers and closures handed to worker threads that each write disjoint memory.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
