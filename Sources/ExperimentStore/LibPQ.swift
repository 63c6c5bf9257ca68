import CLibPQ
#if canImport(Glibc)
import Glibc
#endif

/// libpq's entry points, loaded from `libpq.so.5` at run time (as the OpenCL loader is), so only
/// `runs push` and `runs pull` need PostgreSQL's client library on the machine.
final class LibPQ: @unchecked Sendable {
    static let defaultLibrary = "libpq.so.5"

    let connectdb: PFN_PQconnectdb
    let status: PFN_PQstatus
    let errorMessage: PFN_PQerrorMessage
    let finish: PFN_PQfinish
    let exec: PFN_PQexec
    let execParams: PFN_PQexecParams
    let resultStatus: PFN_PQresultStatus
    let resultErrorMessage: PFN_PQresultErrorMessage
    let ntuples: PFN_PQntuples
    let nfields: PFN_PQnfields
    let ftype: PFN_PQftype
    let getisnull: PFN_PQgetisnull
    let getvalue: PFN_PQgetvalue
    let clear: PFN_PQclear
    let putCopyData: PFN_PQputCopyData
    let putCopyEnd: PFN_PQputCopyEnd
    let getCopyData: PFN_PQgetCopyData
    let getResult: PFN_PQgetResult
    let freemem: PFN_PQfreemem

    /// The library, loaded once per process.
    static func shared() throws -> LibPQ {
        try loaded.get()
    }
    private static let loaded = Result { try LibPQ(library: defaultLibrary) }

    private init(library: String) throws {
        guard let handle = dlopen(library, RTLD_NOW | RTLD_LOCAL) else {
            let reason = dlerror().map { String(cString: $0) } ?? "dlopen failed"
            throw StoreError("PostgreSQL's client library \(library) could not be loaded (\(reason)); install it (Debian: apt-get install libpq5) to push or pull runs")
        }
        func symbol<T>(_ name: String) throws -> T {
            guard let pointer = dlsym(handle, name) else { throw StoreError("\(library) has no \(name): the library is too old for softmax-lab") }
            return unsafeBitCast(pointer, to: T.self)
        }
        connectdb = try symbol("PQconnectdb")
        status = try symbol("PQstatus")
        errorMessage = try symbol("PQerrorMessage")
        finish = try symbol("PQfinish")
        exec = try symbol("PQexec")
        execParams = try symbol("PQexecParams")
        resultStatus = try symbol("PQresultStatus")
        resultErrorMessage = try symbol("PQresultErrorMessage")
        ntuples = try symbol("PQntuples")
        nfields = try symbol("PQnfields")
        ftype = try symbol("PQftype")
        getisnull = try symbol("PQgetisnull")
        getvalue = try symbol("PQgetvalue")
        clear = try symbol("PQclear")
        putCopyData = try symbol("PQputCopyData")
        putCopyEnd = try symbol("PQputCopyEnd")
        getCopyData = try symbol("PQgetCopyData")
        getResult = try symbol("PQgetResult")
        freemem = try symbol("PQfreemem")
    }
}
