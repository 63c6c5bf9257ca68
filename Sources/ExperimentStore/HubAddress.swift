import Foundation

/// Where the shared PostgreSQL store is: a libpq connection string (`postgres://user@host:port/db`
/// or `host=… dbname=…`), from the flag, else `$SOFTMAXLAB_HUB`, else libpq's own environment
/// (`PGHOST`, `PGPORT`, `PGDATABASE`, `PGUSER`, `PGPASSWORD`, `PGSSLMODE`, …), which an empty
/// string leaves libpq to read. TLS follows libpq's `sslmode` (by default `prefer`: encrypted when
/// the server offers it).
public struct HubAddress: Sendable, CustomStringConvertible {
    public let connectionString: String

    public init(_ flag: String?, environment: [String: String] = ProcessInfo.processInfo.environment) {
        connectionString = flag ?? environment["SOFTMAXLAB_HUB"].flatMap { $0.isEmpty ? nil : $0 } ?? ""
    }

    /// The address as it may be printed: never with its password.
    public var description: String {
        guard !connectionString.isEmpty else { return "the PostgreSQL server of $PGHOST/$PGDATABASE" }
        return Self.redacted(connectionString)
    }

    /// `connection` without a password: `user:secret@` in a URI becomes `user@`, `password=…` in a
    /// URI's query or in key=value form is dropped.
    static func redacted(_ connection: String) -> String {
        var text = connection
        if let scheme = text.range(of: "://") {
            let rest = text[scheme.upperBound...]
            let authorityEnd = rest.firstIndex { "/?".contains($0) } ?? rest.endIndex
            if let at = rest[..<authorityEnd].lastIndex(of: "@"),
               let colon = rest[..<at].firstIndex(of: ":") {
                text.removeSubrange(colon..<at)
            }
        }
        let pattern = #"(^|[\s?&])password\s*=\s*('([^'\\]|\\.)*'|[^\s&]*)"#
        return text.replacingOccurrences(of: pattern, with: "$1password=…", options: .regularExpression)
    }
}
