import SoftmaxCore

/// A threaded copy with ordinary vector stores: the bandwidth ceiling of any kernel that reads one
/// array and writes another of the same size, and so the yardstick `bench` reports against.
enum MemoryCopy {
    static func copy(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        let vectors = count / vecWidth
        Parallel.forEach(vectors, tasks: Parallel.taskCount(vectors, minimum: 4096)) { _, range in
            var i = range.lowerBound * vecWidth
            let end = range.upperBound * vecWidth
            while i < end {
                store(load(src + i), dst + i)
                i += vecWidth
            }
        }
        for i in (vectors * vecWidth)..<count { dst[i] = src[i] }
    }
}

extension SwiftBackend {
    /// Copies one buffer into another of the same size (the bandwidth baseline of `bench`).
    /// Any element type, as bytes (16-bit buffers are the yardstick of 16-bit kernels).
    public func copy(_ source: HostBuffer, to destination: HostBuffer) throws {
        guard source.count == destination.count, source.elementType == destination.elementType else {
            throw SoftmaxError.shapeMismatch(what: "copy destination", expected: "\(source.count) \(source.elementType.rawValue) values",
                                             got: "\(destination.count) \(destination.elementType.rawValue)")
        }
        let bytes = source.count * source.elementType.bytes
        MemoryCopy.copy(source.pointer, destination.pointer, count: bytes / 4)
        if bytes % 4 != 0 { (destination.raw + bytes - 2).copyMemory(from: source.raw + bytes - 2, byteCount: 2) }
    }
}
