import SoftmaxCore

/// The Swift backend's fused softmax cross-entropy over a whole batch: picks the kernel for the
/// shape, spreads rows (or, for a few very long rows, columns) over the cores, and reports bad input.
enum FusedCrossEntropy {
    struct Outputs {
        var gradient: UnsafeMutablePointer<Float>?
        var rowLoss: UnsafeMutablePointer<Float>?
        var lse: UnsafeMutablePointer<Float>?
        var predictions: UnsafeMutablePointer<Int32>?

        /// The per-row outputs from row `i` on, with the gradient going to `gradient`.
        func rows(from i: Int, gradient: UnsafeMutablePointer<Float>?) -> Outputs {
            Outputs(gradient: gradient, rowLoss: rowLoss.map { $0 + i }, lse: lse.map { $0 + i }, predictions: predictions.map { $0 + i })
        }
    }

    enum TargetPointers {
        case classIndices(UnsafePointer<Int32>)
        case probabilities(UnsafePointer<Float>)

        func rows(from i: Int, classes c: Int) -> TargetPointers {
            switch self {
            case .classIndices(let y): .classIndices(y + i)
            case .probabilities(let q): .probabilities(q + i * c)
            }
        }
    }

    /// Logits or gradient stored as 16-bit floats: the bytes and their type.
    struct Storage16 {
        var logits: UnsafeRawPointer
        var logitType: ElementType
        var gradient: UnsafeMutableRawPointer?
        var gradientType: ElementType
    }

    /// The sums over a range of rows: cross-entropy and z parts (unreduced), rows predicted right
    /// (when k.argmax), and the first row with a non-finite logit.
    struct Totals {
        var loss = 0.0
        var z = 0.0
        var correct = 0
        var firstNonFiniteRow: Int?

        mutating func add(_ other: Totals) {
            loss += other.loss
            z += other.z
            correct += other.correct
            if firstNonFiniteRow == nil { firstNonFiniteRow = other.firstNonFiniteRow }
        }
    }

    /// logits: (N, C). The softcap, when set, is a type parameter of every kernel below.
    static func run(
        logits f: UnsafePointer<Float>, rows n: Int, targets: TargetPointers, softcap: Float?, _ k: XentConstants, _ out: Outputs,
        _ p: SwiftParameters
    ) -> Totals {
        let p = p.clamped
        if let softcap { return run(f, rows: n, targets: targets, k, out, p, map: Softcap(softcap)) }
        return run(f, rows: n, targets: targets, k, out, p, map: Uncapped())
    }

    /// 16-bit logits or gradient (`out.gradient` unused). Class-index rows of the row kernel are
    /// read and written in their types (`rows16`); the rest (the lanes kernel's rows, probability
    /// targets, the column split) go by tiles of rows widened into float32 scratch that stays in
    /// cache, computed there by the float32 kernels, the gradient rounded once into its type.
    /// Either way the label's p − 1 is formed in float32 and DRAM sees the 16-bit bytes only.
    static func run(
        storage: Storage16, rows n: Int, targets: TargetPointers, softcap: Float?, _ k: XentConstants, _ out: Outputs,
        _ p: SwiftParameters
    ) -> Totals {
        let p = p.clamped
        if let softcap { return runTiled(storage, rows: n, targets: targets, k, out, p, map: Softcap(softcap)) }
        return runTiled(storage, rows: n, targets: targets, k, out, p, map: Uncapped())
    }

    /// Whether class-index rows of this length go 16 at a time through the lanes kernel.
    static func usesLanes(_ targets: TargetPointers, classes c: Int, _ p: SwiftParameters) -> Bool {
        if case .classIndices = targets { return LanesKernels.classRange.contains(c) && c <= p.lanesMaxClasses }
        return false
    }

    /// Whether a few very long rows are split across the threads by columns.
    static func usesColumnSplit(_ targets: TargetPointers, rows n: Int, classes c: Int, _ p: SwiftParameters) -> Bool {
        if case .classIndices = targets { return n < p.threads && c >= p.columnSplitMinClasses }
        return false
    }

    /// Rows per tile of the 16-bit path: about `halfTileElements` floats, whole lanes blocks (16
    /// rows) where the lanes kernel takes them.
    static func tileRows(classes c: Int, lanes: Bool, _ p: SwiftParameters) -> Int {
        lanes ? Swift.max(vecWidth, p.halfTileElements / c / vecWidth * vecWidth) : Swift.max(1, p.halfTileElements / c)
    }

