import Foundation
import SoftmaxCore

/// Numbers in text files: one row per line, fields separated by commas (or by spaces/tabs where a
/// line has no comma). Blank lines and lines starting with `#` are skipped; a first line whose
/// fields are all non-numeric is a header.
enum DelimitedText {
    struct Rows {
        var fields: [[Substring]]
        /// The 1-based line number of each row.
        var lines: [Int]
        var name: String
    }

    static func read(_ path: String) throws -> Rows {
        let name = (path as NSString).lastPathComponent
        return try parse(InputFile.text(path, name: name), name: name)
    }

    /// The rows of `text`, the contents of the file `name`. Lines end at \n, \r\n or \r (Swift
    /// reads "\r\n" as one Character, which is not "\n"); a byte-order mark is skipped.
    static func parse(_ text: String, name: String) throws -> Rows {
        var rows = Rows(fields: [], lines: [], name: name)
        var sawFirst = false
        for (index, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            var line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            if index == 0, line.hasPrefix("\u{FEFF}") { line.removeFirst() }
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields: [Substring] = line.contains(",")
                ? line.split(separator: ",", omittingEmptySubsequences: false).map { Substring($0.trimmingCharacters(in: .whitespaces)) }
                : line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if !sawFirst {
                sawFirst = true
                if fields.allSatisfy({ Double($0) == nil }) { continue }
            }
            rows.fields.append(fields)
            rows.lines.append(index + 1)
        }
        guard !rows.fields.isEmpty else { throw InputError("\(name) has no rows of numbers") }
        return rows
    }

    /// A float matrix; every row must have the first row's number of fields.
    static func matrix(_ rows: Rows) throws -> Matrix {
        let cols = rows.fields[0].count
        var storage: [Float] = []
        storage.reserveCapacity(rows.fields.count * cols)
        for (r, fields) in rows.fields.enumerated() {
            guard fields.count == cols else {
                throw InputError("\(rows.name) line \(rows.lines[r]): \(fields.count) fields, but line \(rows.lines[0]) has \(cols)")
            }
            for (k, field) in fields.enumerated() {
                guard let v = Float(field) else {
                    throw InputError("\(rows.name) line \(rows.lines[r]), field \(k + 1): '\(field)' is not a number")
                }
                storage.append(v)
            }
        }
        return Matrix(rows: rows.fields.count, cols: cols, storage: storage)
    }

    /// One integer label per line.
    static func labels(_ rows: Rows) throws -> [Int32] {
        try rows.fields.enumerated().map { r, fields in
            guard fields.count == 1 else {
                throw InputError("\(rows.name) line \(rows.lines[r]): expected one label per line, found \(fields.count) fields")
            }
            guard let v = Int32(fields[0]) else {
                throw InputError("\(rows.name) line \(rows.lines[r]): '\(fields[0])' is not an integer label")
            }
            return v
        }
    }
}
