/// `explain --format html`: one self-contained page (no script, no font or style from the
/// network), well-formed as XML, with the math in HTML and an inline SVG chart per row of p
/// against the target q and of the gradient.
enum ExplainHTML {
    static let style = """
        body{font-family:Georgia,serif;max-width:54em;margin:2em auto;padding:0 1em;line-height:1.45;color:#222}
        h1,h2{font-family:sans-serif}.math{font-style:italic;white-space:nowrap}
        .equation{text-align:center;margin:0.8em 0;font-style:italic}
        table{border-collapse:collapse;margin:0.5em 0}td,th{padding:0.15em 0.6em;text-align:right}
        table.matrix th{font-weight:normal;font-style:italic}table.matrix td,table.matrix th{border-bottom:1px solid #ddd}
        .scroll{overflow-x:auto}.failed{color:#b00;font-weight:bold}.ok{color:#070}
        """

    static func render(_ document: ExplainDocument) -> String {
        var out = ["<!DOCTYPE html>", "<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">",
                   "<head><meta charset=\"utf-8\"/><title>\(escape(document.title))</title><style>\(style)</style></head>", "<body>",
                   "<h1>\(escape(document.title))</h1>"]
        var charts: [String] = []
        for block in document.blocks {
            switch block {
            case .heading(let text): out.append("<h2>\(prose(text))</h2>")
            case .subheading(let text): out.append("<h3>\(prose(text))</h3>")
            case .paragraph(let text): out.append("<p>\(prose(text))</p>")
            case .equation(let tex): out.append("<div class=\"equation\">\(math(tex))</div>")
            case .steps(let steps):
                out.append("<table class=\"steps\">")
                out += steps.map { s in
                    let values = s.isVector ? "[" + s.values.map { ExplainDocument.number($0) }.joined(separator: ", ") + "]" : ExplainDocument.number(s.values[0])
                    return "<tr><td>\(escape(s.name))</td><td style=\"text-align:left\"><span class=\"math\">\(math(s.formula))</span> = \(values)\(s.note.map { " (\(prose($0)))" } ?? "")</td></tr>"
                }
                out.append("</table>")
            case .table(let t):
                out.append("<p>\(prose(t.caption))</p><div class=\"scroll\"><table class=\"matrix\">")
                out.append("<tr><th></th>" + t.columnNames.map { "<th>\(math($0))</th>" }.joined() + "</tr>")
                for (name, row) in zip(t.rowNames, t.cells) {
                    out.append("<tr><th>\(math(name))</th>" + row.map { "<td>\(ExplainDocument.number($0, digits: 4))</td>" }.joined() + "</tr>")
                }
                out.append("</table></div>")
            case .checks(let checks):
                out.append("<table class=\"checks\"><tr><th>check</th><th>measure</th><th>difference</th><th>tolerance</th><th>result</th></tr>")
                out += checks.map { c in
                    "<tr><td><span class=\"math\">\(math(c.name))</span></td><td><span class=\"math\">\(math(c.measure))</span></td><td>\(ExplainDocument.number(c.difference, digits: 3))</td><td>\(ExplainDocument.number(c.bound, digits: 3))</td><td class=\"\(c.status == .ok ? "ok" : "failed")\">\(c.status.rawValue)</td></tr>"
                }
                out.append("</table>")
            case .chart(let chart):
                charts.append("<figure>" + SVGChart.classBars(title: chart.title, series: chart.series) + "</figure>")
            }
        }
        if !charts.isEmpty { out += ["<h2>Charts</h2>"] + charts }
        out += ["</body>", "</html>"]
        return out.joined(separator: "\n") + "\n"
    }

    static func escape(_ s: String) -> String { SVGChart.escape(s) }

    static func math(_ tex: String) -> String { TexMath.render(tex, for: .html) }

    /// Prose with its `$…$` math as italic spans.
    static func prose(_ text: String) -> String {
        text.split(separator: "$", omittingEmptySubsequences: false).enumerated().map { part in
            part.offset % 2 == 1 ? "<span class=\"math\">\(math(String(part.element)))</span>" : escape(String(part.element))
        }.joined()
    }
}
