import Foundation
import SoftmaxCore

/// Reads a classification data set from CSV text: one example per line, numeric features, and a
/// label column holding integer classes (0..<K) or names (numbered in sorted order).
///
/// What it infers (a header line, how the labels read) it reports in `Reading`, and what it cannot
/// decide it refuses with the flag that decides it: a first line that may be a header, fractional
/// labels, integer labels that skip classes (0/100/200 would be 201 classes, 198 of them empty).
public enum CSVDataset {
    public enum Header: String, Codable, Sendable, CaseIterable { case auto, yes, no }
    public enum LabelKind: String, Codable, Sendable, CaseIterable {
        case auto
        /// Integers, used as class numbers: K = largest + 1.
        case index
        /// Each distinct value is a class, numbered in sorted order (numerically for numbers).
        case names
    }

    /// What was read, for the user to check.
    public struct Reading: Sendable, Equatable {
        public var headerLine: Int?
        public var labelColumn: Int
        public var labelColumnName: String?
        public var labels: LabelKind

        public func describe(_ data: Dataset) -> String {
            var parts = [headerLine.map { "header on line \($0)" } ?? "no header line"]
            parts.append("label column \(labelColumn)\(labelColumnName.map { " ('\($0)')" } ?? "")")
            if labels == .names, let names = data.classNames {
                let shown = names.prefix(6).joined(separator: ", ") + (names.count > 6 ? ", …" : "")
                parts.append("\(names.count) class names (\(shown)) numbered in sorted order")
            } else {
                parts.append("integer classes 0…\(data.classes - 1)")
            }
            return "\(data.name): " + parts.joined(separator: "; ")
        }
    }

    /// `labelColumn`: 0-based, negative counts from the end (−1, the default, is the last column).
    public static func load(path: String, labelColumn: Int = -1, header: Header = .auto, labels: LabelKind = .auto) throws -> (Dataset, Reading) {
        let name = (path as NSString).lastPathComponent
        return try parse(InputFile.text(path, name: path), name: name, labelColumn: labelColumn, header: header, labels: labels)
    }

