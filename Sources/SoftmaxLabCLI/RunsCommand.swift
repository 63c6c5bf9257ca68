import ArgumentParser
import ExperimentStore
import Foundation
import SoftmaxCore

/// `softmax-lab runs list | show | compare | export | merge | push | pull`: the store, read back and gathered.
struct RunsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs",
        abstract: "List, show, compare and export recorded runs.",
        subcommands: [List.self, Show.self, Compare.self, Export.self, Merge.self, Push.self, Pull.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The latest runs, one line each (the run_summary view).")
        @Option(help: "train | bench | gradcheck | tune") var kind: RunRecord.Kind?
        @Option(help: "How many runs.") var limit = 20
        @OptionGroup var store: StoreOptions
        @Flag(help: "Print as JSON.") var json = false

        func run() throws {
            let runs = try store.openExisting().runSummaries(kind: kind, limit: limit)
            if json { return Console.current.line(try JSONOutput.string(runs)) }
            guard !runs.isEmpty else { return Console.current.line("no runs recorded in \(store.path) yet") }
            Console.current.line(Table.render(
                header: ["id", "kind", "name", "status", "backend", "started (UTC)", "seconds", "epochs", "train loss", "val loss", "val acc"],
                rows: runs.map { r in
                    ["\(r.id)", r.kind, r.name ?? "", r.status, r.backend, String(r.startedAt.prefix(19)),
                     r.durationS.map { String(format: "%.2f", $0) } ?? "", r.epochs.map(String.init) ?? "",
                     r.finalTrainLoss.map(formatted) ?? "", r.finalValLoss.map(formatted) ?? "",
                     r.finalValAcc.map { String(format: "%.1f%%", 100 * $0) } ?? ""]
                }))
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One run: configuration, device, metrics, timings.")
        @Argument(help: "The run id.") var id: Int64
        @OptionGroup var store: StoreOptions
        @Flag(help: "Print as JSON.") var json = false

        func run() throws {
            let s = try store.openExisting()
            let run = try RunsCommand.requireRun(id, in: s)
            let summary = try s.summary(id)
            let device = try run.deviceId.flatMap { try s.device($0) }
            let timings = try s.timings(id)
            if json {
                struct Output: Encodable { var run: RunRecord; var summary: RunSummary?; var device: DeviceRecord?; var metrics: [MetricRecord]; var timings: [TimingRecord] }
                return Console.current.line(try JSONOutput.string(Output(run: run, summary: summary, device: device, metrics: try s.metrics(id), timings: timings)))
            }
            let out = Console.current
            out.line("run \(id) (\(run.kind.rawValue)\(run.name.map { ", \"\($0)\"" } ?? "")): \(run.status.rawValue)")
            out.line("  started \(run.startedAt), ended \(run.endedAt ?? "-")\(summary?.durationS.map { String(format: " (%.2f s)", $0) } ?? "")")
            if let error = run.error { out.line("  error: \(error)") }
            out.line("  backend \(run.backend)\(device.map { ", device \($0.name) (\($0.vendor))" } ?? ""), host \(run.host)")
            out.line("  command: \(run.commandLine)")
            out.line("  softmax-lab \(run.toolVersion)\(run.gitCommit.map { ", commit \($0)" } ?? "")")
            out.line("configuration:")
            for (key, value) in try s.params(id) { out.line("  \(key) = \(value ?? "null")") }
            // Summed up inside SQLite: a run may hold millions of rows.
            let metrics = try s.metricSummaries(id)
            if !metrics.isEmpty {
                out.line("metrics:")
                out.line(Table.render(
                    header: ["key", "count", "first", "last", "min", "max"],
                    rows: metrics.map { m in
                        [m.key, "\(m.count)", m.first.map(formatted) ?? "", m.last.map(formatted) ?? "",
                         m.min.map(formatted) ?? "", m.max.map(formatted) ?? ""]
                    }))
            }
            if !timings.isEmpty {
                out.line("timings:")
                out.line(Table.render(
                    header: ["op", "shape", "backend", "median ms", "GB/s", "GFLOP/s", "% of bandwidth", "check"],
                    rows: timings.map { t in
                        [t.op, t.shape, t.backend, t.medianMs.map(formatted) ?? "-", t.gbPerS.map { String(format: "%.1f", $0) } ?? "",
                         t.gflopPerS.map { String(format: "%.1f", $0) } ?? "", t.percentOfBandwidth.map { String(format: "%.0f%%", $0) } ?? "",
                         t.checkResult]
                    }))
            }
        }
    }

    struct Compare: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Runs side by side: configurations (differences marked) and metrics at the same steps.")
        @Argument(help: "Two or more run ids.") var ids: [Int64]
        @Option(help: "Metrics to compare.") var metrics = "train_loss,val_loss,val_acc"
        @Option(help: "At most this many epochs per table (evenly spaced, last included).") var rows = 12
        @OptionGroup var store: StoreOptions
        @Flag(help: "Print as JSON: each run's configuration, bench results and the metrics by epoch.") var json = false

        struct Output: Encodable {
            struct Run: Encodable { var id: Int64; var backend: String; var status: String; var host: String; var device: String?; var params: [String: String]; var timings: [TimingRecord] }
            struct Series: Encodable { var key: String; var epochs: [Int]; var values: [Int64: [Double?]] }
            var runs: [Run]
            var differingKeys: [String]
            var metrics: [Series]
        }

        func validate() throws {
            guard ids.count >= 2 else { throw ValidationError("give at least two run ids to compare") }
        }

        func run() throws {
            let s = try store.openExisting()
            let runs = try ids.map { try RunsCommand.requireRun($0, in: s) }
            let params = try ids.map { Dictionary(uniqueKeysWithValues: try s.params($0).map { ($0.key, $0.value ?? "null") }) }
            let out = Console.current
            let keys = Set(params.flatMap(\.keys)).sorted()
            if json {
                let series = try metrics.split(separator: ",").map(String.init).map { key in
                    let byRun = try ids.map { try s.metrics($0, key: key) }
                    let epochs = Set(byRun.flatMap { $0.compactMap(\.epoch) }).sorted()
                    return Output.Series(key: key, epochs: epochs, values: Dictionary(uniqueKeysWithValues: zip(ids, byRun.map { run in
                        epochs.map { e in run.last { $0.epoch == e }?.value }
                    })))
                }
                let output = Output(
                    runs: try zip(runs, params).map { run, p in
                        Output.Run(id: run.id!, backend: run.backend, status: run.status.rawValue, host: run.host,
                                   device: try run.deviceId.flatMap { try s.device($0)?.name }, params: p,
                                   timings: try s.timings(run.id!).filter { $0.timing == "wall" })
                    },
                    differingKeys: keys.filter { key in Set(params.map { $0[key] ?? "-" }).count > 1 },
                    metrics: series.filter { !$0.epochs.isEmpty })
                return out.line(try JSONOutput.string(output))
            }
            out.line("configuration (* = differs):")
            out.line(Table.render(
                header: [""] + ["key"] + ids.map { "run \($0)" },
                rows: [("backend", runs.map(\.backend)), ("status", runs.map(\.status.rawValue)), ("host", runs.map(\.host)),
                       ("device", try runs.map { try $0.deviceId.flatMap { try s.device($0)?.name } ?? "-" })].map { name, values in
                    [Set(values).count > 1 ? "*" : " ", name] + values
                } + keys.map { key in
                    let values = params.map { $0[key] ?? "-" }
                    return [Set(values).count > 1 ? "*" : " ", key] + values
                }))
            // Bench runs (SoftmaxLab's and the peers'): each op and shape side by side, wall time.
            let timings = try ids.map { try s.timings($0).filter { $0.timing == "wall" } }
            let timed = Array(Set(timings.flatMap { $0.map { "\($0.op) \($0.shape)" } })).sorted()
            if !timed.isEmpty {
                out.line("")
                out.line("bench results, GB/s or GFLOP/s (median ms), wall time:")
                out.line(Table.render(
                    header: ["op and shape"] + ids.map { "run \($0)" },
                    rows: timed.map { key in
                        [key] + timings.map { run in
                            let rows = run.filter { "\($0.op) \($0.shape)" == key }
                            return rows.map { t in
                                let rate = t.gbPerS.map { String(format: "%.1f GB/s", $0) } ?? t.gflopPerS.map { String(format: "%.1f GFLOP/s", $0) } ?? "-"
                                return "\(t.backend) \(rate) (\(t.medianMs.map(formatted) ?? "-"))"
                            }.joined(separator: "; ")
                        }.map { $0.isEmpty ? "-" : $0 }
                    }))
            }
            for key in metrics.split(separator: ",").map(String.init) {
                let series = try ids.map { try s.metrics($0, key: key) }
                let epochs = Set(series.flatMap { $0.compactMap(\.epoch) }).sorted()
                guard !epochs.isEmpty else { continue }
                let stride = max(1, Int((Double(epochs.count) / Double(max(rows, 1))).rounded(.up)))
                let shown = epochs.enumerated().filter { $0.offset % stride == 0 || $0.offset == epochs.count - 1 }.map(\.element)
                out.line("")
                out.line("\(key) by epoch:")
                out.line(Table.render(
                    header: ["epoch"] + ids.map { "run \($0)" },
                    rows: shown.map { epoch in
                        ["\(epoch)"] + series.map { run in (run.last { $0.epoch == epoch }?.value).map(formatted) ?? "-" }
                    }))
            }
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A run's metrics as CSV, or the whole run as JSON.")
        enum Format: String, ExpressibleByArgument { case csv, json }
        @Argument(help: "The run id.") var id: Int64
        @Option(help: "csv (metrics; the default) | json (run, params, metrics, timings)") var format: Format?
        @Option(help: "Write to this file instead of stdout (never the store or one of its files).") var out: String?
        @OptionGroup var store: StoreOptions
        @Flag(help: "The same as --format json.") var json = false

        func validate() throws {
            if json && format == .csv {
                throw ValidationError("--json asks for JSON but --format says csv; give one of them")
            }
        }

        func run() throws {
            let file = try out.map { try OutputFile($0, flag: "--out", stores: [store.path, StoreOptions.defaultPath]) }
            let format = json ? .json : format ?? .csv
            let s = try store.openExisting()
            let run = try RunsCommand.requireRun(id, in: s)
            let text: String
            switch format {
            case .csv:
                text = (["run_id,key,step,epoch,value,recorded_at"] + (try s.metrics(id)).map { m in
                    "\(m.runId),\(m.key),\(m.step.map(String.init) ?? ""),\(m.epoch.map(String.init) ?? ""),\(m.value.map { "\($0)" } ?? ""),\(m.recordedAt)"
                }).joined(separator: "\n")
            case .json:
                struct Output: Encodable { var run: RunRecord; var params: [String: String?]; var metrics: [MetricRecord]; var timings: [TimingRecord] }
                let params = Dictionary(uniqueKeysWithValues: try s.params(id).map { ($0.key, $0.value) })
                text = try JSONOutput.string(Output(run: run, params: params, metrics: try s.metrics(id), timings: try s.timings(id)))
            }
            if let file {
                try file.write(Data((text + "\n").utf8))
                Console.current.note("run \(id) exported to \(file.path)")
            } else {
                Console.current.line(text)
            }
        }
    }

    static func requireRun(_ id: Int64, in store: ExperimentStore) throws -> RunRecord {
        guard let run = try store.run(id) else { throw InputError("run \(id) is not in \(store.path)") }
        return run
    }
}

extension RunRecord.Kind: ExpressibleByArgument {}
