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
        let legends = try Self.legends(trainIDs, s)
        if !trainIDs.isEmpty {
            html += Self.table(header: ["run", "name", "status", "backend", "device", "host", "differs in"], rows: try trainIDs.map { id in
                let run = try s.run(id)!
                let device = try run.deviceId.flatMap { try s.device($0) }
                return ["\(id)", run.name ?? "", run.status.rawValue, run.backend, device?.name ?? "", run.host, legends[id] ?? ""]
            })
        }
        // One chart per metric with every selected run on it, so runs compare by eye.
        let metrics = [("train_loss", "training loss", "mean cross-entropy"), ("val_loss", "validation loss", "mean cross-entropy"),
                       ("train_acc", "training accuracy", "fraction correct"), ("val_acc", "validation accuracy", "fraction correct")]
        for (key, title, unit) in metrics {
            let series = try trainIDs.map { id in
                (name: "run \(id)" + (legends[id].map { $0.isEmpty ? "" : ": \($0)" } ?? ""),
                 points: try s.curve(id, key: key, points: points).map { ($0.epoch, $0.value) })
            }.filter { !$0.points.isEmpty }
            if !series.isEmpty { html += SVGChart.lines(title: title, xLabel: "epoch", yLabel: unit, series: series, integerX: true) }
        }
        html += "<h2>Fused loss+gradient bandwidth</h2><p>Latest wall-time result per device (on its host) and peer; the dashed line is the fastest copy of the same bytes measured at that shape.</p>"
        let rows = try s.query("""
            SELECT t.op, t.shape, t.backend, COALESCE(d.name, t.backend) AS device, COALESCE(d.host, r.host) AS host, t.gb_per_s, t.run_id
            FROM timings t JOIN runs r ON r.id = t.run_id LEFT JOIN devices d ON d.id = t.device_id
            WHERE t.timing = 'wall' AND t.op IN ('xent', 'copy') AND t.check_result = 'ok' AND t.gb_per_s IS NOT NULL ORDER BY t.run_id, t.id
            """)
        var latest: [String: [String: String]] = [:]
        for r in rows { latest["\(r["op"]!)|\(r["shape"]!)|\(r["backend"]!)|\(r["device"]!)|\(r["host"]!)"] = r }
        let hosts = Set(latest.values.map { $0["host"]! })
        let shapes = Array(Set(latest.values.map { $0["shape"]! })).sorted()
        if shapes.isEmpty { html += "<p>No benchmark results recorded.</p>" }
        for shape in shapes {
            let entries = latest.values.filter { $0["shape"] == shape }
            let bars = entries.filter { $0["op"] == "xent" }
                .map { (label: "\($0["backend"]!) · \($0["device"]!.prefix(40))" + (hosts.count > 1 ? " (\($0["host"]!))" : ""), value: Double($0["gb_per_s"]!) ?? 0) }
                .sorted { $0.value > $1.value }
            let copy = entries.filter { $0["op"] == "copy" }.max { (Double($0["gb_per_s"]!) ?? 0) < (Double($1["gb_per_s"]!) ?? 0) }
            html += SVGChart.bars(title: "xent \(shape)", unit: "GB/s", bars: bars,
                                  reference: copy.map { (label: "copy (\($0["backend"]!))", value: Double($0["gb_per_s"]!) ?? 0) })
        }
        let devices = try s.query("""
            SELECT DISTINCT d.name, d.backend, d.type, d.host, d.driver_version, d.copy_bandwidth_gbs FROM devices d
            WHERE d.id IN (SELECT device_id FROM timings) OR d.id IN (SELECT device_id FROM runs WHERE id IN (\(trainIDs.isEmpty ? "NULL" : trainIDs.map(String.init).joined(separator: ","))))
            ORDER BY d.host, d.backend, d.name
            """)
        if !devices.isEmpty {
            html += "<h2>Devices</h2>"
            html += Self.table(header: ["device", "backend", "type", "host", "driver", "copy GB/s"], rows: devices.map { d in
                [d["name"]!, d["backend"]!, d["type"]!, d["host"]!, d["driver_version"]!, d["copy_bandwidth_gbs"].flatMap(Double.init).map { String(format: "%.1f", $0) } ?? ""]
            })
        }
        html += "</body></html>\n"
        let bytes = Data(html.utf8)
        try file.write(bytes)
        if json {
            return Console.current.line(try JSONOutput.string(Output(out: out, trainRuns: trainIDs, benchmarkShapes: shapes, bytes: bytes.count)))
        }
        Console.current.line("report written to \(out) (\(trainIDs.count) training runs, \(shapes.count) benchmark shapes)")
    }

    /// Each run's legend: the configuration fields in which the runs differ (`lr=0.3, batchSize=64`),
    /// and the host when they ran on more than one.
    static func legends(_ ids: [Int64], _ store: ExperimentStore) throws -> [Int64: String] {
        let params = try ids.map { Dictionary(uniqueKeysWithValues: try store.params($0).map { ($0.key, $0.value ?? "null") }) }
        let hosts = try ids.map { try store.run($0)?.host ?? "" }
        let keys = Set(params.flatMap(\.keys)).sorted().filter { key in Set(params.map { $0[key] ?? "-" }).count > 1 }
        var result: [Int64: String] = [:]
        for (i, id) in ids.enumerated() {
            var parts = keys.prefix(4).map { "\($0)=\(params[i][$0] ?? "-")" }
            if keys.count > 4 { parts.append("…") }
            if Set(hosts).count > 1 { parts.append("on \(hosts[i])") }
            result[id] = parts.joined(separator: ", ")
        }
        return result
    }

    static func table(header: [String], rows: [[String]]) -> String {
        "<table><tr>" + header.map { "<th>\(SVGChart.escape($0))</th>" }.joined() + "</tr>"
            + rows.map { "<tr>" + $0.map { "<td>\(SVGChart.escape($0))</td>" }.joined() + "</tr>" }.joined() + "</table>"
    }
}