    public static func parse(_ text: String, name: String, labelColumn: Int = -1, header: Header = .auto,
                             labels labelKind: LabelKind = .auto) throws -> (Dataset, Reading) {
        var rows: [[Substring]] = []
        var lines: [Int] = []
        // Lines end at \n, \r\n or \r (a Character "\r\n" is not "\n").
        for (index, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            var line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if index == 0, line.hasPrefix("\u{FEFF}") { line.removeFirst() }
            if line.isEmpty || line.hasPrefix("#") { continue }
            rows.append(line.split(separator: ",", omittingEmptySubsequences: false).map { Substring($0.trimmingCharacters(in: .whitespaces)) })
            lines.append(index + 1)
        }
        guard !rows.isEmpty else { throw InputError("\(name) has no rows") }
        let width = rows[0].count
        let column = labelColumn < 0 ? width + labelColumn : labelColumn
        guard width >= 2 else { throw InputError("\(name) line \(lines[0]): one column; need features and a label") }
        guard (0..<width).contains(column) else {
            throw InputError("--label-column \(labelColumn) is outside the \(width) columns of \(name)")
        }
        let featureColumns = (0..<width).filter { $0 != column }
        // A header: the first line's feature fields are not all numbers (or --header says so).
        let firstIsText = featureColumns.contains { Float(rows[0][$0]) == nil }
        var headerFields: [Substring]?
        var headerLine: Int?
        if header == .yes || (header == .auto && firstIsText) {
            headerFields = rows.removeFirst()
            headerLine = lines.removeFirst()
        }
        guard !rows.isEmpty else { throw InputError("\(name) has a header but no rows") }
        let rawLabels = rows.map { $0.count == width ? $0[column] : "" }
        if header == .auto, headerLine == nil, rows.count > 2 {
            // A numeric first line whose label occurs nowhere else, while every other label occurs
            // more than once, reads like column names ("0,1,2,3") as much as like data.
            var counts: [Substring: Int] = [:]
            for l in rawLabels { counts[l, default: 0] += 1 }
            if counts[rawLabels[0]] == 1, rawLabels.dropFirst().allSatisfy({ counts[$0]! > 1 }) {
                throw InputError("\(name) line \(lines[0]) may be a header: its label '\(rawLabels[0])' occurs on no other line; pass --header yes to skip it or --header no to train on it")
            }
        }
        var storage: [Float] = []
        storage.reserveCapacity(rows.count * featureColumns.count)
        for (r, fields) in rows.enumerated() {
            guard fields.count == width else {
                throw InputError("\(name) line \(lines[r]): \(fields.count) fields, expected \(width)\(headerFields == nil ? "" : " (as in the header)")")
            }
            for k in featureColumns {
                guard let v = Float(fields[k]), v.isFinite else {
                    throw InputError("\(name) line \(lines[r]), field \(k + 1): '\(fields[k])' is not a finite number")
                }
                storage.append(v)
            }
        }
        let features = Matrix(rows: rows.count, cols: featureColumns.count, storage: storage)
        let kind = try labelKind == .auto ? inferKind(rawLabels, name: name, lines: lines) : labelKind
        let reading = Reading(headerLine: headerLine, labelColumn: column, labelColumnName: headerFields.map { String($0[column]) }, labels: kind)
        if kind == .index {
            var labels: [Int32] = []
            labels.reserveCapacity(rawLabels.count)
            for (r, text) in rawLabels.enumerated() {
                guard let y = integer(text) else {
                    throw InputError("\(name) line \(lines[r]): label '\(text)' is not an integer class; pass --label-kind names to treat labels as names")
                }
                guard y >= 0 else { throw InputError("\(name) line \(lines[r]): label \(y) is negative; classes are 0, 1, 2, …") }
                labels.append(y)
            }
            let classes = Int(labels.max()!) + 1
            try MemoryBudget.require("\(name): \(classes) classes of \(featureColumns.count) features", shape: [featureColumns.count + 1, classes], copies: 4)
            return (Dataset(name: name, features: features, labels: labels, classes: classes), reading)
        }
        let distinct = Set(rawLabels)
        let names = distinct.sorted { a, b in
            if let x = Double(a), let y = Double(b) { return x < y }
            return a < b
        }.map(String.init)
        let index = Dictionary(uniqueKeysWithValues: names.enumerated().map { (Substring($1), Int32($0)) })
        return (Dataset(name: name, features: features, labels: rawLabels.map { index[$0]! }, classes: names.count, classNames: names), reading)
    }

    /// An integer label, also written as a float without a fraction ("2.0", as pandas writes them).
    static func integer(_ text: Substring) -> Int32? {
        if let y = Int32(text) { return y }
        guard let d = Double(text), d.rounded() == d, let y = Int32(exactly: d) else { return nil }
        return y
    }

    /// Integers that name every class from 0 to the largest read as class numbers; names read as
    /// names; fractions and integers that skip classes are refused, with the flag that decides.
    static func inferKind(_ labels: [Substring], name: String, lines: [Int]) throws -> LabelKind {
        let numbers = labels.map { Double($0) }
        if numbers.contains(where: { $0 == nil }) { return .names }
        if let r = labels.indices.first(where: { integer(labels[$0]) == nil }) {
            throw InputError("\(name) line \(lines[r]): label '\(labels[r])' is not an integer; pass --label-kind names to treat each distinct value as a class")
        }
        let values = labels.map { integer($0)! }
        if let r = values.firstIndex(where: { $0 < 0 }) {
            throw InputError("\(name) line \(lines[r]): label \(values[r]) is negative; classes are 0, 1, 2, …")
        }
        let present = Set(values)
        let classes = Int(values.max()!) + 1
        if present.count < classes {
            let shown = present.sorted().prefix(6).map(String.init).joined(separator: ", ") + (present.count > 6 ? ", …" : "")
            throw InputError("\(name): the labels are integers up to \(classes - 1) but only \(present.count) of those \(classes) classes occur (\(shown)); pass --label-kind names to number the \(present.count) values 0…\(present.count - 1), or --label-kind index to keep \(classes) classes")
        }
        return .index
    }
}
