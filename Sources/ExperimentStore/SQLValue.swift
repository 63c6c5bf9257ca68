import GRDB

/// One value as both of the store's engines give it (SQLite through GRDB, PostgreSQL through libpq),
/// so a run's content can be compared across them.
public enum SQLValue: Sendable, Hashable {
    case null
    case int(Int64)
    case double(Double)
    case string(String)

    init(_ value: DatabaseValue) {
        switch value.storage {
        case .null: self = .null
        case .int64(let i): self = .int(i)
        case .double(let d): self = .double(d)
        case .string(let s): self = .string(s)
        case .blob(let b): self = .string(String(decoding: b, as: UTF8.self))
        }
    }

    var integer: Int64? {
        switch self {
        case .int(let i): i
        case .double(let d): Int64(exactly: d)
        case .string(let s): Int64(s)
        case .null: nil
        }
    }

    var real: Double? {
        switch self {
        case .int(let i): Double(i)
        case .double(let d): d
        case .string(let s): Double(s)
        case .null: nil
        }
    }

    var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The value written out (`null` for NULL).
    var text: String {
        switch self {
        case .null: "null"
        case .int(let i): "\(i)"
        case .double(let d): "\(d)"
        case .string(let s): s
        }
    }
}

extension SQLValue {
    /// The value for a GRDB statement argument.
    var databaseValue: DatabaseValue {
        switch self {
        case .null: .null
        case .int(let i): i.databaseValue
        case .double(let d): d.databaseValue
        case .string(let s): s.databaseValue
        }
    }

    /// The value as a libpq text parameter (`nil` is NULL). Swift writes doubles in the shortest
    /// form that reads back to the same bits, so PostgreSQL stores exactly SQLite's value.
    var parameter: String? {
        switch self {
        case .null: nil
        case .int(let i): "\(i)"
        case .double(let d): d.isFinite ? "\(d)" : (d.isNaN ? "NaN" : (d > 0 ? "Infinity" : "-Infinity"))
        case .string(let s): s
        }
    }
}
