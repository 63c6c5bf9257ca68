/// PostgreSQL's COPY text format, as far as metric rows need it: tab-separated columns, `\N` for
/// NULL, backslash escapes for backslash, tab, newline and carriage return (and, read back, the
/// other escapes PostgreSQL writes).
enum CopyText {
    static func escape(_ bytes: UnsafeBufferPointer<UInt8>, into buffer: inout [UInt8]) {
        // Keys and times almost never hold these bytes: one scan, then one copy.
        if !bytes.contains(where: { $0 == 92 || $0 == 9 || $0 == 10 || $0 == 13 }) {
            return buffer.append(contentsOf: bytes)
        }
        for byte in bytes {
            switch byte {
            case 92: buffer.append(contentsOf: [92, 92])
            case 9: buffer.append(contentsOf: [92, 116])
            case 10: buffer.append(contentsOf: [92, 110])
            case 13: buffer.append(contentsOf: [92, 114])
            default: buffer.append(byte)
            }
        }
    }

    /// A line's columns; `nil` for `\N`.
    static func fields(_ line: UnsafeRawBufferPointer) -> [String?] {
        var fields: [String?] = []
        var current: [UInt8] = []
        var i = 0
        let end = line.last == 10 ? line.count - 1 : line.count
        func finish() {
            fields.append(current == [92, 78] ? nil : String(decoding: unescaped(current), as: UTF8.self))
            current.removeAll(keepingCapacity: true)
        }
        while i < end {
            if line[i] == 9 { finish() } else { current.append(line[i]) }
            i += 1
        }
        finish()
        return fields
    }

    private static func unescaped(_ bytes: [UInt8]) -> [UInt8] {
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

    /// A metric row (`key, step, epoch, value, recorded_at`) as the hub sent it.
    static func metric(_ line: UnsafeRawBufferPointer, hub: PostgresConnection) throws -> MetricRecord {
        let f = fields(line)
        guard f.count == 5, let key = f[0], let recordedAt = f[4] else {
            throw StoreError("\(hub.address) sent a metric row softmax-lab cannot read (\(f.count) columns)")
        }
        return MetricRecord(runId: 0, key: key, step: f[1].flatMap { Int($0) }, epoch: f[2].flatMap { Int($0) },
                            value: f[3].flatMap { Double(PostgresConnection.swiftFloat($0)) }, recordedAt: recordedAt)
    }
}
