import Foundation
import SoftmaxCore

/// The words and formulas of `explain`, with the user's numbers, in the order a student reads them:
/// the forward pass, the Jacobian route, the shortcut, the options, the batch, the linear layer,
/// the checks and, where the logits are large, why the shift by the max matters.
extension ExplainDocument {
    /// Rows worked through one by one; the tables of the batch hold them all.
    static let rowsShown = 4

    init(_ e: Explanation) {
        self.init(title: "Softmax cross-entropy, step by step")
        let n = e.rows.count, c = e.classes, o = e.options
        let plain = !e.hasWeights && o.labelSmoothing == 0 && e.rows.allSatisfy { $0.label != nil }
        var about = n == 1 ? "One row, $C = \(c)$ classes" : "$N = \(n)$ rows, $C = \(c)$ classes"
        if n == 1, let y = e.rows[0].label { about += ", label $y = \(y)$" }
        about += "; " + e.optionsSentence + "."
        blocks.append(.paragraph(about))

        blocks.append(.heading("The forward pass"))
        for row in e.rows.prefix(Self.rowsShown) { forwardPass(row, e) }
        if n > Self.rowsShown {
            blocks.append(.paragraph("Rows \(Self.rowsShown) to \(n - 1) are in the tables below, and every number in --json."))
        }

        let r = e.featuredRow
        jacobianRoute(r, e, plain: plain)
        if o.zLoss > 0 || o.softcap != nil || e.hasWeights || e.rows.contains(where: \.ignored) || n > 1 || o.reduction != .mean {
            optionsAndBatch(e)
        }
        if e.x != nil { linearLayer(e) }
        checks(e)
        stability(e)
        for row in e.rows.prefix(Self.rowsShown) {
            let which = n == 1 ? "" : " (row \(row.index))"
            blocks.append(.chart(Chart(title: "Softmax p against the target q\(which)", series: [("p", row.probabilities), ("q", row.target)])))
            blocks.append(.chart(Chart(title: "The gradient ∂loss/∂f per class\(which)", series: [("∂loss/∂f", row.gradient)])))
        }
    }

    private mutating func forwardPass(_ row: Explanation.Row, _ e: Explanation) {
        if e.rows.count > 1 {
            let label = row.label.map { $0 == Int(e.options.ignoreIndex) ? "label \($0): the ignore index" : "label $y = \($0)$" } ?? "probability target"
            blocks.append(.subheading("Row \(row.index) (\(label))"))
        }
        var steps: [Step] = [Step(name: "scores", formula: "f", values: row.logits)]
        let f = e.options.softcap == nil ? "f" : "f'"
        if let s = e.options.softcap, let capped = row.cappedLogits {
            steps.append(Step(name: "softcap", formula: "f'_k = s\\tanh(f_k/s)", values: capped, note: "s = \(Self.number(Double(s)))"))
        }
        steps.append(Step(name: "max", formula: "m = \\max_k \(f)_k", values: [row.max], isVector: false, note: "for stability only: it cancels"))
        steps.append(Step(name: "exponentials", formula: "e_k = \\exp(\(f)_k - m)", values: row.exponentials))
        steps.append(Step(name: "sum", formula: "S = \\sum_k e_k", values: [row.sum], isVector: false))
        steps.append(Step(name: "softmax", formula: "p_k = e_k/S", values: row.probabilities))
        if row.ignored {
            blocks.append(.steps(steps))
            blocks.append(.paragraph("This row's label is the ignore index \(e.options.ignoreIndex): it adds no loss, its gradient row is zero, and it is not counted in the mean's denominator."))
            return
        }
        let eps = Double(e.options.labelSmoothing)
        if let y = row.label {
            let formula = eps > 0 ? "q_k = (1 - \\varepsilon)\\delta_{ky} + \\varepsilon/C" : "q_k = \\delta_{ky}"
            steps.append(Step(name: "target", formula: formula, values: row.target, note: eps > 0 ? "$\\varepsilon$ = \(Self.number(eps))" : "one-hot($y$ = \(y))"))
        } else {
            let formula = eps > 0 ? "q_k = (1 - \\varepsilon)\\,\\mathrm{given}_k + \\varepsilon/C" : "q_k"
            steps.append(Step(name: "target", formula: formula, values: row.target, note: "given"))
        }
        if e.hasWeights { steps.append(Step(name: "coefficients", formula: "t_k = w_k q_k", values: row.coefficients)) }
        if row.label != nil && eps == 0 && !e.hasWeights {
            steps.append(Step(name: "loss", formula: "L = -\\log p_y = \\log S + m - \(f)_y", values: [row.crossEntropy], isVector: false))
        } else {
            let t = e.hasWeights ? "t" : "q"
            steps.append(Step(name: "loss", formula: "L = -\\sum_k \(t)_k \\log p_k = \\sum_k \(t)_k(\\log S + m - \(f)_k)", values: [row.crossEntropy], isVector: false))
        }
        if e.options.zLoss > 0 {
            steps.append(Step(name: "z part", formula: "z = \\lambda_z\\,\\mathrm{lse}^2,\\ \\mathrm{lse} = m + \\log S", values: [row.zPart], isVector: false,
                              note: "$\\lambda_z$ = \(Self.number(Double(e.options.zLoss))), lse = \(Self.number(row.logSumExp))"))
        }
        blocks.append(.steps(steps))
    }

