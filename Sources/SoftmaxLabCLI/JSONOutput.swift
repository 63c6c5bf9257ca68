import Foundation

/// `--json` output: sorted keys, so it diffs and tests cleanly. NaN and ±infinity, which JSON has
/// no numbers for, are `null`, as the store keeps them.
enum JSONOutput {
    /// What the encoder writes for a non-finite number, replaced by `null` afterwards: a string no
    /// real value can produce (the encoder escapes control characters in strings).
    private static let marker = "\u{1}nonfinite"

    static func string<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: marker, negativeInfinity: marker, nan: marker)
        return String(decoding: try encoder.encode(value), as: UTF8.self)
            .replacingOccurrences(of: "\"\\u0001nonfinite\"", with: "null")
    }
}

/// Numbers for people: 6 significant digits, no trailing noise.
func formatted(_ x: Double) -> String { String(format: "%.6g", x) }
func formatted(_ x: Float) -> String { formatted(Double(x)) }
func formatted(_ xs: [Double]) -> String { "[" + xs.map(formatted).joined(separator: ", ") + "]" }