    private static func runTiled<Map: LogitMap>(
        _ storage: Storage16, rows n: Int, targets: TargetPointers, _ k: XentConstants, _ out: Outputs, _ p: SwiftParameters, map: Map
    ) -> Totals {
        let c = k.classes
        let wantGradient = storage.gradient != nil
        // A few very long rows: widen them whole and let the column split share each row.
        if usesColumnSplit(targets, rows: n, classes: c, p) {
            let f = UnsafeMutablePointer<Float>.allocate(capacity: n * c)
            let g = wantGradient ? UnsafeMutablePointer<Float>.allocate(capacity: n * c) : nil
            defer { f.deallocate(); g?.deallocate() }
            HalfConversion.widen(storage.logits, storage.logitType, count: n * c, into: f)
            let totals = run(UnsafePointer(f), rows: n, targets: targets, k, out.rows(from: 0, gradient: g), p, map: map)
            if let g, let destination = storage.gradient { HalfConversion.narrow(g, count: n * c, into: destination, storage.gradientType, finite: true) }
            return totals
        }
        let useLanes = usesLanes(targets, classes: c, p)
        if !useLanes, case .classIndices(let labels) = targets {
            return rows16(storage, rows: n, labels: labels, k, out, p, map: map)
        }
        let rowsPerTile = tileRows(classes: c, lanes: useLanes, p)
        let tiles = (n + rowsPerTile - 1) / rowsPerTile
        let tasks = Parallel.taskCount(tiles, minimum: Swift.max(1, 32768 / Swift.max(c * rowsPerTile, 1)), workers: p.threads,
                                       ranges: p.rangesPerThread)
        let tasksResult = UnsafeMutableBufferPointer<Totals>.allocate(capacity: tasks)
        defer { tasksResult.deallocate() }
        Parallel.forEach(tiles, tasks: tasks, workers: p.threads) { task, tileRange in
            let f = UnsafeMutablePointer<Float>.allocate(capacity: rowsPerTile * c)
            let g = wantGradient ? UnsafeMutablePointer<Float>.allocate(capacity: rowsPerTile * c) : nil
            defer { f.deallocate(); g?.deallocate() }
            var totals = Totals()
            for tile in tileRange {
                let first = tile * rowsPerTile, count = Swift.min(rowsPerTile, n - first)
                HalfConversion.widen(storage.logits + first * c * storage.logitType.bytes, storage.logitType, count: count * c, into: f)
                var part = rowRange(UnsafePointer(f), rows: 0..<count, targets: targets.rows(from: first, classes: c), lanes: useLanes,
                                    k, out.rows(from: first, gradient: g), map: map)
                part.firstNonFiniteRow = part.firstNonFiniteRow.map { $0 + first }
                totals.add(part)
                if let g, let destination = storage.gradient {
                    HalfConversion.narrow(g, count: count * c, into: destination + first * c * storage.gradientType.bytes, storage.gradientType,
                                          finite: true)
                }
            }
            tasksResult[task] = totals
        }
        var totals = Totals()
        for t in 0..<tasks { totals.add(tasksResult[t]) }
        return totals
    }

    private static func rows16<Map: LogitMap>(
        _ storage: Storage16, rows n: Int, labels: UnsafePointer<Int32>, _ k: XentConstants, _ out: Outputs, _ p: SwiftParameters,
        map: Map
    ) -> Totals {
        let f = storage.logits, c = k.classes
        switch storage.logitType {
        case .f32:
            return rows16(storage, rows: n, labels: labels, k, out, p, map: map) { f.assumingMemoryBound(to: Float.self) + $0 * c }
        case .f16:
            return rows16(storage, rows: n, labels: labels, k, out, p, map: map) { HalfLogitRow<Float16Format>(base: f + 2 * $0 * c) }
        case .bf16:
            return rows16(storage, rows: n, labels: labels, k, out, p, map: map) { HalfLogitRow<BFloat16Format>(base: f + 2 * $0 * c) }
        }
    }

