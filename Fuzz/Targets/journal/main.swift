/// A metrics journal as recovery reads it after a crash: any bytes, torn anywhere.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ count: Int) -> Int32 {
    var keyBytes = 0
    MetricJournal.parse(UnsafeRawBufferPointer(start: data, count: count)) { entry in
        switch entry {
        case .row(let s): keyBytes += s.key.utf8.count
        case .end(let e): keyBytes += e.error?.utf8.count ?? 0
        }
    }
    return keyBytes < 0 ? 1 : 0
}
