import SoftmaxCore

/// A float buffer of the Swift backend: 64-byte aligned host memory of float32, float16 or bfloat16.
public final class HostBuffer: BackendBuffer, @unchecked Sendable {
    public let rows: Int
    public let cols: Int
    public let elementType: ElementType
    let raw: UnsafeMutableRawPointer

    init(rows: Int, cols: Int, elementType: ElementType = .f32) {
        self.rows = rows
        self.cols = cols
        self.elementType = elementType
        let bytes = max(rows * cols, 1) * elementType.bytes
        raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
    }

    deinit { raw.deallocate() }

    var count: Int { rows * cols }

    /// The float32 elements; only for a float32 buffer (every operation checks that first).
    var pointer: UnsafeMutablePointer<Float> { raw.assumingMemoryBound(to: Float.self) }
}

/// Class-index labels (or row indices) of the Swift backend.
public final class HostLabels: @unchecked Sendable {
    var values: [Int32]
    init(_ values: [Int32]) { self.values = values }
}
