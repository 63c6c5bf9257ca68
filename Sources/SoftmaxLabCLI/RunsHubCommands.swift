import ArgumentParser
import ExperimentStore

extension RunsCommand {
    /// `runs push --to postgres://…`: this store's runs into the shared PostgreSQL hub.
    struct Push: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy this store's runs into a shared PostgreSQL database (the hub), exactly once.",
            discussion: """
                The hub's tables and views mirror the SQLite store's and are created (or upgraded) by the first \
                push. Each run goes in one transaction: a push that is killed leaves whole runs only, and the \
                next push copies the rest. Pushing again adds nothing; a run whose uuid the hub holds with other \
                content is reported and left as the hub has it (exit status 1).
                """)
        @Option(help: "The hub: a libpq connection string (postgres://user@host:port/db). Default: $SOFTMAXLAB_HUB, else libpq's PGHOST, PGDATABASE, … variables.")
        var to: String?
        @Option(help: "Runs copied at once, each over its own connection (default \(ExperimentStore.defaultPushConnections)).")
        var connections = ExperimentStore.defaultPushConnections
        @OptionGroup var store: StoreOptions
        @Flag(help: "Print what was copied, skipped and in conflict as JSON.") var json = false

        func validate() throws {
            guard connections >= 1 else { throw ValidationError("--connections \(connections) must be at least 1") }
        }

        func run() throws {
            let local = try store.openExisting()
            try RunCopyOutput.print([try local.push(to: HubAddress(to), connections: connections)], json: json)
        }
    }

    /// `runs pull --from postgres://… [--device SEL] [--since DATE] [--kind K]`: the hub's runs into this store.
    struct Pull: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy runs from the shared PostgreSQL hub into this store, exactly once.")
        @Option(help: "The hub: a libpq connection string. Default: $SOFTMAXLAB_HUB, else libpq's PG… variables.")
        var from: String?
        @Option(help: "Only runs on a device whose name contains SEL (any case), or run on the host SEL.") var device: String?
        @Option(help: "Only runs started on or after this UTC date or time (2026-12-01 or 2026-12-01T08:00:00Z).") var since: String?
        @Option(help: "train | bench | gradcheck") var kind: RunRecord.Kind?
        @OptionGroup var store: StoreOptions
        @Flag(help: "Print what was copied, skipped and in conflict as JSON.") var json = false

        func validate() throws {
            if let since, since.wholeMatch(of: /\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?Z?)?/) == nil {
                throw ValidationError("--since \(since) is not a UTC date or time like 2026-12-01 or 2026-12-01T08:00:00Z")
            }
        }

        func run() throws {
            let local = try store.open()
            let filter = ExperimentStore.PullFilter(device: device, since: since, kind: kind)
            try RunCopyOutput.print([try local.pull(from: HubAddress(from), filter: filter)], json: json)
        }
    }
}
