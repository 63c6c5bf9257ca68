/// What each row of logits is compared with.
public enum Targets: Sendable, Equatable {
    /// One class index per row (`ignoreIndex` allowed).
    case classIndices([Int32])
    /// A row of C probabilities per row (PyTorch's "probability targets"); `ignoreIndex` does not apply.
    case probabilities(Matrix)

    public var rowCount: Int {
        switch self {
        case .classIndices(let labels): labels.count
        case .probabilities(let p): p.rows
        }
    }
}
