/// The tunables of the kernels, prepended to the sources as `#define`s (each `.cl` file has
/// `#ifndef` defaults, so it also compiles on its own).
public struct KernelParameters: Sendable, Hashable, Codable {
    public enum XentVariant: String, Sendable, CaseIterable, Codable {
        /// One work-item per row, vector loads (CPU devices; small C anywhere).
        case rowPerWorkItem
        /// One work-group per row with local-memory reductions (GPUs, large C).
        case workGroupPerRow
        /// Eight rows per work-item, one in each float8 lane (CPU devices, C ≤ `lanesMaxClasses`;
        /// longer rows take the row variant).
        case rowsInLanes
    }

    /// The longest rows the lanes variant takes (its private arrays are this long; the kernels
    /// get it as `XENT_LANES_MAX_C`).
    public static let lanesMaxClasses = 64

    /// nil: chosen per call from the device type and C.
    public var xentVariant: XentVariant?
    /// The most work-items per row in the work-group-per-row variant (a power of two); also the
    /// work-group size of the one-group reductions. `rowWorkGroupSize` sizes each call's groups.
    public var xentWorkGroupSize: Int
    /// Logits per work-item kept in registers between the two passes of the work-group-per-row
    /// variant: rows up to `xentWorkGroupSize · xentCache` floats are read from memory once.
    public var xentCache: Int
    /// Vector width of the row-per-work-item variant: 4, 8 or 16.
    public var vectorWidth: Int
    /// Tile edge of the matrix products (the work-group's edge; `matmul_strided` computes
    /// 4·tile × 4·tile entries per group).
    public var tile: Int
    /// Rows per block of the fused linear cross-entropy (a block's logits and their gradient are
    /// the call's workspace); nil: `linearBlockRows(rows:vocabulary:gradient:device:)` chooses.
    /// Not a kernel define: changing it rebuilds nothing.
    public var linearBlockRows: Int?

    public init(xentVariant: XentVariant? = nil, xentWorkGroupSize: Int = 256, xentCache: Int = 32, vectorWidth: Int = 16, tile: Int = 16,
                linearBlockRows: Int? = nil) {
        self.xentVariant = xentVariant
        self.xentWorkGroupSize = xentWorkGroupSize
        self.xentCache = xentCache
        self.vectorWidth = vectorWidth
        self.tile = tile
        self.linearBlockRows = linearBlockRows
    }

    /// The most bytes the automatic block of the fused linear cross-entropy takes for its logits
    /// and gradient: 48 MiB on a CPU device (the Swift backend's cap), 512 MiB on a GPU (whose
    /// products want a few hundred rows at V = 256000), never more than an eighth of the device's
    /// memory or one allocation.
    static func linearBlockBudget(device: OpenCLDevice) -> Int {
        min(device.isGPU ? 512 << 20 : 48 << 20, Int(device.globalMemoryBytes) / 8, Int(device.maxAllocationBytes))
    }

    /// Rows per block: the parameter when set, else as many as the budget allows (at least one,
    /// at most the batch).
    func linearBlockRows(rows n: Int, vocabulary v: Int, gradient: Bool, device: OpenCLDevice) -> Int {
        if let b = linearBlockRows { return max(1, min(b, n)) }
        let perRow = v * 4 * (gradient ? 2 : 1)
        return max(1, min(n, Self.linearBlockBudget(device: device) / max(perRow, 1)))
    }

    /// Defaults for a device: work-groups no larger than it allows. GPUs may use up to 1024
    /// work-items per row (where allowed), so that with 32 cached logits each a row of 32000 classes
    /// is read once — the shape of the fast persistent softmax kernels on NVIDIA GPUs; not yet
    /// measured on one here.
    public static func automatic(for device: OpenCLDevice) -> KernelParameters {
        var p = KernelParameters(xentWorkGroupSize: device.isGPU ? 1024 : 256)
        while p.xentWorkGroupSize > max(device.maxWorkGroupSize, 1) { p.xentWorkGroupSize /= 2 }
        while p.tile * p.tile > max(device.maxWorkGroupSize, 1) { p.tile /= 2 }
        return p
    }

    /// What `tune` tries on `device` for rows of `classes`: the device's defaults first, then the
    /// row variant at each vector width and the work-group variant at each size and cache depth the
    /// device allows (tile stays the default: the fused op does not use it).
    public static func candidates(for device: OpenCLDevice, classes: Int) -> [KernelParameters] {
        let base = automatic(for: device)
        var all = [base]
        func add(_ p: KernelParameters) { if !all.contains(p) { all.append(p) } }
        for vw in [16, 8, 4] { var p = base; p.xentVariant = .rowPerWorkItem; p.vectorWidth = vw; add(p) }
        if classes <= lanesMaxClasses { var p = base; p.xentVariant = .rowsInLanes; add(p) }
        // A size above what a row of `classes` uses launches the same groups: each size as launched.
        var wg = 64
        while wg <= min(1024, max(device.maxWorkGroupSize, 1)) {
            for cache in [8, 16, 32, 64] {
                var p = base
                p.xentVariant = .workGroupPerRow
                p.xentCache = cache
                p.xentWorkGroupSize = wg
                p.xentWorkGroupSize = p.rowWorkGroupSize(classes: classes)
                add(p)
            }
            wg *= 2
        }
        return all
    }

    /// What `tune --op linear-xent` tries on `device` for N×V: the defaults (the automatic block),
    /// then blocks of 32 to 2048 rows within the device's block budget and N.
    public static func linearCandidates(for device: OpenCLDevice, rows n: Int, vocabulary v: Int) -> [KernelParameters] {
        var all = [automatic(for: device)]
        for rows in [32, 64, 128, 256, 512, 1024, 2048] where rows <= max(n, 32) && rows * v * 8 <= linearBlockBudget(device: device) {
            var p = all[0]
            p.linearBlockRows = rows
            all.append(p)
        }
        return all
    }

    var defines: String {
        "#define VW \(vectorWidth)\n#define XENT_WG \(xentWorkGroupSize)\n#define XENT_CACHE \(xentCache)\n#define TILE \(tile)\n"
            + "#define XENT_LANES_MAX_C \(Self.lanesMaxClasses)\n"
    }

    /// Work-items per row for rows of `classes`: enough that each holds at most `xentCache` logits,
    /// at least 64 (a few warps), at most `xentWorkGroupSize`; a power of two.
    func rowWorkGroupSize(classes: Int) -> Int {
        let wanted = (classes + max(xentCache, 1) - 1) / max(xentCache, 1)
        var size = 64
        while size < wanted { size *= 2 }
        return min(size, xentWorkGroupSize)
    }

    /// The variant for `rows` rows of `classes` on a device: on a CPU device rows of up to
    /// `lanesMaxClasses` go in lanes (several times the row variant's speed at C = 10 on PoCL,
    /// BENCHMARKS.md), on a GPU rows of 128 or more go to work-groups. The lanes variant never takes
    /// longer rows, or fewer than its 8 lanes.
    func variant(rows: Int, classes: Int, device: OpenCLDevice) -> XentVariant {
        let chosen = xentVariant ?? (device.isGPU ? (classes >= 128 ? .workGroupPerRow : .rowPerWorkItem)
                                                  : (classes <= Self.lanesMaxClasses ? .rowsInLanes : .rowPerWorkItem))
        return chosen == .rowsInLanes && (classes > Self.lanesMaxClasses || rows < 8) ? .rowPerWorkItem : chosen
    }
}
