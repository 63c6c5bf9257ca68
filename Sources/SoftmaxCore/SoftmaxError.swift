/// Everything the library rejects, each worded as one sentence a user can act on.
///
/// `source` names where the value came from (a file name, or "logits"); `location` names the row,
/// and the command line fills in file lines where it knows them.
public enum SoftmaxError: Error, Sendable, Equatable, CustomStringConvertible {
    case labelOutOfRange(source: String, location: String, label: Int, classes: Int, ignoreIndex: Int32)
    case shapeMismatch(what: String, expected: String, got: String)
    case nonFinite(source: String, row: Int, column: Int, value: Float)
    case empty(what: String)
    case invalidOption(String)
    /// Options whose flag a command line names in its own words (`CrossEntropyOptions.validate`).
    case labelSmoothingOutOfRange(Float)
    case invalidClassWeight(index: Int, value: Float)
    case softcapOutOfRange(Float)
    case zLossOutOfRange(Float)

    public var description: String {
        switch self {
        case let .labelOutOfRange(source, location, label, classes, ignoreIndex):
            "\(source) \(location): label \(label) is outside 0..<\(classes) (and is not the ignore index \(ignoreIndex))"
        case let .shapeMismatch(what, expected, got):
            "\(what): expected \(expected), got \(got)"
        case let .nonFinite(source, row, column, value):
            "\(source) row \(row), column \(column) is \(value); inputs must be finite numbers"
        case let .empty(what):
            "\(what) is empty"
        case let .invalidOption(message):
            message
        case let .labelSmoothingOutOfRange(value):
            "label smoothing must be in [0, 1), got \(value)"
        case let .invalidClassWeight(index, value):
            "class weight \(index) is \(value); weights must be finite and non-negative"
        case let .softcapOutOfRange(value):
            "softcap must be a finite number above 0, got \(value)"
        case let .zLossOutOfRange(value):
            "z-loss must be a finite number of at least 0, got \(value)"
        }
    }
}