    private static func rows16<Map: LogitMap, Row: LogitRow>(
        _ storage: Storage16, rows n: Int, labels: UnsafePointer<Int32>, _ k: XentConstants, _ out: Outputs, _ p: SwiftParameters,
        map: Map, logitRow: (Int) -> Row
    ) -> Totals {
        let g = storage.gradient, c = k.classes
        switch storage.gradientType {
        case .f32:
            return rows16(storage, rows: n, labels: labels, k, out, p, map: map, logitRow: logitRow) { i in
                g.map { $0.assumingMemoryBound(to: Float.self) + i * c }
            }
        case .f16:
            return rows16(storage, rows: n, labels: labels, k, out, p, map: map, logitRow: logitRow) { i in
                g.map { HalfGradientRow<Float16Format>(base: $0 + 2 * i * c) }
            }
        case .bf16:
            return rows16(storage, rows: n, labels: labels, k, out, p, map: map, logitRow: logitRow) { i in
                g.map { HalfGradientRow<BFloat16Format>(base: $0 + 2 * i * c) }
            }
        }
    }

    /// 16-bit class-index rows through the row kernel, read and written in their types: each
    /// vector widened as pass one loads it and the gradient rounded as pass two stores it, pass
    /// one's exponentials in a float32 row of scratch per thread (in L2 between the passes).
    private static func rows16<Map: LogitMap, Row: LogitRow, Out: GradientRow>(
        _ storage: Storage16, rows n: Int, labels: UnsafePointer<Int32>, _ k: XentConstants, _ out: Outputs, _ p: SwiftParameters,
        map: Map, logitRow: (Int) -> Row, gradientRow: (Int) -> Out?
    ) -> Totals {
        let c = k.classes
        let tasks = Parallel.taskCount(n, minimum: Swift.max(1, 32768 / Swift.max(c, 1)), workers: p.threads, ranges: p.rangesPerThread)
        let tasksResult = UnsafeMutableBufferPointer<Totals>.allocate(capacity: tasks)
        defer { tasksResult.deallocate() }
        Parallel.forEach(n, tasks: tasks, workers: p.threads) { task, rows in
            let exps = storage.gradient == nil ? nil : UnsafeMutablePointer<Float>.allocate(capacity: c)
            defer { exps?.deallocate() }
            var totals = Totals()
            for i in rows {
                let row = RowKernel.classIndexRow(logitRow(i), exps: exps, into: gradientRow(i),
                                                  label: labels[i], k, map: map)
                record(row, row: i, hit: labels[i] != k.ignoreIndex && Int(labels[i]) == row.argmax, k, out, &totals)
            }
            tasksResult[task] = totals
        }
        var totals = Totals()
        for t in 0..<tasks { totals.add(tasksResult[t]) }
        return totals
    }

    /// A row's results into the per-row outputs and the range's totals.
    @inline(__always)
    private static func record(_ row: RowResult, row i: Int, hit: Bool, _ k: XentConstants, _ out: Outputs, _ totals: inout Totals) {
        out.rowLoss?[i] = row.loss + row.z
        out.lse?[i] = row.lse
        out.predictions?[i] = Int32(row.argmax)
        totals.loss += Double(row.loss)
        totals.z += Double(row.z)
        if k.argmax && hit { totals.correct += 1 }
        if !row.finite && totals.firstNonFiniteRow == nil { totals.firstNonFiniteRow = i }
    }

    private static func run<Map: LogitMap>(
        _ f: UnsafePointer<Float>, rows n: Int, targets: TargetPointers, _ k: XentConstants, _ out: Outputs, _ p: SwiftParameters,
        map: Map
    ) -> Totals {
        let c = k.classes

        if usesColumnSplit(targets, rows: n, classes: c, p), case .classIndices(let labels) = targets {
            return columnSplit(f, rows: n, labels: labels, k, out, threads: p.threads, map: map)
        }

        // Rows are handed out in blocks of 16 so the lanes kernel always sees whole blocks.
        let useLanes = usesLanes(targets, classes: c, p)
        let granule = useLanes ? vecWidth : 1
        let units = (n + granule - 1) / granule
        let minimumUnits = Swift.max(1, 32768 / Swift.max(c * granule, 1))
        let tasks = Parallel.taskCount(units, minimum: minimumUnits, workers: p.threads, ranges: p.rangesPerThread)
        let tasksResult = UnsafeMutableBufferPointer<Totals>.allocate(capacity: tasks)
        defer { tasksResult.deallocate() }
        Parallel.forEach(units, tasks: tasks, workers: p.threads) { task, unitRange in
            let rows = (unitRange.lowerBound * granule)..<Swift.min(unitRange.upperBound * granule, n)
            tasksResult[task] = rowRange(f, rows: rows, targets: targets, lanes: useLanes, k, out, map: map)
        }
        var totals = Totals()
        for t in 0..<tasks { totals.add(tasksResult[t]) }
        return totals
    }

