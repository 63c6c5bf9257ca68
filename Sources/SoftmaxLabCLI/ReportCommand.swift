import ArgumentParser
import ExperimentStore
import Foundation
import SoftmaxCore

/// `softmax-lab report`: one self-contained HTML file of loss curves and benchmark charts.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write an HTML report (inline SVG, no scripts): loss and accuracy curves, GB/s by device and peer.")

    @Option(help: "The HTML file to write (never the store or one of its files).") var out = "report.html"
    @Option(help: "Train runs to draw, comma-separated ids (default: the latest 5).") var runs: String?
    @Option(help: "At most this many points per curve (rows are averaged in equal buckets).") var points = 500
    @OptionGroup var store: StoreOptions
    @Flag(help: "Print what was written as JSON.") var json = false

    func validate() throws {
        guard points >= 2 && points <= 100_000 else { throw ValidationError("--points must be in 2...100000, got \(points)") }
    }

    struct Output: Encodable {
        var out: String
        var trainRuns: [Int64]
        var benchmarkShapes: [String]
        var bytes: Int
    }

    func run() throws {
        // Before any work: a report that cannot be written, or would overwrite the store, fails now.
        let file = try OutputFile(out, flag: "--out", stores: [store.path, StoreOptions.defaultPath])
        let s = try store.openExisting()
        let trainIDs: [Int64]
        if let runs {
            trainIDs = try runs.split(separator: ",").map { text in
                guard let id = Int64(text.trimmingCharacters(in: .whitespaces)) else { throw InputError("--runs: '\(text)' is not a run id") }
                guard try s.run(id) != nil else { throw InputError("--runs: run \(id) is not in \(store.path)") }
                return id
            }
        } else {
            trainIDs = try s.runSummaries(kind: .train, limit: 5).map(\.id).reversed()
        }
        var html = """
            <!DOCTYPE html><html><head><meta charset="utf-8"><title>SoftmaxLab report</title>
            <style>body{font-family:sans-serif;margin:24px;max-width:1100px}h2{margin-top:32px}table{border-collapse:collapse}td,th{padding:2px 8px;border-bottom:1px solid #ddd;font-size:12px}</style>
            </head><body><h1>SoftmaxLab report</h1><p>From \(SVGChart.escape(store.path)), \(Timestamp.now()).</p>
            """
        html += "<h2>Training runs</h2>"
        if trainIDs.isEmpty { html += "<p>No training runs recorded.</p>" }
        for id in trainIDs {
            let run = try s.run(id)!
            func series(_ key: String) throws -> [(Double, Double)] { try s.curve(id, key: key, points: points).map { ($0.epoch, $0.value) } }
            html += "<h3>Run \(id)\(run.name.map { " “\(SVGChart.escape($0))”" } ?? "") — \(SVGChart.escape(run.backend)), \(run.status.rawValue)</h3>"
            html += SVGChart.lines(title: "loss", xLabel: "epoch", yLabel: "mean cross-entropy",
                                   series: [("train_loss", try series("train_loss")), ("val_loss", try series("val_loss"))].filter { !$0.1.isEmpty })
            html += SVGChart.lines(title: "accuracy", xLabel: "epoch", yLabel: "fraction correct",
                                   series: [("train_acc", try series("train_acc")), ("val_acc", try series("val_acc"))].filter { !$0.1.isEmpty })
        }
        html += "<h2>Fused loss+gradient bandwidth</h2><p>Latest wall-time result per device and peer; the dashed line is the fastest copy of the same bytes measured at that shape.</p>"
        let rows = try s.query("""
            SELECT op, shape, backend, device, gb_per_s, run_id FROM bench_results
            WHERE timing = 'wall' AND op IN ('xent', 'copy') AND check_result = 'ok' AND gb_per_s IS NOT NULL ORDER BY run_id
            """)
        var latest: [String: [String: String]] = [:]
        for r in rows { latest["\(r["op"]!)|\(r["shape"]!)|\(r["backend"]!)|\(r["device"]!)"] = r }
        let shapes = Array(Set(latest.values.map { $0["shape"]! })).sorted()
        if shapes.isEmpty { html += "<p>No benchmark results recorded.</p>" }
        for shape in shapes {
            let entries = latest.values.filter { $0["shape"] == shape }
            let bars = entries.filter { $0["op"] == "xent" }
                .map { (label: "\($0["backend"]!) · \($0["device"]!.prefix(40))", value: Double($0["gb_per_s"]!) ?? 0) }
                .sorted { $0.value > $1.value }
            let copy = entries.filter { $0["op"] == "copy" }.max { (Double($0["gb_per_s"]!) ?? 0) < (Double($1["gb_per_s"]!) ?? 0) }
            html += SVGChart.bars(title: "xent \(shape)", unit: "GB/s", bars: bars,
                                  reference: copy.map { (label: "copy (\($0["backend"]!))", value: Double($0["gb_per_s"]!) ?? 0) })
        }
        html += "</body></html>\n"
        let bytes = Data(html.utf8)
        try file.write(bytes)
        if json {
            return Console.current.line(try JSONOutput.string(Output(out: out, trainRuns: trainIDs, benchmarkShapes: shapes, bytes: bytes.count)))
        }
        Console.current.line("report written to \(out) (\(trainIDs.count) training runs, \(shapes.count) benchmark shapes)")
    }
}
