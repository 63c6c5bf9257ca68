import Foundation
import SoftmaxLabCLI
import Testing

/// `explain --format markdown|latex|html`: notes a student keeps. LaTeX is compiled where a TeX
/// engine is installed (CI installs Debian's texlive-latex-base), the HTML rendered by Chromium.
@Suite struct ExplainFormatTests {
    static let pdflatex = ["/usr/bin/pdflatex"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static let inCI = ProcessInfo.processInfo.environment["CI"] == "true"

    /// One row with x, and a batch with every option: the two shapes of the document.
    static let cases: [[String]] = [
        ["--logits", "2,1,0.1", "--label", "0", "--x", "-2,0,3.5"],
        ["--logits", "2,1,0.1;0,-1,3;1,1,1", "--labels", "0,2,-100", "--weights", "1,2,0.5", "--label-smoothing", "0.1",
         "--z-loss", "0.01", "--softcap", "5", "--x", "1,-2;0,3;2,2"],
        ["--logits", "1000,0,-3", "--targets", "0.2,0.3,0.5", "--reduction", "sum"],
    ]

    static func write(_ format: String, _ arguments: [String], to path: String) throws -> String {
        let r = CommandRunner.run(["explain"] + arguments + ["--format", format, "--output", path])
        try #require(r.exitCode == 0, "\(format) \(arguments): \(r.standardError)")
        return try String(contentsOfFile: path, encoding: .utf8)
    }

    static func run(_ executable: String, _ arguments: [String], in directory: String) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        p.currentDirectoryURL = URL(fileURLWithPath: directory)
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test(arguments: cases)
    func markdownHasTheMathAndTheTables(_ arguments: [String]) throws {
        let files = try TestFiles()
        let md = try Self.write("markdown", arguments, to: files.path("notes.md"))
        #expect(md.hasPrefix("# Softmax cross-entropy, step by step\n"))
        for expected in ["## The forward pass", "## The gradient, the long way: through the Jacobian of softmax", "$$\nJ_{kj} = \\partial p_k/\\partial f",
                         "| | $f", "|---|---:|", "| check | measure | difference | tolerance | result |", "## Checks"] {
            #expect(md.contains(expected), "markdown lacks '\(expected)':\n\(md)")
        }
        // Every line opens as many inline formulas as it closes.
        for line in md.split(separator: "\n") where line != "$$" {
            #expect(line.filter { $0 == "$" }.count % 2 == 0, "unbalanced $ in: \(line)")
        }
        #expect(!md.contains("FAILED"))
    }

    @Test(arguments: cases)
    func latexIsADocumentThatCompiles(_ arguments: [String]) throws {
        let files = try TestFiles()
        let tex = try Self.write("latex", arguments, to: files.path("notes.tex"))
        #expect(tex.hasPrefix("\\documentclass") && tex.contains("\\begin{document}") && tex.hasSuffix("\\end{document}\n"))
        #expect(tex.contains("\\[ J_{kj} = \\partial p_k/\\partial f"), "\(tex)")
        // No Unicode math in the prose: pdflatex's default input encoding knows none of it.
        #expect(!tex.contains(where: { "∂Σδ−·⊙⊗λεᵀ≤".contains($0) }), "Unicode math outside $…$")
        guard let engine = Self.pdflatex else {
            #expect(!Self.inCI, "CI installs texlive-latex-base; pdflatex was not found")
            return
        }
        let result = try Self.run(engine, ["-interaction=nonstopmode", "-halt-on-error", "notes.tex"], in: files.directory.path)
        #expect(result.status == 0, "pdflatex failed:\n\(result.output.suffix(3000))")
        let pdf = try Data(contentsOf: URL(fileURLWithPath: files.path("notes.pdf")))
        #expect(pdf.starts(with: Array("%PDF".utf8)))
    }

    @Test(arguments: cases)
    func htmlIsSelfContainedWithCharts(_ arguments: [String]) throws {
        let files = try TestFiles()
        let html = try Self.write("html", arguments, to: files.path("notes.html"))
        #expect(html.hasPrefix("<!DOCTYPE html>") && html.contains("<svg") && html.contains("Softmax p against the target q"))
        #expect(!html.contains("<script") && !html.contains("<link") && !html.contains("src="), "nothing loaded from anywhere")
        #expect(html.replacingOccurrences(of: "http://www.w3.org/", with: "").range(of: "http") == nil, "no address outside the page")
        #expect(html.contains("<sub>kj</sub>"), "subscripts as tags")
    }

    /// Rendered by a real headless browser: no console message, a page with charts in the
    /// screenshot, and well-formed as XML (read as XHTML, Chromium would show a parser error).
    @Test(.enabled(if: chromium != nil || inCI), arguments: cases)
    func chromiumRendersTheHTML(_ arguments: [String]) throws {
        let browser = try #require(Self.chromium, "CI installs chromium; it was not found")
        let files = try TestFiles()
        let html = try Self.write("html", arguments, to: files.path("notes.html"))
        let common = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--enable-logging=stderr", "--v=0"]
        let shot = try Self.run(browser, common + ["--window-size=1000,4000", "--screenshot=\(files.path("notes.png"))", "file://\(files.path("notes.html"))"],
                                in: files.directory.path)
        #expect(shot.status == 0, "\(shot.output.suffix(2000))")
        #expect(!shot.output.contains(":CONSOLE"), "console messages:\n\(shot.output)")
        let png = try Data(contentsOf: URL(fileURLWithPath: files.path("notes.png")))
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]) && png.count > 50_000, "a page with charts, not a blank one (\(png.count) bytes)")
        try html.write(toFile: files.path("notes.xhtml"), atomically: true, encoding: .utf8)
        let dom = try Self.run(browser, common + ["--dump-dom", "file://\(files.path("notes.xhtml"))"], in: files.directory.path)
        #expect(dom.status == 0 && dom.output.contains("<svg") && !dom.output.contains("parsererror"), "\(dom.output.prefix(3000))")
    }
}