    private static func rowRange<Map: LogitMap>(
        _ f: UnsafePointer<Float>, rows: Range<Int>, targets: TargetPointers, lanes: Bool, _ k: XentConstants, _ out: Outputs,
        map: Map
    ) -> Totals {
        let c = k.classes
        var totals = Totals()
        var i = rows.lowerBound
        if lanes, case .classIndices(let labels) = targets {
            let r = LanesKernels.blocks(f, rows: rows, labels: labels, k, out, map: map)
            totals = r.totals
            i = r.end
        }
        while i < rows.upperBound {
            let row: RowResult
            var hit = false
            switch targets {
            case .classIndices(let labels):
                let g = out.gradient.map { $0 + i * c }
                row = RowKernel.classIndexRow(f + i * c, exps: g, into: g, label: labels[i], k, map: map)
                hit = labels[i] != k.ignoreIndex && Int(labels[i]) == row.argmax
            case .probabilities(let q):
                var target = 0
                row = RowKernel.probabilityRow(f + i * c, q + i * c, out.gradient.map { $0 + i * c }, k, map: map,
                                               targetArgmax: &target)
                hit = target == row.argmax
            }
            record(row, row: i, hit: hit, k, out, &totals)
            i += 1
        }
        return totals
    }

    /// A few very long rows: each row's columns are split over the cores, for the statistics
    /// (merged afterwards) and again for the gradient.
    private static func columnSplit<Map: LogitMap>(
        _ f: UnsafePointer<Float>, rows n: Int, labels: UnsafePointer<Int32>, _ k: XentConstants, _ out: Outputs, threads: Int,
        map: Map
    ) -> Totals {
        let c = k.classes
        let tasks = threads
        let partial = UnsafeMutableBufferPointer<RowStatistics>.allocate(capacity: tasks)
        let smoothing = UnsafeMutableBufferPointer<Float>.allocate(capacity: tasks)
        // Each task's range of a row gets its own block maxima from pass one.
        let blocksPerTask = RowKernel.blockCount(c / tasks + 1)
        let blockMax = UnsafeMutablePointer<Float>.allocate(capacity: tasks * blocksPerTask)
        defer { partial.deallocate(); smoothing.deallocate(); blockMax.deallocate() }
        var totals = Totals()
        for i in 0..<n {
            let row = f + i * c
            let y = labels[i]
            let ignored = y == k.ignoreIndex
            let g = ignored ? nil : out.gradient.map { $0 + i * c }
            Parallel.forEach(c, tasks: tasks, workers: threads) { t, cols in
                partial[t] = RowKernel.statistics(row + cols.lowerBound, cols.count, map: map, argmax: k.argmax,
                                                  exps: g.map { $0 + cols.lowerBound }, blockMax: blockMax + t * blocksPerTask,
                                                  sloped: k.slopedExps(map))
                partial[t].argmax += cols.lowerBound
            }
            var stats = partial[0]
            for t in 1..<tasks { stats.merge(partial[t]) }
            if !stats.finite && totals.firstNonFiniteRow == nil { totals.firstNonFiniteRow = i }
            out.lse?[i] = stats.lse
            out.predictions?[i] = Int32(stats.argmax)
            if ignored {
                out.gradient.map { ($0 + i * c).update(repeating: 0, count: c) }
                out.rowLoss?[i] = 0
                continue
            }
            if k.argmax && Int(y) == stats.argmax { totals.correct += 1 }
            Parallel.forEach(c, tasks: tasks, workers: threads) { t, cols in
                smoothing[t] = RowKernel.writeClassIndexGradient(
                    row, exps: g, into: g, blockMax: blockMax + t * blocksPerTask, label: Int(y), stats: stats, columns: cols, k, map: map)
            }
            let part = smoothing.reduce(0, +)
            let loss = RowKernel.rowLoss(row[Int(y)], smoothingPart: part, stats: stats, label: Int(y), k, map: map)
            let z = k.zLoss.loss(lse: stats.lse)
            out.rowLoss?[i] = loss + z
            totals.loss += Double(loss)
            totals.z += Double(z)
        }
        return totals
    }
}
