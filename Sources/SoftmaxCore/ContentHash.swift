/// A 64-bit FNV-1a hash of bytes, as 16 hex digits: what tuning records to tell that the kernels its
/// times belong to have changed. Not cryptographic; a change of any byte changes it in practice.
public enum ContentHash {
    public static func hex(_ bytes: UnsafeRawBufferPointer) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01b3
        }
        let digits = String(h, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    public static func hex(_ text: String) -> String {
        var text = text
        return text.withUTF8 { hex(UnsafeRawBufferPointer($0)) }
    }
}
