import CLibPQ
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One libpq connection to the hub: statements with text parameters, rows as `SQLValue`s (typed by
/// the column's PostgreSQL type), `COPY … FROM STDIN` and `COPY … TO STDOUT`. Every failure is a
/// `StoreError` sentence that names the hub (without its password) and what the server said.
final class PostgresConnection {
    let api: LibPQ
    let address: HubAddress
    private let handle: OpaquePointer

    init(_ address: HubAddress) throws {
        api = try LibPQ.shared()
        self.address = address
        guard let conn = api.connectdb(address.connectionString) else {
            throw StoreError("cannot connect to \(address): libpq could not allocate a connection")
        }
        // Checked before `handle` is set: a throwing init whose properties are all set runs deinit,
        // which would finish the connection a second time.
        guard api.status(conn) == CONNECTION_OK else {
            let reason = Self.firstLine(Self.text(api.errorMessage(conn)))
            api.finish(conn)
            throw StoreError("cannot connect to \(address): \(reason)")
        }
        handle = conn
        // The server's notices ("already exists, skipping") are not the user's business.
        try execute("SET client_min_messages = warning")
    }

    deinit { api.finish(handle) }

    /// Runs `sql` (with `$1`, `$2`, … bound to `parameters` as text; `nil` is NULL) and returns its
    /// rows. Without parameters `sql` may hold several statements.
    @discardableResult
    func execute(_ sql: String, _ parameters: [String?] = []) throws -> [[SQLValue]] {
        let result = try run(sql, parameters)
        defer { api.clear(result) }
        return rows(result)
    }

    /// `COPY table (…) FROM STDIN` with the text rows `body` hands to its argument (each ending in a
    /// newline, in COPY's text format).
    func copyIn(_ sql: String, _ body: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        let start = try run(sql, [], expecting: PGRES_COPY_IN)
        api.clear(start)
        do {
            try body { bytes in
                guard bytes.count > 0 else { return }
                let sent = bytes.withMemoryRebound(to: CChar.self) { api.putCopyData(handle, $0.baseAddress, Int32($0.count)) }
                if sent != 1 { throw StoreError("sending rows to \(address) failed: \(Self.firstLine(Self.text(api.errorMessage(handle))))") }
            }
        } catch {
            _ = api.putCopyEnd(handle, "softmax-lab stopped sending")
            drainResults()
            throw error
        }
        guard api.putCopyEnd(handle, nil) == 1 else {
            throw StoreError("ending the copy to \(address) failed: \(Self.firstLine(Self.text(api.errorMessage(handle))))")
        }
        try finishCopy()
    }

    /// `COPY (…) TO STDOUT`: `line` gets each row's bytes in COPY's text format, newline included.
    func copyOut(_ sql: String, _ line: (UnsafeRawBufferPointer) throws -> Void) throws {
        let start = try run(sql, [], expecting: PGRES_COPY_OUT)
        api.clear(start)
        var failure: Error?
        while true {
            var buffer: UnsafeMutablePointer<CChar>?
            let n = api.getCopyData(handle, &buffer, 0)
            if n < 0 { break }
            if let buffer {
                if failure == nil {
                    do { try line(UnsafeRawBufferPointer(start: buffer, count: Int(n))) } catch { failure = error }
                }
                api.freemem(buffer)
            }
        }
        try finishCopy()
        if let failure { throw failure }
    }

    private func finishCopy() throws {
        var message: String?
        while let result = api.getResult(handle) {
            if api.resultStatus(result) != PGRES_COMMAND_OK, message == nil {
                message = Self.firstLine(Self.text(api.resultErrorMessage(result)))
            }
            api.clear(result)
        }
        if let message { throw StoreError("\(address): \(message)") }
    }

    private func drainResults() {
        while let result = api.getResult(handle) { api.clear(result) }
    }

    private func run(_ sql: String, _ parameters: [String?], expecting expected: ExecStatusType? = nil) throws -> OpaquePointer {
        let result: OpaquePointer?
        if parameters.isEmpty {
            result = api.exec(handle, sql)
        } else {
            let copies = parameters.map { $0.map { strdup($0) } ?? nil }
            defer { copies.forEach { free($0) } }
            let values = copies.map { UnsafePointer<CChar>($0) }
            result = values.withUnsafeBufferPointer { api.execParams(handle, sql, Int32(values.count), nil, $0.baseAddress, nil, nil, 0) }
        }
        guard let result else {
            throw StoreError("\(address): \(Self.firstLine(Self.text(api.errorMessage(handle))))")
        }
        let status = api.resultStatus(result)
        let ok = expected.map { status == $0 } ?? (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)
        guard ok else {
            let message = Self.firstLine(Self.text(api.resultErrorMessage(result)))
            api.clear(result)
            throw StoreError("\(address): \(message.isEmpty ? "the server ended the connection" : message)")
        }
        return result
    }

    private func rows(_ result: OpaquePointer) -> [[SQLValue]] {
        let n = Int(api.ntuples(result)), m = Int(api.nfields(result))
        let types = (0..<m).map { api.ftype(result, Int32($0)) }
        return (0..<n).map { i in
            (0..<m).map { j in
                if api.getisnull(result, Int32(i), Int32(j)) == 1 { return .null }
                let text = Self.text(api.getvalue(result, Int32(i), Int32(j)))
                switch types[j] {
                case 20, 21, 23: return Int64(text).map(SQLValue.int) ?? .string(text)     // int8, int2, int4
                case 700, 701: return Double(Self.swiftFloat(text)).map(SQLValue.double) ?? .string(text)  // float4, float8
                case 1700: return Int64(text).map(SQLValue.int) ?? Double(text).map(SQLValue.double) ?? .string(text)  // numeric
                case 16: return .int(text == "t" ? 1 : 0)                                 // bool
                default: return .string(text)
                }
            }
        }
    }

    /// PostgreSQL writes infinities as `Infinity`, Swift reads `inf`.
    static func swiftFloat(_ text: String) -> String {
        switch text {
        case "Infinity": "inf"
        case "-Infinity": "-inf"
        default: text
        }
    }

    private static func text(_ pointer: UnsafeMutablePointer<CChar>?) -> String {
        pointer.map { String(cString: $0) } ?? ""
    }

    private static func firstLine(_ message: String) -> String {
        let line = message.split(whereSeparator: \.isNewline).first.map(String.init) ?? message
        let text = line.hasPrefix("ERROR:  ") ? String(line.dropFirst(8)) : line.trimmingCharacters(in: .whitespaces)
        return text.replacingOccurrences(of: ":  ", with: ": ")
    }
}