    private mutating func jacobianRoute(_ r: Explanation.Row, _ e: Explanation, plain: Bool) {
        let c = e.classes
        let f = e.options.softcap == nil ? "f" : "f'"
        blocks.append(.heading("The gradient, the long way: through the Jacobian of softmax"))
        if e.rows.count > 1 { blocks.append(.paragraph("Worked with the numbers of row \(r.index); every row goes the same way.")) }
        var intro = "$L$ depends on $C$ separate variables $\(f)_0, \\ldots, \(f)_{\(c - 1)}$. \"With respect to an index\" means with respect to one of them, $\(f)_j$, the others held fixed: do it for each $j$ in turn."
        if e.options.softcap != nil { intro += " Here the variables are the capped scores $f'$; the softcap's own derivative comes after." }
        intro += " Write $S = \\sum_i \\exp(\(f)_i)$, so $\\partial S/\\partial \(f)_j = \\exp(\(f)_j)$, and $p_k = \\exp(\(f)_k)/S$. The quotient rule $(u/v)' = (u'v - uv')/v^2$ gives"
        blocks.append(.paragraph(intro))
        blocks.append(.equation("k = j:\\quad \\partial p_k/\\partial \(f)_j = (\\exp(\(f)_k) S - \\exp(\(f)_k)\\exp(\(f)_j))/S^2 = p_k(1 - p_k)"))
        blocks.append(.equation("k \\ne j:\\quad \\partial p_k/\\partial \(f)_j = (0 \\cdot S - \\exp(\(f)_k)\\exp(\(f)_j))/S^2 = -p_k p_j"))
        blocks.append(.paragraph("Both cases at once, with the Kronecker delta $\\delta_{kj}$ (1 if $k = j$, else 0):"))
        blocks.append(.equation("J_{kj} = \\partial p_k/\\partial \(f)_j = p_k(\\delta_{kj} - p_j)"))
        blocks.append(.table(Table(
            caption: "With your numbers (row $k$ is $p_k$, column $j$ is $\(f)_j$; the diagonal is $p_k(1 - p_k)$, the rest $-p_k p_j$):",
            rowNames: (0..<c).map { "p_{\($0)}" }, columnNames: (0..<c).map { "\(f)_{\($0)}" }, cells: r.jacobian,
            jsonField: "rows[\(r.index)].jacobian")))
        if plain {
            blocks.append(.paragraph("$L = -\\log p_y$ depends on $p$ only through $p_y$, so $\\partial L/\\partial p_k = -\\delta_{ky}/p_y$:"))
        } else {
            let t = e.hasWeights ? "t" : "q"
            blocks.append(.paragraph("$L = -\\sum_k \(t)_k \\log p_k$, so $\\partial L/\\partial p_k = -\(t)_k/p_k$:"))
        }
        blocks.append(.steps([Step(name: "", formula: "\\partial L/\\partial p", values: r.lossGradientWrtProbabilities)]))
        if plain {
            blocks.append(.paragraph("The chain rule, $\\partial L/\\partial \(f)_j = \\sum_k \\partial L/\\partial p_k \\cdot J_{kj}$: only the row $k = y$ survives,"))
            blocks.append(.equation("\\partial L/\\partial \(f)_j = -(1/p_y) \\cdot p_y(\\delta_{yj} - p_j) = p_j - \\delta_{jy}"))
            let y = r.label ?? 0
            blocks.append(.table(Table(
                caption: "Each $j$ with its numbers:", rowNames: (0..<c).map { $0 == y ? "j = \($0)\\ (\\text{label})" : "j = \($0)" },
                columnNames: ["p_j", "\\delta_{jy}", "p_j - \\delta_{jy}"],
                cells: (0..<c).map { [r.probabilities[$0], $0 == y ? 1 : 0, r.chainRuleGradient[$0]] }, jsonField: "rows[\(r.index)].chainRuleGradient")))
            blocks.append(.paragraph("The shortcut: $L = \\log S - \(f)_y$, so $\\partial L/\\partial \(f)_j = \\exp(\(f)_j)/S - \\delta_{jy} = p_j - \\delta_{jy}$ at once."))
        } else {
            let t = e.hasWeights ? "t" : "q"
            blocks.append(.paragraph("The chain rule, $\\partial L/\\partial \(f)_j = \\sum_k \\partial L/\\partial p_k \\cdot J_{kj}$, now with every $k$ where $\(t)_k \\ne 0$:"))
            blocks.append(.equation("\\partial L/\\partial \(f)_j = \\sum_k -(\(t)_k/p_k) \\cdot p_k(\\delta_{kj} - p_j) = (\\sum_k \(t)_k) p_j - \(t)_j"))
            let sumQ = r.target.reduce(0, +)
            var after = e.hasWeights
                ? "With class weights, $t = w \\odot q$ and $\\sum_k t_k = \\sum_k w_k q_k$ (here \(Self.number(r.coefficients.reduce(0, +)))): the weighted form $(\\sum_k w_k q_k) p - w \\odot q$."
                : "Where $\\sum_k q_k = 1$ (here \(Self.number(sumQ))) this is $p_j - q_j$: the gradient is the softmax minus the target distribution."
            if r.label != nil { after += " A one-hot $q$ leaves only $k = y$: $p_j - \\delta_{jy}$." }
            blocks.append(.paragraph(after))
            var columns = ["p_j", "q_j"], cells = (0..<c).map { [r.probabilities[$0], r.target[$0]] }
            if e.hasWeights {
                columns += ["w_j", "t_j"]
                for j in 0..<c { cells[j] += [e.classWeights[j], r.coefficients[j]] }
            }
            columns.append("\\partial L/\\partial \(f)_j")
            for j in 0..<c { cells[j].append(r.chainRuleGradient[j]) }
            let y = r.label
            blocks.append(.table(Table(caption: "Each $j$ with its numbers:", rowNames: (0..<c).map { $0 == y ? "j = \($0)\\ (\\text{label})" : "j = \($0)" },
                                       columnNames: columns, cells: cells, jsonField: "rows[\(r.index)].chainRuleGradient")))
            blocks.append(.paragraph("The shortcut: $L = \\sum_k \(t)_k(\\mathrm{lse} - \(f)_k)$ with $\\partial \\mathrm{lse}/\\partial \(f)_j = p_j$, so $\\partial L/\\partial \(f)_j = (\\sum_k \(t)_k) p_j - \(t)_j$ at once."))
        }
        let routes = zip(r.chainRuleGradient, r.shortcutGradient).map { abs($0 - $1) }.max() ?? 0
        blocks.append(.paragraph("Both routes give the same numbers (they differ by \(Self.number(routes)))."))
    }

