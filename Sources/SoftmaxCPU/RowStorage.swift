import SoftmaxCore

/// A row of logits as the row kernel reads it: float32 in memory, or 16-bit floats widened to
/// float32 as each vector is loaded, so that a 16-bit row costs DRAM its 16-bit bytes and the
/// kernel no pass of its own to widen it.
protocol LogitRow {
    func vector(at k: Int) -> Vec
    /// A hint to bring in the line `prefetchDistance` bytes past element k: pass one computes so
    /// much per byte that the hardware prefetchers fall behind the stream (16-bit rows 1.3× faster
    /// from DRAM with it; prefetching pass two's stores for writing measured no gain).
    func prefetch(after k: Int)
    func value(at t: Int) -> Float
    func advanced(by n: Int) -> Self
}

/// How far ahead of pass one's loads `LogitRow.prefetch` reaches, in bytes.
let prefetchDistance = 2048

/// Where the row kernel writes a row's gradient: float32, or rounded once to a 16-bit type as
/// each vector is stored.
protocol GradientRow {
    func store(_ v: Vec, at k: Int)
    func set(_ value: Float, at t: Int)
    func zero(count: Int)
    func advanced(by n: Int) -> Self
}

extension UnsafePointer: LogitRow where Pointee == Float {
    @inline(__always) func vector(at k: Int) -> Vec { load(self + k) }
    @inline(__always) func prefetch(after k: Int) { prefetchForReading(UnsafeRawPointer(self + k) + prefetchDistance) }
    @inline(__always) func value(at t: Int) -> Float { self[t] }
}

extension UnsafeMutablePointer: GradientRow where Pointee == Float {
    @inline(__always) func store(_ v: Vec, at k: Int) { SoftmaxCPU.store(v, self + k) }
    @inline(__always) func set(_ value: Float, at t: Int) { self[t] = value }
    func zero(count: Int) { update(repeating: 0, count: count) }
}

/// float16 or bfloat16: how 16 values widen and narrow (`HalfConversion`).
protocol HalfFormat {
    static var type: ElementType { get }
}

enum Float16Format: HalfFormat { static var type: ElementType { .f16 } }
enum BFloat16Format: HalfFormat { static var type: ElementType { .bf16 } }

struct HalfLogitRow<Format: HalfFormat>: LogitRow {
    let base: UnsafeRawPointer
    @inline(__always) func vector(at k: Int) -> Vec { HalfConversion.widen16(base + 2 * k, Format.type) }
    @inline(__always) func prefetch(after k: Int) { prefetchForReading(base + 2 * k + prefetchDistance) }
    @inline(__always) func value(at t: Int) -> Float { HalfConversion.widen(base + 2 * t, Format.type) }
    @inline(__always) func advanced(by n: Int) -> Self { Self(base: base + 2 * n) }
}

/// The gradient of a fused call: finite (its inputs were checked), so bfloat16 needs no NaN case.
struct HalfGradientRow<Format: HalfFormat>: GradientRow {
    let base: UnsafeMutableRawPointer
    @inline(__always) func store(_ v: Vec, at k: Int) { HalfConversion.narrow16(v, into: base + 2 * k, Format.type, finite: true) }
    @inline(__always) func set(_ value: Float, at t: Int) { HalfConversion.narrow(value, into: base + 2 * t, Format.type) }
    func zero(count: Int) { base.initializeMemory(as: UInt16.self, repeating: 0, count: count) }
    @inline(__always) func advanced(by n: Int) -> Self { Self(base: base + 2 * n) }
}
