import Foundation
import GRDB
import SoftmaxLabCLI
import Testing

@Suite struct ReportCommandTests {
    static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    /// A store with two training runs and a bench run, and the report of it.
    func report(_ files: TestFiles) throws -> String {
        let db = files.path("r.sqlite")
        for lr in ["0.1", "0.3"] {
            #expect(CommandRunner.run(["train", "--dataset", "iris", "--epochs", "8", "--lr", lr, "--db", db]).exitCode == 0)
        }
        #expect(CommandRunner.run(["bench", "--op", "xent", "--shapes", "64x10,8x3000", "--repeat", "2", "--db", db]).exitCode == 0)
        let out = files.path("report.html")
        let r = CommandRunner.run(["report", "--db", db, "--out", out])
        #expect(r.exitCode == 0, "\(r.standardError)")
        #expect(r.standardOutput.contains("2 training runs, 2 benchmark shapes"))
        return try String(contentsOfFile: out, encoding: .utf8)
    }

    @Test func theReportIsSelfContainedSVG() throws {
        let html = try report(try TestFiles())
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(!html.contains("<script"))
        #expect(!html.contains("src=") && !html.contains("<link"))
        // Loss and accuracy for each of the two runs: two lines each.
        #expect(html.components(separatedBy: "<polyline").count - 1 == 8)
        // One bar chart per shape with the copy line.
        #expect(html.contains("xent 64x10") && html.contains("xent 8x3000"))
        #expect(html.components(separatedBy: "stroke-dasharray").count - 1 == 2)
        // One chart per metric with both runs on it, the differing learning rate as the legend.
        for title in ["training loss", "validation loss", "training accuracy", "validation accuracy"] {
            #expect(html.components(separatedBy: "aria-label=\"\(title)\"").count - 1 == 1, "\(title)")
        }
        #expect(html.contains("run 1: learningRate=0.1") && html.contains("run 2: learningRate=0.3"))
        // Ticks at round numbers: whole epochs, and values with at most two decimals.
        let xTicks = Self.texts(html, class: "x-tick"), yTicks = Self.texts(html, class: "y-tick")
        #expect(!xTicks.isEmpty && xTicks.allSatisfy { Int($0) != nil }, "\(xTicks)")
        #expect(!yTicks.isEmpty && yTicks.allSatisfy { t in Double(t) != nil && (t.split(separator: ".").dropFirst().first?.count ?? 0) <= 2 }, "\(yTicks)")
    }

    /// The text of every SVG `<text class="…">` of that class.
    static func texts(_ html: String, class name: String) -> [String] {
        html.components(separatedBy: "class=\"\(name)\">").dropFirst().map { String($0.prefix { $0 != "<" }) }
    }

    /// A store merged from two hosts: the device table names both hosts, bars name the host.
    @Test func aMergedStoreReportsDevicesAndBenchmarksByHost() throws {
        let files = try TestFiles()
        let (a, b, team) = (files.path("a.sqlite"), files.path("b.sqlite"), files.path("team.sqlite"))
        for db in [a, b] {
            #expect(CommandRunner.run(["train", "--dataset", "iris", "--epochs", "3", "--db", db]).exitCode == 0)
            #expect(CommandRunner.run(["bench", "--op", "xent", "--shapes", "64x10", "--repeat", "2", "--backend", "swift", "--db", db]).exitCode == 0)
        }
        // b stands for another machine: its runs and devices name another host.
        let other = try GRDB.DatabaseQueue(path: b)
        try other.write { try $0.execute(sql: "UPDATE devices SET host = 'gpu-server'; UPDATE runs SET host = 'gpu-server'") }
        #expect(CommandRunner.run(["runs", "merge", a, b, "--into", team]).exitCode == 0)
        let out = files.path("team.html")
        #expect(CommandRunner.run(["report", "--db", team, "--out", out]).exitCode == 0)
        let html = try String(contentsOfFile: out, encoding: .utf8)
        #expect(html.contains("<h2>Devices</h2>"))
        #expect(html.contains("<td>gpu-server</td>") && html.contains("<td>\(ProcessInfo.processInfo.hostName)</td>"))
        #expect(html.contains("(gpu-server)</text>"), "the bars name the host")
        #expect(html.contains(": on gpu-server"), "the legend names the host when runs ran on more than one")
        let compare = CommandRunner.run(["runs", "compare", "1", "3", "--db", team])
        #expect(compare.standardOutput.contains("gpu-server"), "\(compare.standardOutput)")
    }

    /// Rendered by a real headless browser (Chromium from Debian's packages, installed by CI).
    @Test(.enabled(if: chromium != nil || ProcessInfo.processInfo.environment["CI"] == "true"))
    func chromiumRendersTheReport() throws {
        let browser = try #require(Self.chromium, "CI installs chromium; it was not found")
        let files = try TestFiles()
        _ = try report(files)
        let png = files.path("report.png")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: browser)
        p.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1100,1600",
                       "--screenshot=\(png)", "file://\(files.path("report.html"))"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let data = try Data(contentsOf: URL(fileURLWithPath: png))
        #expect(data.starts(with: [0x89, 0x50, 0x4E, 0x47]), "a PNG")
        #expect(data.count > 20_000, "a page with charts, not a blank one (\(data.count) bytes)")
    }
}
