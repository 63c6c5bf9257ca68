import GRDB

/// A read-only connection for tests that watch a store another process writes. It never takes the
/// write lock, but it still waits (rather than failing at once) while SQLite is busy with what a
/// reader must wait for: a WAL index being rebuilt after a writer was killed mid-commit, or the
/// last connection checkpointing and removing the WAL.
public enum ReadOnlyDatabase {
    public static func count(_ path: String, _ sql: String, arguments: StatementArguments = StatementArguments()) throws -> Int {
        var config = Configuration()
        config.readonly = true
        config.busyMode = .timeout(30)
        return try DatabaseQueue(path: path, configuration: config).read {
            try Int.fetchOne($0, sql: sql, arguments: arguments) ?? 0
        }
    }
}
