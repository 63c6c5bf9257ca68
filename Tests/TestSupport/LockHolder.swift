import Foundation
import GRDB

/// Another connection holding a store's write lock (`BEGIN EXCLUSIVE`) until released, as a
/// `sqlite3` shell left in a transaction would. GRDB closes every transaction at the end of a
/// database access, so the transaction lives on a thread of its own.
public final class LockHolder: @unchecked Sendable {
    private let started = DispatchSemaphore(value: 0)
    private let release = DispatchSemaphore(value: 0)
    private let ended = DispatchSemaphore(value: 0)

    public init(path: String) throws {
        let queue = try DatabaseQueue(path: path)
        Thread {
            try? queue.inDatabase { db in
                try db.execute(sql: "BEGIN EXCLUSIVE")
                self.started.signal()
                self.release.wait()
                try db.execute(sql: "COMMIT")
            }
            self.ended.signal()
        }.start()
        started.wait()
    }

    public func unlock() {
        release.signal()
        ended.wait()
    }
}
