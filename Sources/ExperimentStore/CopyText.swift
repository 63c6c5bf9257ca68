/// PostgreSQL's COPY text format, as `pull` reads metric rows: tab-separated columns, `\N` for
/// NULL, backslash escapes (`\\`, `\t`, `\n`, `\r`, `\b`, `\f`, `\v`).
enum CopyText {
    static func unescaped(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.contains(92) else { return bytes }
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            if bytes[i] == 92, i + 1 < bytes.count {
                let next = bytes[i + 1]
                switch next {
                case 110: out.append(10)
                case 116: out.append(9)
                case 114: out.append(13)
                case 98: out.append(8)
                case 102: out.append(12)
                case 118: out.append(11)
                default: out.append(next)
                }
                i += 2
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return out
    }

    /// Reads metric rows (`key, step, epoch, value, recorded_at`) as the hub sends them, straight
    /// from the line's bytes: a key that repeats (a run has a few) becomes a String once.
    struct MetricParser {
        let hub: PostgresConnection
        private var lastKey: (bytes: [UInt8], text: String) = ([], "")

        init(hub: PostgresConnection) { self.hub = hub }

        mutating func parse(_ line: UnsafeRawBufferPointer) throws -> MetricRecord {
            let bytes = line.bindMemory(to: UInt8.self)
            let end = bytes.last == 10 ? bytes.count - 1 : bytes.count
            var starts = [0], i = 0
            while i < end {
                if bytes[i] == 9 { starts.append(i + 1) }
                i += 1
            }
            guard starts.count == 5 else {
                throw StoreError("\(hub.address) sent a metric row softmax-lab cannot read (\(starts.count) columns, not 5)")
            }
            func field(_ k: Int) -> UnsafeBufferPointer<UInt8> {
                let from = starts[k], to = k + 1 < starts.count ? starts[k + 1] - 1 : end
                return UnsafeBufferPointer(rebasing: bytes[from..<to])
            }
            func isNull(_ f: UnsafeBufferPointer<UInt8>) -> Bool { f.count == 2 && f[0] == 92 && f[1] == 78 }
            func text(_ f: UnsafeBufferPointer<UInt8>) -> String {
                f.contains(92) ? String(decoding: unescaped(Array(f)), as: UTF8.self) : String(decoding: f, as: UTF8.self)
            }
            func integer(_ f: UnsafeBufferPointer<UInt8>) throws -> Int? {
                if isNull(f) { return nil }
                // Digits with an optional minus sign, read in place.
                let negative = f.first == 45
                var value = 0
                for digit in f.dropFirst(negative ? 1 : 0) {
                    guard digit >= 48 && digit <= 57, f.count > (negative ? 1 : 0) else {
                        throw StoreError("\(hub.address) sent a metric step or epoch that is not an integer")
                    }
                    let (times, o1) = value.multipliedReportingOverflow(by: 10)
                    let (sum, o2) = times.addingReportingOverflow(Int(digit - 48))
                    if o1 || o2 { throw StoreError("\(hub.address) sent a metric step or epoch too large for softmax-lab") }
                    value = sum
                }
                return negative ? -value : value
            }
            let keyField = field(0)
            if !keyField.elementsEqual(lastKey.bytes) { lastKey = (Array(keyField), text(keyField)) }
            let valueField = field(3)
            var value: Double?
            if !isNull(valueField) {
                guard let v = Double(PostgresConnection.swiftFloat(text(valueField))) else {
                    throw StoreError("\(hub.address) sent a metric value that is not a number")
                }
                value = v
            }
            return MetricRecord(runId: 0, key: lastKey.text, step: try integer(field(1)), epoch: try integer(field(2)), value: value,
                                recordedAt: text(field(4)))
        }
    }
}