    private mutating func optionsAndBatch(_ e: Explanation) {
        let n = e.rows.count, c = e.classes, o = e.options
        blocks.append(.heading(n > 1 ? "The batch and the reduction" : "The reduction and the options"))
        var words: String
        switch o.reduction {
        case .mean:
            if e.rows.allSatisfy({ $0.label != nil }) {
                words = "The loss is the mean: $\\sum_i L_i / D$ with $D = \\sum_i w_{y_i}$ over the rows that count (\(e.countedRows) of \(n)), here $D$ = \(Self.number(e.denominator))"
                words += e.hasWeights ? "." : " (without weights, the count of rows)."
            } else {
                words = "The loss is the mean over the $N = \(n)$ rows (probability targets divide by $N$ whatever the weights)."
            }
        case .sum: words = "The loss is the sum $\\sum_i L_i$; the scale is 1."
        case .none: words = "Each row keeps its own loss; the gradient is that of their sum."
        }
        words += " The gradient matrix is $G = \\mathrm{scale} \\cdot ((\\sum_k t_{ik}) P - T)$ with scale = \(Self.number(e.scale))"
        if o.zLoss > 0 {
            words += ", plus the z part's $\\mathrm{zscale} \\cdot 2\\lambda_z\\,\\mathrm{lse}_i p_{ij}$ (zscale = \(Self.number(e.zScale)): z is divided by the counted rows, not by the weights)"
        }
        if o.softcap != nil { words += ", each entry times the softcap's $\\partial f'/\\partial f = 1 - \\tanh^2(f/s)$" }
        words += "; an ignored row's is zero. Loss: \(Self.number(e.loss))"
        if o.zLoss > 0 { words += " (of which the z part \(Self.number(e.zLoss)))" }
        blocks.append(.paragraph(words + "."))
        let r = e.featuredRow
        if let z = r.zGradient {
            blocks.append(.paragraph("The z part $\\lambda_z\\,\\mathrm{lse}^2$ has $\\partial/\\partial f'_j = 2\\lambda_z\\,\\mathrm{lse} \\cdot p_j$ (row \(r.index)):"))
            blocks.append(.steps([Step(name: "", formula: "2\\lambda_z\\,\\mathrm{lse}\\,p", values: z)]))
        }
        if let factor = r.softcapFactor {
            blocks.append(.paragraph("The softcap $f' = s\\tanh(f/s)$ has $\\partial f'/\\partial f = 1 - \\tanh^2(f/s)$ (row \(r.index)), multiplying each entry of the gradient:"))
            blocks.append(.steps([Step(name: "", formula: "1 - \\tanh^2(f/s)", values: factor)]))
        }
        let rowNames = e.rows.map { row in row.ignored ? "\(row.index)\\ (\\text{ignored})" : "\(row.index)" }
        let columns = (0..<c).map { "\($0)" }
        let shape = "$\(n) \\times \(c)$"
        blocks.append(.table(Table(caption: "$P$, the softmax of each row (\(shape)):", rowNames: rowNames, columnNames: columns,
                                   cells: e.rows.map(\.probabilities), jsonField: "rows[i].probabilities")))
        let qName = e.rows.allSatisfy({ $0.label != nil }) && o.labelSmoothing == 0 ? "$Y$, the one-hot labels" : "$Q$, the target distributions"
        blocks.append(.table(Table(caption: "\(qName) (\(shape)):", rowNames: rowNames, columnNames: columns,
                                   cells: e.rows.map(\.target), jsonField: "rows[i].target")))
        if e.hasWeights {
            blocks.append(.table(Table(caption: "$T = Q \\odot w$, the coefficients (\(shape)):", rowNames: rowNames, columnNames: columns,
                                       cells: e.rows.map(\.coefficients), jsonField: "rows[i].coefficients")))
        }
        let plainG = !e.hasWeights && o.zLoss == 0 && o.softcap == nil
        let gName = plainG ? (o.reduction == .mean ? "$G = (P - Y)/D$" : "$G = P - Y$").replacingOccurrences(of: "Y", with: qName.hasPrefix("$Y") ? "Y" : "Q") : "$G$"
        blocks.append(.table(Table(caption: "\(gName), $\\partial \\mathrm{loss}/\\partial f$ (\(shape)):", rowNames: rowNames, columnNames: columns,
                                   cells: e.gradient, jsonField: "gradient")))
        blocks.append(.paragraph("The Jacobian route, scaled and carried through every option, gives $G$ to within \(Self.number(e.routeDifference)) of the float64 oracle's."))
    }

