import Foundation
import SoftmaxCore

/// Reads a classification data set from CSV text: one example per line, numeric features, and a
/// label column holding integer classes (0..<K) or names (mapped to classes in sorted order).
public enum CSVDataset {
    /// `labelColumn`: 0-based, negative counts from the end (−1, the default, is the last column).
    public static func load(path: String, labelColumn: Int = -1) throws -> Dataset {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DatasetError("\(path): cannot read the file (missing or not readable)")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw DatasetError("\(path) is not UTF-8 text") }
        return try parse(text, name: (path as NSString).lastPathComponent, labelColumn: labelColumn)
    }

    public static func parse(_ text: String, name: String, labelColumn: Int = -1) throws -> Dataset {
        var rows: [[Substring]] = []
        var lines: [Int] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            rows.append(line.split(separator: ",", omittingEmptySubsequences: false).map { Substring($0.trimmingCharacters(in: .whitespaces)) })
            lines.append(index + 1)
        }
        guard !rows.isEmpty else { throw DatasetError("\(name) has no rows") }
        let width = rows[0].count
        let column = labelColumn < 0 ? width + labelColumn : labelColumn
        guard width >= 2 else { throw DatasetError("\(name) line \(lines[0]): one column; need features and a label") }
        guard (0..<width).contains(column) else {
            throw DatasetError("--label-column \(labelColumn) is outside the \(width) columns of \(name)")
        }
        // A header: the first line's feature fields are not all numbers.
        let featureColumns = (0..<width).filter { $0 != column }
        var header: [Substring]?
        if featureColumns.contains(where: { Float(rows[0][$0]) == nil }) {
            header = rows.removeFirst()
            lines.removeFirst()
        }
        guard !rows.isEmpty else { throw DatasetError("\(name) has a header but no rows") }
        var storage: [Float] = []
        storage.reserveCapacity(rows.count * featureColumns.count)
        var rawLabels: [Substring] = []
        for (r, fields) in rows.enumerated() {
            guard fields.count == width else {
                throw DatasetError("\(name) line \(lines[r]): \(fields.count) fields, expected \(width)\(header == nil ? "" : " (as in the header)")")
            }
            for k in featureColumns {
                guard let v = Float(fields[k]), v.isFinite else {
                    throw DatasetError("\(name) line \(lines[r]), field \(k + 1): '\(fields[k])' is not a finite number")
                }
                storage.append(v)
            }
            rawLabels.append(fields[column])
        }
        let features = Matrix(rows: rows.count, cols: featureColumns.count, storage: storage)
        if rawLabels.allSatisfy({ Int32($0) != nil }) {
            let labels = rawLabels.map { Int32($0)! }
            if let r = labels.firstIndex(where: { $0 < 0 }) {
                throw DatasetError("\(name) line \(lines[r]): label \(labels[r]) is negative; classes are 0, 1, 2, …")
            }
            return Dataset(name: name, features: features, labels: labels, classes: Int(labels.max()!) + 1)
        }
        let names = Array(Set(rawLabels.map(String.init))).sorted()
        let index = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, Int32($0)) })
        return Dataset(name: name, features: features, labels: rawLabels.map { index[String($0)]! }, classes: names.count, classNames: names)
    }
}
