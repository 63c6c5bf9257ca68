/// The small part of LaTeX's math notation that `explain` writes its formulas in, turned into
/// plain Unicode for the terminal or into HTML (subscripts and superscripts as tags). Each formula
/// is written once, in LaTeX, and the Markdown and LaTeX notes use it as it is.
enum TexMath {
    enum Target { case text, html }

    static func render(_ tex: String, for target: Target) -> String {
        var parser = Parser(characters: Array(tex), target: target)
        return parser.sequence(until: nil)
    }

    static let symbols: [String: String] = [
        "partial": "∂", "sum": "Σ", "delta": "δ", "cdot": "·", "ne": "≠", "neq": "≠", "otimes": "⊗", "odot": "⊙",
        "lambda": "λ", "varepsilon": "ε", "epsilon": "ε", "le": "≤", "leq": "≤", "ge": "≥", "approx": "≈", "infty": "∞",
        "times": "×", "to": "→", "ldots": "…", "dots": "…", "in": "∈", "mid": "|", "lvert": "|", "rvert": "|", "quad": "  ",
        "log": "log", "exp": "exp", "max": "max", "tanh": "tanh", "top": "ᵀ", "Sigma": "Σ", "|": "‖", "{": "{", "}": "}",
        ",": " ", ";": " ", "!": "", " ": " ", "left": "", "right": "", "prime": "′",
    ]
    /// Spaced as written: "k \\ne j" is "k ≠ j".
    static let binary: Set<String> = ["ne", "neq", "cdot", "otimes", "odot", "times", "le", "leq", "ge", "approx", "to", "in"]
    /// Words: a letter or digit next to them is kept apart by a space.
    static let operators: Set<String> = ["log", "exp", "max", "min", "tanh"]
    static let superscripts: [Character: Character] = [
        "0": "⁰", "1": "¹", "2": "²", "3": "³", "4": "⁴", "5": "⁵", "6": "⁶", "7": "⁷", "8": "⁸", "9": "⁹",
        "−": "⁻", "+": "⁺", "T": "ᵀ", "ᵀ": "ᵀ", "′": "′",
    ]

    private struct Parser {
        let characters: [Character]
        let target: Target
        var position = 0

        /// Everything up to `end` (a closing brace) or the end of the text.
        mutating func sequence(until end: Character?) -> String {
            var out = ""
            while position < characters.count {
                let ch = characters[position]
                if ch == end { position += 1; return out }
                // "s\\tanh(x)" is "s tanh(x)", as LaTeX spaces an operator from a letter before it.
                if startsOperator(), let last = out.last, last.isLetter || last.isNumber { out += " " }
                out += atom()
            }
            return out
        }

        func startsOperator() -> Bool {
            guard characters[position] == "\\" else { return false }
            let name = String(characters[(position + 1)...].prefix(while: \.isLetter))
            return TexMath.operators.contains(name)
        }

        /// One symbol, group or command, with its sub- and superscripts.
        mutating func atom() -> String {
            let ch = characters[position]
            position += 1
            switch ch {
            case "{": return sequence(until: "}")
            case "_": return script(argument(), superscript: false)
            case "^": return script(argument(), superscript: true)
            case "-": return "−"
            case "\\": return command()
            case "<": return target == .html ? "&lt;" : "<"
            case ">": return target == .html ? "&gt;" : ">"
            case "&": return target == .html ? "&amp;" : "&"
            case "'": return "′"
            default: return String(ch)
            }
        }

        /// A braced group or the single atom after `_`, `^` or a command.
        mutating func argument() -> String {
            guard position < characters.count else { return "" }
            return atom()
        }

        mutating func command() -> String {
            guard position < characters.count else { return "\\" }
            var name = ""
            if characters[position].isLetter {
                while position < characters.count, characters[position].isLetter {
                    name.append(characters[position])
                    position += 1
                }
                // As in LaTeX, spaces after a symbol's name are not part of the formula (∂L, not
                // ∂ L), except after a binary operator, which keeps the spacing it was written with…
                if !TexMath.binary.contains(name) {
                    while position < characters.count, characters[position] == " " { position += 1 }
                }
                // …and an operator name keeps one from a letter after it: "log S", not "logS".
                if TexMath.operators.contains(name), position < characters.count,
                   characters[position].isLetter || characters[position].isNumber || characters[position] == "\\" {
                    return name + " "
                }
            } else {
                name = String(characters[position])
                position += 1
            }
            switch name {
            case "frac":
                let numerator = argument(), denominator = argument()
                return grouped(numerator) + "/" + grouped(denominator)
            case "text", "mathrm", "operatorname", "mathbf", "mathit":
                return argument()
            default:
                return Self.symbol(name)
            }
        }

        static func symbol(_ name: String) -> String { TexMath.symbols[name] ?? name }

        /// A fraction's part in parentheses when it is more than one term.
        func grouped(_ s: String) -> String {
            s.contains(where: { " +−·".contains($0) }) ? "(" + s + ")" : s
        }

        func script(_ s: String, superscript: Bool) -> String {
            switch target {
            case .html:
                return superscript ? "<sup>\(s)</sup>" : "<sub>\(s)</sub>"
            case .text:
                if superscript {
                    if !s.isEmpty, s.allSatisfy({ TexMath.superscripts[$0] != nil }) { return String(s.map { TexMath.superscripts[$0]! }) }
                    return s.count == 1 ? "^" + s : "^(" + s + ")"
                }
                return s.contains("_") ? "_(" + s + ")" : "_" + s
            }
        }
    }
}
