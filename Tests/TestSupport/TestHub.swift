import Foundation
import Testing

/// A fresh PostgreSQL database on the test server named by `SOFTMAXLAB_TEST_POSTGRES` (a connection
/// string to a database where the tests may create databases; `.ci/run` starts such a server with
/// `scripts/start-test-postgres.sh`). Read back with `psql`, so the tests check the hub with
/// PostgreSQL's own client, not with the code under test.
public final class TestHub: Sendable {
    public static let server = ProcessInfo.processInfo.environment["SOFTMAXLAB_TEST_POSTGRES"].flatMap { $0.isEmpty ? nil : $0 }
    /// In CI the server must be there: a missing one fails the tests instead of skipping them.
    public static let enabled = server != nil || ProcessInfo.processInfo.environment["CI"] == "true"
    public static let absent = Comment(rawValue: "SOFTMAXLAB_TEST_POSTGRES is not set, so there is no PostgreSQL server to test the hub against (start one with scripts/start-test-postgres.sh and export what it prints)")

    public let name: String
    public let url: String

    public init() throws {
        let server = try #require(Self.server, "SOFTMAXLAB_TEST_POSTGRES is not set: CI must start a PostgreSQL server (scripts/start-test-postgres.sh)")
        name = "softmaxlab_test_\(UUID().uuidString.prefix(8).lowercased())"
        url = Self.database(server, name)
        _ = try Self.psql(server, "CREATE DATABASE \(name)")
    }

    deinit {
        if let server = Self.server { _ = try? Self.psql(server, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)") }
    }

    /// `server` with its database replaced by `name`.
    static func database(_ server: String, _ name: String) -> String {
        var parts = URLComponents(string: server)!
        parts.path = "/\(name)"
        return parts.string!
    }

    /// Rows of `sql` as psql prints them unaligned (`a|b`), one string per row.
    @discardableResult
    public func psql(_ sql: String) throws -> [String] { try Self.psql(url, sql) }

    public static func psql(_ url: String, _ sql: String) throws -> [String] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/psql")
        p.arguments = [url, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql]
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw PSQLFailure(description: "psql failed on \(sql): \(errors)") }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
    }
}

public struct PSQLFailure: Error, CustomStringConvertible {
    public let description: String
}