    private mutating func linearLayer(_ e: Explanation) {
        guard let x = e.x, let dW = e.weightGradient, let db = e.biasGradient else { return }
        let n = e.rows.count, d = x[0].count, c = e.classes
        blocks.append(.heading("The linear layer"))
        let y = n == 1 ? e.rows[0].label : nil
        let columns = (0..<c).map { $0 == y ? "w_{\($0)}*" : "w_{\($0)}" }
        let source = e.classifier == nil ? "(your logits are taken as $f$ at $W = 0$, $b = f$)" : "(your $W$ and $b$ gave the logits)"
        if n == 1 {
            blocks.append(.paragraph("$f = x \\cdot W + b$: $x$ has $D = \(d)$ entries, $W$ is $D \\times C$ with column $w_k$, so $f_k = x \\cdot w_k + b_k$ and $\\partial f_k/\\partial w_k = x$ \(source). By the chain rule $\\partial L/\\partial W = x \\otimes \\partial L/\\partial f$, a $D \\times C$ = $\(d) \\times \(c)$ matrix (row $d$ is $x_d$, column $k$ is $w_k$)\(e.l2 > 0 ? ", plus $\\lambda W$ from the L2 term $(\\lambda/2)\\|W\\|^2$" : ""):"))
        } else {
            blocks.append(.paragraph("$F = X W + b$ with $X$ of $N \\times D$ = $\(n) \\times \(d)$ and $W$ of $D \\times C$ \(source). Each row adds its $x_i \\otimes g_i$: $\\partial W = X^\\top G\(e.l2 > 0 ? " + \\lambda W" : "")$ ($D \\times C$ = $\(d) \\times \(c)$\(e.l2 > 0 ? ", $\\lambda$ = \(Self.number(e.l2))" : "")) and $\\partial b = \\sum_i G_i$ ($C$ = \(c)):"))
        }
        blocks.append(.table(Table(caption: "$\\partial W$:", rowNames: (0..<d).map { "x_{\($0)}" }, columnNames: columns, cells: dW, jsonField: "weightGradient")))
        if n == 1, let y, !e.rows[0].ignored, e.l2 == 0, !e.hasWeights, e.options.labelSmoothing == 0, e.options.zLoss == 0, e.options.softcap == nil {
            blocks.append(.paragraph("Column $y$ (*) is $(p_y - 1) \\cdot x$; every other column $k$ is $p_k \\cdot x$. (Here $y = \(y)$.)"))
        }
        blocks.append(.steps([Step(name: "", formula: "\\partial b = \\sum_i G_i", values: db)]))
    }

