import ArgumentParser
import ExperimentStore
import Foundation

/// `--db PATH` (else $SOFTMAXLAB_DB, else softmax-lab.sqlite in the current directory).
struct StoreOptions: ParsableArguments {
    @Option(help: "The experiment store (SQLite). Default: $SOFTMAXLAB_DB, else softmax-lab.sqlite.")
    var db: String?

    var path: String { db ?? Self.defaultPath }

    /// The store a command uses without `--db`.
    static var defaultPath: String {
        ProcessInfo.processInfo.environment["SOFTMAXLAB_DB"].flatMap { $0.isEmpty ? nil : $0 } ?? ExperimentStore.defaultPath
    }

    /// The store, created if missing (commands that record runs).
    func open() throws -> ExperimentStore { try ExperimentStore(path: path) }

    /// The store, which must exist (commands that only read it must not create one at a typo).
    func openExisting() throws -> ExperimentStore { try ExperimentStore(path: path, mode: .existingOnly) }
}
