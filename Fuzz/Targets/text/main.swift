/// A text or CSV file as `--logits`, `--targets` (a matrix) or `--labels` (one per line) would read it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ count: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: count), as: UTF8.self)
    guard let rows = try? DelimitedText.parse(text, name: "fuzz.csv") else { return 0 }
    _ = try? DelimitedText.matrix(rows)
    _ = try? DelimitedText.labels(rows)
    return 0
}