    private mutating func checks(_ e: Explanation) {
        blocks.append(.heading("Checks"))
        blocks.append(.paragraph("Central differences $(g(v + h) - g(v - h))/2h$ with a step on each input's scale, $h_j = 10^{-5} \\max(1, |f_j - m|)$ (softmax does not change when every $f$ moves together, so it is the distance from the max that matters); $a$ is the analytic value, $n$ the numeric one, and the tolerance is \(Self.number(e.tolerance)) times the largest entry checked, or 1:"))
        let g = Swift.max(1, e.gradient.flatMap { $0 }.map(abs).max() ?? 0)
        var list = [
            Check(name: "J = \\partial p/\\partial f", measure: "\\max |a - n|", difference: e.jacobianMaxDifference, bound: e.tolerance),
            Check(name: "\\partial L/\\partial p", measure: "\\max |a - n| / \\max(1, |a|)", difference: e.lossGradientWrtProbabilitiesRelativeDifference, bound: e.tolerance),
            Check(name: "\\partial \\mathrm{loss}/\\partial f", measure: "\\max |a - n|", difference: e.gradientMaxDifference, bound: e.tolerance * g),
            Check(name: "\\mathrm{route} = G", measure: "\\max |\\mathrm{route} - \\mathrm{oracle}|", difference: e.routeDifference, bound: e.tolerance * g),
        ]
        if let d = e.weightGradientMaxDifference, let dW = e.weightGradient {
            list.append(Check(name: "\\partial W", measure: "\\max |a - n|", difference: d, bound: e.tolerance * Swift.max(1, dW.flatMap { $0 }.map(abs).max() ?? 0)))
        }
        blocks.append(.checks(list))
        let unresolved = e.rows.filter { !$0.unresolvableComponents.isEmpty }
        if !unresolved.isEmpty {
            let which = unresolved.map { row in
                row.unresolvableComponents.map { e.rows.count == 1 ? "$f_{\($0)}$" : "$f_{\(row.index),\($0)}$" }.joined(separator: ", ")
            }.joined(separator: ", ")
            blocks.append(.paragraph("Not checked: \(which). Differences cannot work there: near the end of float64's range $f \\pm h$ rounds back to $f$, or the loss (\(Self.number(e.loss))) rounds by more than the change a step makes. The derivative there is still the formula above."))
        }
        if e.checksPassed {
            blocks.append(.paragraph("Every check that could be made agrees."))
        } else {
            blocks.append(.paragraph("A check FAILED: the analytic and numeric derivatives differ beyond the tolerance."))
        }
    }

