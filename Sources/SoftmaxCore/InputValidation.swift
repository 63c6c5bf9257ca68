/// Checks shared by every backend and the command line, so each rejects bad input with the same words.
public enum InputValidation {
    /// The first non-finite value of a matrix, as (row, column, value), or nil.
    public static func firstNonFinite(_ m: Matrix) -> (row: Int, column: Int, value: Float)? {
        guard let i = m.storage.firstIndex(where: { !$0.isFinite }) else { return nil }
        return (i / m.cols, i % m.cols, m.storage[i])
    }

    public static func requireFinite(_ m: Matrix, source: String) throws(SoftmaxError) {
        if let bad = firstNonFinite(m) {
            throw .nonFinite(source: source, row: bad.row, column: bad.column, value: bad.value)
        }
    }

    /// Logits and targets agree in shape; labels are in range or the ignore index; options fit C.
    /// `rowName` turns a row index into the words that locate it ("row 3", "line 4").
    public static func validate(
        logits: Shape,
        targets: Targets,
        options: CrossEntropyOptions,
        labelSource: String = "labels",
        rowName: (Int) -> String = { "row \($0)" }
    ) throws(SoftmaxError) {
        guard logits.rows > 0, logits.cols > 0 else { throw .empty(what: "logits (\(logits))") }
        try options.validate(classes: logits.cols)
        switch targets {
        case .classIndices(let labels):
            guard labels.count == logits.rows else {
                throw .shapeMismatch(what: labelSource, expected: "\(logits.rows) labels (one per logits row)", got: "\(labels.count)")
            }
            try requireLabelsInRange(labels, classes: logits.cols, ignoreIndex: options.ignoreIndex,
                                     source: labelSource, rowName: rowName)
        case .probabilities(let p):
            guard p.rows == logits.rows, p.cols == logits.cols else {
                throw .shapeMismatch(what: "probability targets", expected: "\(logits) (the logits' shape)", got: "\(p.shape)")
            }
            try requireFinite(p, source: "probability targets")
        }
    }

    public static func requireLabelsInRange(
        _ labels: [Int32], classes: Int, ignoreIndex: Int32,
        source: String = "labels", rowName: (Int) -> String = { "row \($0)" }
    ) throws(SoftmaxError) {
        for (i, y) in labels.enumerated() where y != ignoreIndex && (y < 0 || Int(y) >= classes) {
            throw .labelOutOfRange(source: source, location: rowName(i), label: Int(y), classes: classes, ignoreIndex: ignoreIndex)
        }
    }
}
