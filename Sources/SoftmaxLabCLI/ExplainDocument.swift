import Foundation

/// What `explain` writes, as blocks each format renders its own way (`ExplainText`,
/// `ExplainMarkdown`, `ExplainLatex`, `ExplainHTML`). Prose holds its math between `$…$` and
/// formulas are LaTeX (`TexMath` turns them into Unicode or HTML), so each sentence and each
/// formula is written once, in `ExplainDocument+Content`.
struct ExplainDocument {
    enum Block {
        case heading(String)
        case subheading(String)
        case paragraph(String)
        /// A displayed formula.
        case equation(String)
        case steps([Step])
        case table(Table)
        case checks([Check])
        case chart(Chart)
    }

    /// A named value: "softmax  p_k = e_k/S = [0.659, 0.242, 0.0986]".
    struct Step {
        var name: String
        var formula: String
        var values: [Double]
        /// A vector is printed in brackets even with one entry; a scalar without.
        var isVector = true
        var note: String? = nil
    }

    /// A labelled matrix; names are LaTeX. Where the terminal has no room, the text says which
    /// `--json` field holds it.
    struct Table {
        var caption: String
        var rowNames: [String]
        var columnNames: [String]
        var cells: [[Double]]
        var jsonField: String
    }

    struct Check {
        enum Status: String { case ok, failed = "FAILED" }
        /// What is checked, LaTeX: "J = \partial p/\partial f".
        var name: String
        /// How the difference is measured, prose.
        var measure: String
        var difference: Double
        var bound: Double
        var status: Status { difference <= bound ? .ok : .failed }
    }

    /// Bars per class (HTML only): one series per quantity, e.g. p and q, or the gradient.
    struct Chart {
        var title: String
        var series: [(name: String, values: [Double])]
    }

    var title: String
    var blocks: [Block] = []

    /// A number for the notes: `digits` significant digits, never "-0".
    static func number(_ x: Double, digits: Int = 6) -> String {
        if x.isNaN { return "nan" }
        if x.isInfinite { return x > 0 ? "inf" : "-inf" }
        let text = String(format: "%.\(digits)g", x == 0 ? 0 : x)
        return text == "-0" ? "0" : text
    }

    /// The same number as LaTeX math: 1.5e-07 → 1.5\times10^{-7}.
    static func texNumber(_ x: Double, digits: Int = 6) -> String {
        let s = number(x, digits: digits)
        if s == "inf" { return "\\infty" }
        if s == "-inf" { return "-\\infty" }
        if s == "nan" { return "\\mathrm{NaN}" }
        guard let e = s.firstIndex(where: { $0 == "e" }) else { return s }
        let exponent = Int(s[s.index(after: e)...])!
        return String(s[..<e]) + "\\times10^{\(exponent)}"
    }
}
