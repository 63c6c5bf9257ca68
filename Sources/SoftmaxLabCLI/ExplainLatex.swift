/// `explain --format latex`: a document that pdflatex compiles with the base packages alone
/// (amsmath, graphicx); prose escaped, math as written.
enum ExplainLatex {
    static func render(_ document: ExplainDocument) -> String {
        var out = [
            "\\documentclass[11pt]{article}", "\\usepackage{amsmath}", "\\usepackage{graphicx}",
            "\\setlength{\\parindent}{0pt}", "\\setlength{\\parskip}{0.6em}",
            "\\title{\(prose(document.title))}", "\\date{}", "\\begin{document}", "\\maketitle", "",
        ]
        for block in document.blocks {
            switch block {
            case .heading(let text): out += ["\\section*{\(prose(text))}", ""]
            case .subheading(let text): out += ["\\subsection*{\(prose(text))}", ""]
            case .paragraph(let text): out += [prose(text), ""]
            case .equation(let tex): out += ["\\[ \(tex) \\]", ""]
            case .steps(let steps):
                out.append("\\begin{itemize}")
                out += steps.map { s in
                    let values = s.isVector ? "(" + s.values.map { "$\(ExplainDocument.texNumber($0))$" }.joined(separator: ", ") + ")" : "$\(ExplainDocument.texNumber(s.values[0]))$"
                    return "\\item " + (s.name.isEmpty ? "" : "\(prose(s.name)): ") + "$\(s.formula)$ = \(values)" + (s.note.map { " (\(prose($0)))" } ?? "")
                }
                out += ["\\end{itemize}", ""]
            case .table(let t):
                out += [prose(t.caption), ""]
                let body = tabular(header: [""] + t.columnNames.map { "$\($0)$" },
                                   rows: zip(t.rowNames, t.cells).map { name, row in ["$\(name)$"] + row.map { "$\(ExplainDocument.texNumber($0, digits: 4))$" } },
                                   alignment: "l" + String(repeating: "r", count: t.columnNames.count))
                // Wide tables are scaled to the line rather than run off the page.
                out += ["\\begin{center}", t.columnNames.count > 7 ? "\\resizebox{\\linewidth}{!}{\(body)}" : body, "\\end{center}", ""]
            case .checks(let checks):
                let rows = checks.map { c in
                    ["$\(c.name)$", "$\(c.measure)$", "$\(ExplainDocument.texNumber(c.difference, digits: 3))$", "$\(ExplainDocument.texNumber(c.bound, digits: 3))$",
                     c.status == .ok ? "ok" : "\\textbf{FAILED}"]
                }
                out += ["\\begin{center}", tabular(header: ["check", "measure", "difference", "tolerance", "result"], rows: rows, alignment: "llrrl"), "\\end{center}", ""]
            case .chart: break
            }
        }
        out.append("\\end{document}")
        return out.joined(separator: "\n") + "\n"
    }

    static func tabular(header: [String], rows: [[String]], alignment: String) -> String {
        "\\begin{tabular}{\(alignment)}\\hline " + header.joined(separator: " & ") + " \\\\ \\hline "
            + rows.map { $0.joined(separator: " & ") + " \\\\ " }.joined() + "\\hline\\end{tabular}"
    }

    /// Prose for LaTeX: the characters it reserves escaped outside `$…$`, quotes as ``…''.
    static func prose(_ text: String) -> String {
        var opening = true
        return text.split(separator: "$", omittingEmptySubsequences: false).enumerated().map { part -> String in
            if part.offset % 2 == 1 { return "$" + part.element + "$" }
            var s = ""
            for ch in part.element {
                switch ch {
                case "\\": s += "\\textbackslash{}"
                case "&", "%", "#", "_", "{", "}": s += "\\" + String(ch)
                case "~": s += "\\textasciitilde{}"
                case "^": s += "\\textasciicircum{}"
                case "\"": s += opening ? "``" : "''"; opening.toggle()
                case "-" where s.hasSuffix("-"): s += "{}-"
                default: s.append(ch)
                }
            }
            return s
        }.joined()
    }
}
