/// A `.npy` file as `--logits` (a matrix), `--labels` or `--weights` (a vector) would read it.
/// Compiled into one module with the reader's own files (scripts/fuzz.sh).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ count: Int) -> Int32 {
    guard let file = try? NumpyFile.parse(Array(UnsafeBufferPointer(start: data, count: count)), path: "fuzz.npy") else { return 0 }
    _ = try? file.matrix(what: "logits")
    _ = try? file.vector(what: "labels")
    return 0
}
