import Foundation

/// `--json` output: sorted keys, so it diffs and tests cleanly.
enum JSONOutput {
    static func string<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}

/// Numbers for people: 6 significant digits, no trailing noise.
func formatted(_ x: Double) -> String { String(format: "%.6g", x) }
func formatted(_ x: Float) -> String { formatted(Double(x)) }
func formatted(_ xs: [Double]) -> String { "[" + xs.map(formatted).joined(separator: ", ") + "]" }
