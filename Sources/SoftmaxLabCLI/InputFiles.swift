import Foundation
import SoftmaxCore

/// Loads the command line's input files (`.npy`, or text/CSV), and says where a value came from as
/// its reader would: "row 3, column 0" (0-based) in a `.npy` file, "line 5, field 1" in a text file.
struct LoadedMatrix {
    var matrix: Matrix
    var name: String
    var locate: (Int) -> String
    var isText: Bool
    /// How the file stored the values: `.f16` or `.bf16` for a 16-bit `.npy`, else `.f32`.
    var storage: ElementType = .f32

    func position(row: Int, column: Int) -> String {
        isText ? "\(locate(row)), field \(column + 1)" : "\(locate(row)), column \(column)"
    }
}

struct LoadedLabels {
    var labels: [Int32]
    var name: String
    var locate: (Int) -> String
}

enum InputFiles {
    static func isNumpy(_ path: String) -> Bool { path.lowercased().hasSuffix(".npy") }

    static func matrix(_ path: String, what: String) throws -> LoadedMatrix {
        let loaded: LoadedMatrix
        if isNumpy(path) {
            let file = try NumpyFile.read(path)
            loaded = LoadedMatrix(matrix: try file.matrix(what: what), name: file.name, locate: { "row \($0)" }, isText: false,
                                  storage: file.storage)
        } else {
            let rows = try DelimitedText.read(path)
            loaded = LoadedMatrix(matrix: try DelimitedText.matrix(rows), name: rows.name, locate: { "line \(rows.lines[$0])" }, isText: true)
        }
        guard loaded.matrix.rows > 0, loaded.matrix.cols > 0 else {
            throw InputError("\(loaded.name): \(what) is empty (shape \(loaded.matrix.shape))")
        }
        if let bad = InputValidation.firstNonFinite(loaded.matrix) {
            throw InputError("\(loaded.name) \(loaded.position(row: bad.row, column: bad.column)): \(what) value \(bad.value); inputs must be finite numbers")
        }
        return loaded
    }

    static func labels(_ path: String) throws -> LoadedLabels {
        if isNumpy(path) {
            let file = try NumpyFile.read(path)
            let values = try file.vector(what: "labels")
            let labels = try values.enumerated().map { i, v in
                guard v.rounded() == v, let y = Int32(exactly: v) else {
                    throw InputError("\(file.name) row \(i): \(v) is not an integer label")
                }
                return y
            }
            return LoadedLabels(labels: labels, name: file.name) { "row \($0)" }
        }
        let rows = try DelimitedText.read(path)
        return LoadedLabels(labels: try DelimitedText.labels(rows), name: rows.name) { "line \(rows.lines[$0])" }
    }

    /// Numbers given inline ("1,2,0.5") or in a file (`.npy`, or text with one or more per line).
    static func vector(_ spec: String, what: String) throws -> [Float] {
        if !FileManager.default.fileExists(atPath: spec) {
            let parts = spec.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count > 1 || Float(parts[0]) != nil else {
                throw InputError("\(what) '\(spec)' is neither a file nor a comma-separated list of numbers")
            }
            return try parts.enumerated().map { i, part in
                guard !part.isEmpty else { throw InputError("\(what) entry \(i) is empty (entries count from 0)") }
                guard let v = Float(part) else { throw InputError("\(what) entry \(i) ('\(part)') is not a number (entries count from 0)") }
                return v
            }
        }
        if isNumpy(spec) { return try NumpyFile.read(spec).vector(what: what).map { Float($0) } }
        let rows = try DelimitedText.read(spec)
        var values: [Float] = []
        for (r, fields) in rows.fields.enumerated() {
            for field in fields {
                guard let v = Float(field) else {
                    throw InputError("\(rows.name) line \(rows.lines[r]): '\(field)' is not a number")
                }
                values.append(v)
            }
        }
        return values
    }
}
