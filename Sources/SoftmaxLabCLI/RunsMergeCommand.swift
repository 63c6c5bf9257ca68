import ArgumentParser
import ExperimentStore

extension RunsCommand {
    /// `runs merge A.sqlite B.sqlite … --into TEAM.sqlite`: many hosts' stores in one.
    struct Merge: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy every run of other stores into one, exactly once (runs by uuid, devices by identity).",
            discussion: """
                Each run is copied with its params, metrics, timings and device in one transaction; ids are \
                re-mapped. Merging the same stores again adds nothing. A run whose uuid the target already \
                holds with other content is reported and left as the target has it (exit status 1); a run \
                still running in its source is skipped with a note.
                """)
        @Argument(help: "The stores to copy from.") var sources: [String]
        @Option(help: "The store to copy into (created if missing).") var into: String
        @Flag(help: "Print what was copied, skipped and in conflict as JSON.") var json = false

        func validate() throws {
            guard !sources.isEmpty else { throw ValidationError("give the stores to merge, then --into TARGET") }
        }

        func run() throws {
            // Every source is opened (and so checked) before anything is copied: a typo in the last
            // path must not leave the target half merged.
            let stores = try sources.map { try ExperimentStore(path: $0, mode: .existingOnly) }
            try RunCopyOutput.print(try ExperimentStore.merge(stores, into: into), json: json)
        }
    }
}

/// How `runs merge`, `push` and `pull` report: a line per source (and per skipped or conflicting
/// run) on stderr, or JSON on stdout; exit status 1 when a run was in conflict.
enum RunCopyOutput {
    static func print(_ reports: [RunCopyReport], json: Bool) throws {
        let out = Console.current
        if json {
            out.line(try JSONOutput.string(reports))
        } else {
            for report in reports {
                out.line(report.summary)
                for skipped in report.skipped { out.line("  skipped: \(skipped.reason)") }
                for conflict in report.conflicts {
                    out.line("  conflict: run \(conflict.sourceId) of \(report.source) and run \(conflict.targetId) of \(report.target) have the same uuid \(conflict.uuid) but differ in \(conflict.differences.joined(separator: ", ")); the target's run was kept")
                }
            }
        }
        let conflicts = reports.reduce(0) { $0 + $1.conflicts.count }
        if conflicts > 0 {
            out.note("error: \(conflicts == 1 ? "1 run" : "\(conflicts) runs") in conflict (same uuid, other content) \(conflicts == 1 ? "was" : "were") not copied; compare them with `softmax-lab runs show`")
            throw ExitCode.failure
        }
    }
}
