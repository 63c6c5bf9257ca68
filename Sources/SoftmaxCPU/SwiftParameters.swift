import SoftmaxCore

/// The Swift backend's tunables of the fused cross-entropy: what `softmax-lab tune` varies for it.
/// The defaults are the choices measured on the machines this project was built on.
public struct SwiftParameters: Sendable, Hashable, Codable {
    /// Worker threads, 1 … the machine's cores.
    public var threads: Int
    /// Row ranges each thread is handed by a call: more balance a worker that wakes late, fewer
    /// cost less scheduling.
    public var rangesPerThread: Int
    /// Class-index rows of at most this many classes go 16 at a time through the lanes kernel
    /// (it is specialized for 2…64 classes; below 2 it is never used).
    public var lanesMaxClasses: Int
    /// Rows at least this long are split across threads when there are fewer rows than threads.
    public var columnSplitMinClasses: Int
    /// 16-bit storage that goes by tiles (the lanes kernel's rows, the column split, probability
    /// targets) is widened about this many elements into float32 scratch at a time.
    public var halfTileElements: Int
    /// Rows per block and vocabulary columns per tile of the fused linear cross-entropy; nil:
    /// chosen from the shape (`LinearCrossEntropy.Tiles.automatic`).
    public var linearRows: Int?
    public var linearVocab: Int?

    public init(threads: Int = SwiftBackend.threadCount, rangesPerThread: Int = 4, lanesMaxClasses: Int = 64,
                columnSplitMinClasses: Int = 16384, halfTileElements: Int = 16384, linearRows: Int? = nil, linearVocab: Int? = nil) {
        self.threads = threads
        self.rangesPerThread = rangesPerThread
        self.lanesMaxClasses = lanesMaxClasses
        self.columnSplitMinClasses = columnSplitMinClasses
        self.halfTileElements = halfTileElements
        self.linearRows = linearRows
        self.linearVocab = linearVocab
    }

    /// The most bytes a tuned block of the fused linear cross-entropy may take for its logits: the
    /// automatic choice's cap, so tuning trades speed for memory only within it.
    public static let linearBlockBytes = 48 << 20

    /// What `tune --op linear-xent` tries for N×D×V: the defaults (automatic tiles), then blocks of
    /// 12 to 384 rows (multiples of the micro-tile's 6, within `linearBlockBytes` and N) with tiles
    /// of 256 and 512 columns.
    public static func linearCandidates(rows n: Int, features d: Int, vocabulary v: Int) -> [SwiftParameters] {
        var all = [SwiftParameters.defaults]
        for rows in [12, 24, 48, 96, 192, 384] where rows <= Swift.max(n, 6) && rows * v * 4 <= linearBlockBytes {
            for vocab in [256, 512] { all.append(SwiftParameters(linearRows: rows, linearVocab: vocab)) }
        }
        return all
    }

    public static let defaults = SwiftParameters()

    /// The same parameters within what this machine and the kernels allow.
    var clamped: SwiftParameters {
        var p = self
        p.threads = Swift.min(Swift.max(threads, 1), Parallel.workerCount)
        p.rangesPerThread = Swift.max(rangesPerThread, 1)
        p.lanesMaxClasses = Swift.min(lanesMaxClasses, LanesKernels.classRange.upperBound)
        p.columnSplitMinClasses = Swift.max(columnSplitMinClasses, 1)
        p.halfTileElements = Swift.max(halfTileElements, 1)
        return p
    }

    /// What `tune` tries for rows of `classes` (`rows` of them) in `elementType`: the defaults first,
    /// then every combination of the dimensions that matter for the shape. Small on purpose (tens
    /// of candidates): each is checked and timed.
    public static func candidates(rows: Int, classes: Int, elementType: ElementType) -> [SwiftParameters] {
        var threads = [Parallel.workerCount]
        var t = 1
        while t < Parallel.workerCount { threads.append(t); t *= 2 }
        let lanes = LanesKernels.classRange.contains(classes) ? [64, 0] : [64]
        let split = rows < Parallel.workerCount && classes >= 4096 ? [16384, classes, classes + 1] : [16384]
        // 16-bit storage is tiled only where the lanes kernel or the column split takes the rows;
        // the row kernel reads and writes the 16-bit values in place.
        let tiled = elementType != .f32 && (LanesKernels.classRange.contains(classes) || split.count > 1)
        let tiles = tiled ? [16384, 4096, 65536] : [16384]
        var all: [SwiftParameters] = []
        for th in threads { for r in [4, 1, 2, 8] { for l in lanes { for s in split { for h in tiles {
            all.append(SwiftParameters(threads: th, rangesPerThread: r, lanesMaxClasses: l, columnSplitMinClasses: s, halfTileElements: h))
        } } } } }
        return all
    }
}
