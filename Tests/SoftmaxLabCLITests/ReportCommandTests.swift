import Foundation
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