    private mutating func stability(_ e: Explanation) {
        guard let row = e.rows.first(where: { r in r.logits.contains { abs($0) > 80 } || r.naiveExponentials.contains { !$0.isFinite || $0 == 0 } }) else { return }
        blocks.append(.heading("Why shift by the max"))
        let largest = row.logits.map(abs).max()!
        let naiveSum = row.naiveSum
        var words = "Naively, without the shift, $\\exp(f_k)$ of row \(row.index) is [\(row.naiveExponentials.map { Self.number($0) }.joined(separator: ", "))]: "
        words += largest > 709.78 ? "exp overflows past 709.78, and your largest $|f|$ is \(Self.number(largest))." : "your largest $|f|$, \(Self.number(largest)), is near the range's end (exp overflows past 709.78)."
        let naiveP = row.naiveProbabilities
        words += " Their sum is \(Self.number(naiveSum)), so $p = e/S$ would be [\(naiveP.map { Self.number($0) }.joined(separator: ", "))]"
        if row.label != nil { words += " and $L = -\\log p_y$ = \(Self.number(row.naiveLoss))" }
        words += ". Shifted by $m$ = \(Self.number(row.max)), every exponent is at most 0 and $S \\ge 1$, so nothing overflows"
        if let y = row.label, !row.ignored {
            words += e.loss.isFinite
                ? "; and $L = \\log S + m - f_y$ = \(Self.number(row.crossEntropy)) stays finite even where $p_y$ itself rounds to 0 (here $p_y$ = \(Self.number(row.probabilities[y])))."
                : "; but $L = \\log S + m - f_y$ with $m - f_y$ = \(Self.number(row.max - row.logits[y])) is itself beyond float64's range: the loss is that large."
        } else {
            words += "."
        }
        blocks.append(.paragraph(words))
    }
}

extension Explanation {
    var hasWeights: Bool { options.classWeights != nil }

    /// "reduction mean; label smoothing ε = 0.1; …": the options in force, in words.
    var optionsSentence: String {
        var parts = ["reduction \(options.reduction.rawValue)"]
        if options.ignoreIndex != CrossEntropyOptions.defaultIgnoreIndex || rows.contains(where: \.ignored) { parts.append("ignore index \(options.ignoreIndex)") }
        if hasWeights { parts.append("class weights $w$ = [\(classWeights.map { ExplainDocument.number($0) }.joined(separator: ", "))]") }
        if options.labelSmoothing > 0 { parts.append("label smoothing $\\varepsilon$ = \(ExplainDocument.number(Double(options.labelSmoothing)))") }
        if let s = options.softcap { parts.append("softcap $s$ = \(ExplainDocument.number(Double(s)))") }
        if options.zLoss > 0 { parts.append("z-loss $\\lambda_z$ = \(ExplainDocument.number(Double(options.zLoss)))") }
        if l2 > 0 { parts.append("L2 $\\lambda$ = \(ExplainDocument.number(l2)) on $W$") }
        return parts.joined(separator: "; ")
    }
}
