/// `explain --format markdown`: notes with LaTeX math (`$…$`, `$$…$$`), as GitHub, Jupyter and
/// Obsidian render them; every table in full.
enum ExplainMarkdown {
    static func render(_ document: ExplainDocument) -> String {
        var out = ["# " + document.title, ""]
        for block in document.blocks {
            switch block {
            case .heading(let text): out += ["## " + text, ""]
            case .subheading(let text): out += ["### " + text, ""]
            case .paragraph(let text): out += [text, ""]
            case .equation(let tex): out += ["$$", tex, "$$", ""]
            case .steps(let steps):
                out += steps.map { s in
                    let values = s.isVector ? "[" + s.values.map { ExplainDocument.number($0) }.joined(separator: ", ") + "]" : ExplainDocument.number(s.values[0])
                    return "- " + (s.name.isEmpty ? "" : "\(s.name): ") + "$\(s.formula)$ = \(values)" + (s.note.map { " (\($0))" } ?? "")
                }
                out.append("")
            case .table(let t):
                out += [t.caption, ""]
                out.append("| | " + t.columnNames.map { "$\($0)$" }.joined(separator: " | ") + " |")
                out.append("|---|" + String(repeating: "---:|", count: t.columnNames.count))
                for (name, row) in zip(t.rowNames, t.cells) {
                    out.append("| $\(name)$ | " + row.map { ExplainDocument.number($0) }.joined(separator: " | ") + " |")
                }
                out.append("")
            case .checks(let checks):
                out += ["| check | measure | difference | tolerance | result |", "|---|---|---:|---:|---|"]
                out += checks.map { c in
                    "| $\(c.name)$ | $\(c.measure)$ | \(ExplainDocument.number(c.difference, digits: 3)) | \(ExplainDocument.number(c.bound, digits: 3)) | \(c.status == .ok ? "ok" : "**FAILED**") |"
                }
                out.append("")
            case .chart: break
            }
        }
        return out.joined(separator: "\n")
    }
}
