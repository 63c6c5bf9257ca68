/// A data set CSV as `train --dataset FILE.csv` reads it, the first byte choosing the label
/// column, --header and --label-kind.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ count: Int) -> Int32 {
    guard count > 0 else { return 0 }
    let choice = Int(data[0])
    let text = String(decoding: UnsafeBufferPointer(start: data + 1, count: count - 1), as: UTF8.self)
    let headers = CSVDataset.Header.allCases, kinds = CSVDataset.LabelKind.allCases
    _ = try? CSVDataset.parse(text, name: "fuzz.csv", labelColumn: choice % 5 - 2,
                              header: headers[(choice / 5) % headers.count], labels: kinds[(choice / 15) % kinds.count])
    return 0
}
