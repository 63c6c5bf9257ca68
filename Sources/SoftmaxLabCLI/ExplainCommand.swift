import ArgumentParser
import Foundation
import SoftmaxCore
import SoftmaxReference

/// `softmax-lab explain`: the derivative of softmax cross-entropy, worked through with the user's
/// numbers (one row or a batch, every option of `loss`) and confirmed by finite differences.
struct ExplainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Show the loss and its gradient step by step, checked by finite differences.")

    @Option(help: "The scores f (logits): one row, comma-separated (2.0,1.0,0.1); several rows separated by ';' (2,1,0.1;0,1,3); or a file (.npy or text/CSV, read as float32).")
    var logits: String?

    @Option(help: "The true class y of a single row, 0-based.")
    var label: Int?

    @Option(help: "One class label per row, comma-separated (0,2) or a file, for several rows.")
    var labels: String?

    @Option(help: "Probability targets instead of labels: rows like --logits (0.7,0.2,0.1;…) or a file.")
    var targets: String?

    @Option(help: "Input features x: one row per logits row, like --logits; then ∂W and ∂b are shown.")
    var x: String?

    @Option(help: "The classifier W (D rows of C, like --logits): with --x, the logits are x·W + b instead of --logits.")
    var classifier: String?

    @Option(help: "The bias b (C values, or a file) for --classifier; zero if not given.")
    var bias: String?

    @Option(help: "L2 strength λ on W, with --classifier: the objective adds (λ/2)‖W‖², ∂W adds λW.")
    var l2: Double = 0

    @OptionGroup var loss: LossOptions

    @Option(help: "How close each finite-difference check must come, relative to the largest entry checked (or 1).")
    var tolerance: Double = Explanation.defaultTolerance

    @Option(help: "text (80 columns), markdown (LaTeX math), latex (a document pdflatex compiles) or html (a self-contained page with charts).")
    var format: ExplainFormat = .text

    @Option(help: "Write the explanation to this file instead of standard output.")
    var output: String?

    @Flag(help: "Print every number as JSON instead (the Jacobian of row i as rows[i].jacobian).")
    var json = false

    func validate() throws {
        guard (logits == nil) != (classifier == nil) else {
            throw ValidationError("give exactly one of --logits and --classifier (with --x, the logits are x·W + b)")
        }
        if classifier != nil && x == nil { throw ValidationError("--classifier needs --x (the logits are x·W + b)") }
        if bias != nil && classifier == nil { throw ValidationError("--bias is for --classifier; with --logits the bias is already in them") }
        guard [label != nil, labels != nil, targets != nil].filter({ $0 }).count == 1 else {
            throw ValidationError("give exactly one of --label (one row), --labels (one per row) and --targets (probabilities)")
        }
        guard l2.isFinite, l2 >= 0 else { throw ValidationError("--l2 must be a finite number ≥ 0, got \(l2)") }
        if l2 > 0 && classifier == nil { throw ValidationError("--l2 needs --classifier: λW is zero without a W") }
        guard tolerance.isFinite, tolerance > 0 else { throw ValidationError("--tolerance must be a positive number, got \(tolerance)") }
        if json && format != .text { throw ValidationError("give --json or --format, not both") }
    }

    func run() throws {
        let outputFile = try output.map { try OutputFile($0, flag: "--output") }
        let features = try x.map { try Self.rows($0, flag: "--x") }
        var scores: [[Double]]
        var weights: [[Double]]? = nil, b: [Double]? = nil
        if let classifier {
            let w = try Self.rows(classifier, flag: "--classifier")
            let x = features!
            guard x[0].count == w.count else {
                throw InputError("--x has \(x[0].count) features per row but --classifier has \(w.count) rows; W is D×C with D = the features")
            }
            let c = w[0].count
            let bias = try self.bias.map { try InputFiles.vector($0, what: "--bias").map(Double.init) } ?? Array(repeating: 0, count: c)
            guard bias.count == c else { throw InputError("--bias has \(bias.count) values but --classifier has \(c) columns (classes)") }
            scores = ReferenceLinear.scores(x: DoubleMatrix(rows: x.count, cols: w.count, storage: x.flatMap { $0 }),
                                            weights: DoubleMatrix(rows: w.count, cols: c, storage: w.flatMap { $0 }), bias: bias)
                .rows(x.count, c)
            weights = w
            b = bias
        } else {
            scores = try Self.rows(logits!, flag: "--logits")
        }
        let n = scores.count, c = scores[0].count
        if let features, features.count != n {
            throw InputError("--x has \(features.count) rows but the logits have \(n); give one row of features per row of logits")
        }
        let options = try loss.options(classes: c)
        let target = try targets(rows: n, classes: c, options: options)
        let e = Explanation.make(logits: scores, targets: target, options: options, x: features, classifier: weights, bias: b, l2: l2,
                                 tolerance: tolerance)
        let text = json ? try JSONOutput.string(e) : format.render(ExplainDocument(e))
        if let outputFile {
            try outputFile.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
            Console.current.note("explanation (\(json ? "json" : format.rawValue)) written to \(output!)")
        } else {
            Console.current.line(text.hasSuffix("\n") ? String(text.dropLast()) : text)
        }
        if !e.checksPassed {
            Console.current.note("explain: a finite-difference check FAILED (beyond --tolerance \(tolerance))")
            throw ExitCode.failure
        }
    }

    /// The labels or probability targets, checked against the logits' shape.
    private func targets(rows n: Int, classes c: Int, options: CrossEntropyOptions) throws -> Targets {
        if let label {
            guard n == 1 else { throw InputError("--label gives one row's class but the logits have \(n) rows; give --labels with one per row") }
            guard (0..<c).contains(label) || label == Int(options.ignoreIndex) else {
                throw InputError("--label \(label) is outside 0..<\(c) (there are \(c) logits)")
            }
            return .classIndices([Int32(label)])
        }
        if let labels {
            let values: [Int32]
            if FileManager.default.fileExists(atPath: labels) {
                values = try InputFiles.labels(labels).labels
            } else {
                values = try Self.numbers(labels, flag: "--labels").enumerated().map { i, v in
                    guard v.rounded() == v, let y = Int32(exactly: v) else { throw InputError("--labels entry \(i) (\(v)) is not an integer class (entries count from 0)") }
                    return y
                }
            }
            guard values.count == n else { throw InputError("--labels has \(values.count) entries but the logits have \(n) rows") }
            if let i = values.firstIndex(where: { !(0..<Int32(c)).contains($0) && $0 != options.ignoreIndex }) {
                throw InputError("--labels entry \(i) is \(values[i]), outside 0..<\(c) and not the ignore index \(options.ignoreIndex) (entries count from 0)")
            }
            return .classIndices(values)
        }
        let q = try Self.rows(targets!, flag: "--targets")
        guard q.count == n, q[0].count == c else {
            throw InputError("--targets is \(q.count)×\(q[0].count) but the logits are \(n)×\(c); probability targets must match them")
        }
        return .probabilities(Matrix(rows: n, cols: c, storage: q.flatMap { $0.map(Float.init) }))
    }

    /// Rows of numbers: "1,2;3,4" inline, or a file (`.npy`, or text/CSV with one row per line).
    static func rows(_ spec: String, flag: String) throws -> [[Double]] {
        if FileManager.default.fileExists(atPath: spec) {
            let m = try InputFiles.matrix(spec, what: flag).matrix
            return (0..<m.rows).map { i in (0..<m.cols).map { Double(m[i, $0]) } }
        }
        let parts = spec.split(separator: ";", omittingEmptySubsequences: false)
        if parts.count == 1 { return [try numbers(spec, flag: flag)] }
        let rows = try parts.enumerated().map { i, part in try numbers(String(part), flag: "\(flag) row \(i)") }
        if let i = rows.firstIndex(where: { $0.count != rows[0].count }) {
            throw InputError("\(flag) row \(i) has \(rows[i].count) entries but row 0 has \(rows[0].count) (rows count from 0)")
        }
        return rows
    }

    static func numbers(_ text: String, flag: String) throws -> [Double] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts != [""] else { throw InputError("\(flag) is empty; give comma-separated numbers like 2.0,1.0,0.1") }
        return try parts.enumerated().map { i, part in
            guard !part.isEmpty else { throw InputError("\(flag) entry \(i) is empty (entries count from 0)") }
            guard let v = Double(part), v.isFinite else {
                throw InputError("\(flag) entry \(i) ('\(part)') is not a finite number (entries count from 0)")
            }
            return v
        }
    }
}

/// The formats `explain` writes.
enum ExplainFormat: String, ExpressibleByArgument, CaseIterable {
    case text, markdown, latex, html

    func render(_ document: ExplainDocument) -> String {
        switch self {
        case .text: ExplainText.render(document)
        case .markdown: ExplainMarkdown.render(document)
        case .latex: ExplainLatex.render(document)
        case .html: ExplainHTML.render(document)
        }
    }
}

extension DoubleMatrix {
    /// The rows as arrays.
    fileprivate func rows(_ n: Int, _ c: Int) -> [[Double]] { (0..<n).map { i in (0..<c).map { self[i, $0] } } }
}
