/// PostgreSQL's binary COPY format, as `push` writes metric rows: a header, then per row a field
/// count and each field as a big-endian length (−1 for NULL) and its bytes (integers and doubles
/// in network byte order, text as its UTF-8), then a trailer.
struct CopyBinary {
    private(set) var bytes: [UInt8] = []

    init() {
        bytes.reserveCapacity(1 << 20 + 4096)
        bytes.append(contentsOf: Array("PGCOPY\n".utf8) + [0xFF, 13, 10, 0])
        append32(0)  // flags
        append32(0)  // header extension length
    }

    mutating func row(fields: Int16) { append16(UInt16(bitPattern: fields)) }
    mutating func null() { append32(UInt32(bitPattern: -1)) }

    mutating func int64(_ value: Int64) {
        append32(8)
        append64(UInt64(bitPattern: value))
    }

    mutating func double(_ value: Double) {
        append32(8)
        append64(value.bitPattern)
    }

    mutating func text(_ utf8: UnsafeBufferPointer<UInt8>) {
        append32(UInt32(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    mutating func end() { append16(0xFFFF) }

    /// Hands the bytes so far to `send` and starts a new piece.
    mutating func flush(_ send: (UnsafeRawBufferPointer) throws -> Void) throws {
        try bytes.withUnsafeBytes(send)
        bytes.removeAll(keepingCapacity: true)
    }

    private mutating func append16(_ v: UInt16) { withUnsafeBytes(of: v.bigEndian) { bytes.append(contentsOf: $0) } }
    private mutating func append32(_ v: UInt32) { withUnsafeBytes(of: v.bigEndian) { bytes.append(contentsOf: $0) } }
    private mutating func append64(_ v: UInt64) { withUnsafeBytes(of: v.bigEndian) { bytes.append(contentsOf: $0) } }
}
