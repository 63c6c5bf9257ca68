import SoftmaxCore

/// A float buffer of the Swift backend: 64-byte aligned host memory.
public final class HostBuffer: BackendBuffer, @unchecked Sendable {
    public let rows: Int
    public let cols: Int
    let pointer: UnsafeMutablePointer<Float>

    init(rows: Int, cols: Int) {
        self.rows = rows
        self.cols = cols
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(rows * cols, 1) * 4, alignment: 64)
        pointer = raw.initializeMemory(as: Float.self, repeating: 0, count: max(rows * cols, 1))
    }

    deinit { pointer.deallocate() }

    var count: Int { rows * cols }
}

/// Class-index labels (or row indices) of the Swift backend.
public final class HostLabels: @unchecked Sendable {
    var values: [Int32]
    init(_ values: [Int32]) { self.values = values }
}
