/// A `bench --shapes` value.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ count: Int) -> Int32 {
    _ = try? ShapeList.parse(String(decoding: UnsafeBufferPointer(start: data, count: count), as: UTF8.self))
    return 0
}
