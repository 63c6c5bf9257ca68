import ArgumentParser
import ExperimentStore
import Foundation

/// `--db PATH` (else $SOFTMAXLAB_DB, else softmax-lab.sqlite in the current directory).
struct StoreOptions: ParsableArguments {
    @Option(help: "The experiment store (SQLite). Default: $SOFTMAXLAB_DB, else softmax-lab.sqlite.")
    var db: String?

    var path: String {
        db ?? ProcessInfo.processInfo.environment["SOFTMAXLAB_DB"].flatMap { $0.isEmpty ? nil : $0 } ?? ExperimentStore.defaultPath
    }

    func open() throws -> ExperimentStore { try ExperimentStore(path: path) }
}
