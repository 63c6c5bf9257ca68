import GRDB

/// The store's schema: named, append-only migrations, recorded in `grdb_migrations` (GRDB's table,
/// so GRDB tools read it). A file is upgraded in place; a file with migrations this build does not
/// know was written by a newer softmax-lab and is refused.
///
/// The check and the upgrade run in one immediate transaction: two processes creating the same new
/// file at once (GRDB's migrator reads, then writes) made the second fail on "table already exists".
enum StoreSchema {
    static let migrations: [(identifier: String, apply: @Sendable (Database) throws -> Void)] = [
        ("v1-runs-metrics-timings", { try $0.execute(sql: v1) }),
        ("v2-timings-peak-memory", { try $0.execute(sql: v2) }),
        ("v3-tuning", v3),
    ]

    /// Refuses a database that holds tables but is not a softmax-lab store, before anything is
    /// written to it.
    static func checkOwnership(_ db: Database, path: String) throws {
        let tables = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        guard !tables.isEmpty else { return }
        if tables.contains("grdb_migrations"),
           try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM grdb_migrations WHERE identifier = ?)", arguments: [migrations[0].identifier]) == true {
            return
        }
        let shown = tables.prefix(5).joined(separator: ", ") + (tables.count > 5 ? ", …" : "")
        throw StoreError("\(path) is another program's SQLite database (its tables: \(shown)), not a softmax-lab store; softmax-lab records runs only in a new or empty file or in its own store, so it was left untouched")
    }

    /// Brings `db` up to date; call inside a write transaction that holds the write lock.
    static func migrate(_ db: Database, path: String) throws {
        try db.execute(sql: "CREATE TABLE IF NOT EXISTS grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY)")
        let applied = Set(try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations"))
        let known = Set(migrations.map(\.identifier))
        if !applied.isSubset(of: known) {
            throw StoreError("\(path) was written by a newer softmax-lab (its schema has migrations this version does not know: \(applied.subtracting(known).sorted().joined(separator: ", "))); upgrade softmax-lab to open it")
        }
        for migration in migrations where !applied.contains(migration.identifier) {
            try migration.apply(db)
            try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES (?)", arguments: [migration.identifier])
        }
    }

    static let v1 = """
                CREATE TABLE devices (
                    id INTEGER PRIMARY KEY,
                    backend TEXT NOT NULL,               -- swift | opencl
                    platform TEXT NOT NULL DEFAULT '',
                    name TEXT NOT NULL,
                    vendor TEXT NOT NULL DEFAULT '',
                    driver_version TEXT NOT NULL DEFAULT '',
                    type TEXT NOT NULL,                  -- CPU | GPU | ACCELERATOR
                    compute_units INTEGER,
                    clock_mhz INTEGER,
                    global_memory_bytes INTEGER,
                    local_memory_bytes INTEGER,
                    max_work_group_size INTEGER,
                    copy_bandwidth_gbs REAL,             -- measured by bench (read + write bytes per second)
                    host TEXT NOT NULL,
                    first_seen_at TEXT NOT NULL,
                    UNIQUE (backend, platform, name, driver_version, host)
                );
                CREATE TABLE runs (
                    id INTEGER PRIMARY KEY,
                    uuid TEXT NOT NULL UNIQUE,
                    kind TEXT NOT NULL \(kindCheck(version: 1)),
                    name TEXT,
                    status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'failed', 'interrupted')),
                    started_at TEXT NOT NULL,            -- ISO-8601 UTC
                    ended_at TEXT,
                    device_id INTEGER REFERENCES devices(id),
                    backend TEXT NOT NULL,
                    config TEXT NOT NULL CHECK (json_valid(config)),
                    seed INTEGER,
                    git_commit TEXT,
                    host TEXT NOT NULL,
                    pid INTEGER,
                    tool_version TEXT NOT NULL,
                    command_line TEXT NOT NULL,
                    error TEXT
                );
                CREATE INDEX runs_status ON runs(status);
                CREATE TABLE params (
                    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                    key TEXT NOT NULL,
                    value TEXT,
                    PRIMARY KEY (run_id, key)
                );
                CREATE TABLE metrics (
                    id INTEGER PRIMARY KEY,
                    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                    key TEXT NOT NULL,                   -- train_loss, val_acc, step_loss, lr, …
                    step INTEGER,
                    epoch INTEGER,
                    value REAL,
                    recorded_at TEXT NOT NULL
                );
                CREATE INDEX metrics_run_key_step ON metrics(run_id, key, step);
                CREATE TABLE timings (
                    id INTEGER PRIMARY KEY,
                    run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                    op TEXT NOT NULL,
                    shape TEXT NOT NULL,
                    backend TEXT NOT NULL,
                    device_id INTEGER REFERENCES devices(id),
                    samples INTEGER NOT NULL,
                    min_ms REAL, median_ms REAL, p90_ms REAL, max_ms REAL,
                    bytes INTEGER,
                    flops INTEGER,
                    gb_per_s REAL,
                    gflop_per_s REAL,
                    percent_of_bandwidth REAL,
                    timing TEXT NOT NULL DEFAULT 'wall', -- wall (host clock) | kernel (device profiling events)
                    check_result TEXT NOT NULL DEFAULT 'ok'
                );
                CREATE INDEX timings_run ON timings(run_id);

                """ + views(durationSeconds: "(julianday(COALESCE(r.ended_at, r.started_at)) - julianday(r.started_at)) * 86400.0", version: 1)

    /// Each timing's peak memory beyond its inputs and outputs (bench's measurement), in
    /// `timings` and `bench_results`.
    static let v2 = """
                ALTER TABLE timings ADD COLUMN peak_extra_bytes INTEGER;
                DROP VIEW bench_results;
                """ + benchResultsView(version: 2)

    /// `tune` runs and the `tuning` table: every candidate a tune run checked and timed, and the one
    /// it chose. SQLite cannot alter a CHECK constraint, so `runs.kind`'s list gains 'tune' by
    /// SQLite's documented edit of the table's schema text (a looser constraint: every row holds).
    static func v3(_ db: Database) throws {
        let version = try Int.fetchOne(db, sql: "PRAGMA schema_version") ?? 0
        try db.execute(sql: "PRAGMA writable_schema = ON")
        try db.execute(sql: "UPDATE sqlite_master SET sql = replace(sql, ?, ?) WHERE type = 'table' AND name = 'runs'",
                       arguments: [kindCheck(version: 1), kindCheck(version: 3)])
        try db.execute(sql: "PRAGMA schema_version = \(version + 1)")
        try db.execute(sql: "PRAGMA writable_schema = OFF")
        guard try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'runs'")?
                .contains(kindCheck(version: 3)) == true else {
            throw StoreError("the store's runs table does not have the constraint softmax-lab wrote (\(kindCheck(version: 1))); it was left as it was")
        }
        try db.execute(sql: tuningTable(id: "INTEGER PRIMARY KEY", real: "REAL", bigint: "INTEGER"))
    }

    /// The `runs.kind` constraint as migration `version` leaves it.
    static func kindCheck(version: Int) -> String {
        "CHECK (kind IN ('train', 'bench', 'gradcheck'\(version >= 3 ? ", 'tune'" : "")))"
    }

    /// The `tuning` table in SQL both engines run, given each one's types.
    static func tuningTable(id: String, real: String, bigint: String) -> String {
        """
        CREATE TABLE tuning (
            id \(id),
            run_id \(bigint) NOT NULL REFERENCES runs(id) ON DELETE CASCADE,  -- the tune run
            device_id \(bigint) NOT NULL REFERENCES devices(id),              -- backend, platform, name, driver_version, host
            kernel_hash TEXT NOT NULL,        -- the kernels' source (opencl) or the binary (swift) the times belong to
            tool_version TEXT NOT NULL,
            op TEXT NOT NULL,                 -- xent, xent+softcap, xent+z, xent+softcap+z
            shape_class TEXT NOT NULL,        -- C<=64, C<=4096, C<=65536, C>65536
            shape TEXT NOT NULL,              -- the shape measured, NxC
            dtype TEXT NOT NULL,              -- f32 | f16 | bf16
            parameters TEXT NOT NULL,         -- the candidate, as JSON
            is_default INTEGER NOT NULL,      -- 1: the parameters used without tuning
            check_result TEXT NOT NULL,       -- ok, or what was wrong (such a candidate is never chosen)
            samples INTEGER NOT NULL,
            median_ms \(real),
            p90_ms \(real),
            chosen INTEGER NOT NULL           -- 1: the one the tune run chose for its device, op, class and dtype
        );
        CREATE INDEX tuning_lookup ON tuning(device_id, op, shape_class, dtype);
        CREATE INDEX tuning_run ON tuning(run_id);
        """
    }

    /// The views, in SQL both SQLite and PostgreSQL run (the hub has the same ones), but for the
    /// run's duration in seconds, which each engine computes with its own date functions; as the
    /// migration `version` creates them (a later one replaces `bench_results`).
    static func views(durationSeconds: String, version: Int) -> String {
        """
        CREATE VIEW run_summary AS
        SELECT r.id, r.name, r.kind, r.status, r.backend, d.name AS device, r.started_at, r.ended_at,
               ROUND(\(durationSeconds), 3) AS duration_s,
               (SELECT MAX(epoch) FROM metrics m WHERE m.run_id = r.id) AS epochs,
               (SELECT value FROM metrics m WHERE m.run_id = r.id AND m.key = 'train_loss' ORDER BY m.step DESC, m.id DESC LIMIT 1) AS final_train_loss,
               (SELECT value FROM metrics m WHERE m.run_id = r.id AND m.key = 'val_loss' ORDER BY m.step DESC, m.id DESC LIMIT 1) AS final_val_loss,
               (SELECT MIN(value) FROM metrics m WHERE m.run_id = r.id AND m.key = 'val_loss') AS best_val_loss,
               (SELECT value FROM metrics m WHERE m.run_id = r.id AND m.key = 'train_acc' ORDER BY m.step DESC, m.id DESC LIMIT 1) AS final_train_acc,
               (SELECT value FROM metrics m WHERE m.run_id = r.id AND m.key = 'val_acc' ORDER BY m.step DESC, m.id DESC LIMIT 1) AS final_val_acc,
               (SELECT MAX(value) FROM metrics m WHERE m.run_id = r.id AND m.key = 'val_acc') AS best_val_acc
        FROM runs r LEFT JOIN devices d ON d.id = r.device_id;

        """ + benchResultsView(version: version)
    }

    /// `bench_results` as migration `version` defines it: v2 adds `peak_extra_bytes`.
    static func benchResultsView(version: Int) -> String {
        """
        CREATE VIEW bench_results AS
        SELECT t.op, t.shape, t.backend, COALESCE(d.name, t.backend) AS device, t.median_ms, t.gb_per_s, t.gflop_per_s,
               t.percent_of_bandwidth,\(version >= 2 ? " t.peak_extra_bytes," : "") t.timing, t.check_result, t.run_id, r.started_at
        FROM timings t JOIN runs r ON r.id = t.run_id LEFT JOIN devices d ON d.id = t.device_id;
        """
    }
}
