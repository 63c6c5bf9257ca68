/// `explain`'s terminal text: 80 columns, math in Unicode, long vectors wrapped, tables too wide
/// for the terminal named by their `--json` field instead.
enum ExplainText {
    static let width = 80

    static func render(_ document: ExplainDocument) -> String {
        var lines = [document.title]
        for block in document.blocks {
            switch block {
            case .heading(let text): lines += ["", prose(text)]
            case .subheading(let text): lines += ["  " + prose(text)]
            case .paragraph(let text): lines += wrap(prose(text), indent: 4)
            case .equation(let tex): lines += wrap(math(tex), indent: 6)
            case .steps(let steps): lines += self.steps(steps)
            case .table(let table): lines += self.table(table)
            case .checks(let checks): lines += self.checks(checks)
            case .chart: break
            }
        }
        return lines.joined(separator: "\n")
    }

    static func math(_ tex: String) -> String { TexMath.render(tex, for: .text) }

    /// Prose with its `$…$` math in Unicode.
    static func prose(_ text: String) -> String {
        text.split(separator: "$", omittingEmptySubsequences: false).enumerated()
            .map { $0.offset % 2 == 1 ? math(String($0.element)) : String($0.element) }.joined()
    }

    /// Words filled into lines of at most 80 columns after `indent` spaces.
    static func wrap(_ text: String, indent: Int) -> [String] {
        let pad = String(repeating: " ", count: indent)
        var lines: [String] = [], line = ""
        for word in text.split(separator: " ") {
            if !line.isEmpty && indent + line.count + 1 + word.count > width {
                lines.append(pad + line)
                line = ""
            }
            line += (line.isEmpty ? "" : " ") + word
        }
        lines.append(pad + line)
        return lines
    }

    /// "[a, b, …]" wrapped to 80 columns, continuing at column `indent`.
    static func vector(_ values: [Double], indent: Int) -> [String] {
        var lines: [String] = [], line = "["
        for (i, v) in values.enumerated() {
            let item = ExplainDocument.number(v) + (i + 1 < values.count ? ", " : "]")
            if indent + line.count + item.count > width {
                lines.append(line)
                line = " "
            }
            line += item
        }
        lines.append(values.isEmpty ? "[]" : line)
        return lines
    }

    static func steps(_ steps: [ExplainDocument.Step]) -> [String] {
        let nameWidth = (steps.map(\.name.count).max() ?? 0)
        var out: [String] = []
        for step in steps {
            let head = "  " + (nameWidth > 0 ? step.name.padding(toLength: nameWidth + 2, withPad: " ", startingAt: 0) : "  ") + math(step.formula) + " = "
            // A vector that would start past column 48 goes on its own lines.
            let own = step.isVector && head.count > 48
            let column = own ? 8 : head.count
            let body = step.isVector ? vector(step.values, indent: column) : [ExplainDocument.number(step.values[0])]
            var lines = own ? [head.trimmingSuffix(), ] + body.map { String(repeating: " ", count: 8) + $0 }
                            : [head + body[0]] + body.dropFirst().map { String(repeating: " ", count: column) + $0 }
            if let note = step.note {
                let text = "(" + prose(note) + ")"
                if lines[lines.count - 1].count + 2 + text.count <= width { lines[lines.count - 1] += "  " + text } else { lines += wrap(text, indent: 8) }
            }
            out += lines
        }
        return out
    }

    /// A labelled matrix, columns right-aligned; where it would pass 80 columns, a line naming
    /// its `--json` field.
    static func table(_ t: ExplainDocument.Table) -> [String] {
        let cells = t.cells.map { $0.map { ExplainDocument.number($0, digits: 4) } }
        let rowNames = t.rowNames.map(math), columnNames = t.columnNames.map(math)
        let cellWidth = max((cells.flatMap { $0 } + columnNames).map(\.count).max() ?? 1, 1) + 2
        let nameWidth = (rowNames.map(\.count).max() ?? 0) + 1
        let indent = 6
        var out = wrap(prose(t.caption), indent: 4)
        guard indent + nameWidth + cellWidth * columnNames.count <= width else {
            return out + wrap("(\(t.cells.count)×\(t.columnNames.count): wider than \(width) columns; --json has it as `\(t.jsonField)`)", indent: indent)
        }
        let pad = String(repeating: " ", count: indent)
        func right(_ s: String) -> String { String(repeating: " ", count: cellWidth - s.count) + s }
        out.append(pad + String(repeating: " ", count: nameWidth) + columnNames.map(right).joined())
        for (name, row) in zip(rowNames, cells) {
            out.append(pad + name.padding(toLength: nameWidth, withPad: " ", startingAt: 0) + row.map(right).joined())
        }
        return out
    }

    static func checks(_ checks: [ExplainDocument.Check]) -> [String] {
        let names = checks.map { math($0.name) + ":" }, measures = checks.map { math($0.measure) }
        let nameWidth = names.map(\.count).max() ?? 0, measureWidth = measures.map(\.count).max() ?? 0
        return checks.indices.map { i in
            let c = checks[i]
            let verdict = c.status == .ok ? "≤" : ">"
            return "      " + names[i].padding(toLength: nameWidth + 1, withPad: " ", startingAt: 0)
                + measures[i].padding(toLength: measureWidth, withPad: " ", startingAt: 0)
                + " = \(ExplainDocument.number(c.difference, digits: 3)) \(verdict) \(ExplainDocument.number(c.bound, digits: 3))  \(c.status.rawValue)"
        }
    }
}

extension String {
    fileprivate func trimmingSuffix() -> String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}
