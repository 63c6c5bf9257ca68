import Foundation
import GRDB

/// Another connection holding a store's write lock (`BEGIN EXCLUSIVE`) until released, as a
/// `sqlite3` shell left in a transaction would. GRDB closes every transaction at the end of a
/// database access, so the transaction lives on a thread of its own.
public final class LockHolder: @unchecked Sendable {
    private let started = DispatchSemaphore(value: 0)
    private let release = DispatchSemaphore(value: 0)
    private let ended = DispatchSemaphore(value: 0)
    private var failure: (any Error)?

    /// Waits (up to 30 s) for a writer that is mid-commit, as a shell user's `BEGIN EXCLUSIVE`
    /// would; throws if the lock cannot be had, instead of leaving the caller waiting forever.
    public init(path: String) throws {
        var config = Configuration()
        config.busyMode = .timeout(30)
        let queue = try DatabaseQueue(path: path, configuration: config)
        Thread {
            do {
                try queue.inDatabase { db in
                    try db.execute(sql: "BEGIN EXCLUSIVE")
                    self.started.signal()
                    self.release.wait()
                    try db.execute(sql: "COMMIT")
                }
            } catch {
                self.failure = error
                self.started.signal()
            }
            self.ended.signal()
        }.start()
        started.wait()
        if let failure { throw failure }
    }

    public func unlock() {
        release.signal()
        ended.wait()
    }
}
