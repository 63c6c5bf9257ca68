import SoftmaxCore

/// The Swift backend's fused softmax cross-entropy over a whole batch: picks the kernel for the
/// shape, spreads rows (or, for a few very long rows, columns) over the cores, and reports bad input.
enum FusedCrossEntropy {
        /// Rows at least this long are split across threads when there are too few rows to go round.
    static let columnSplitMinClasses = 16384

    struct Outputs {
        var gradient: UnsafeMutablePointer<Float>?
        var rowLoss: UnsafeMutablePointer<Float>?
        var lse: UnsafeMutablePointer<Float>?
    }

    enum TargetPointers {
        case classIndices(UnsafePointer<Int32>)
        case probabilities(UnsafePointer<Float>)
    }

    /// logits: (N, C); returns the summed row losses and the first row with a non-finite logit.
    static func run(
        logits f: UnsafePointer<Float>, rows n: Int, targets: TargetPointers, _ k: XentConstants, _ out: Outputs
    ) -> (lossSum: Double, firstNonFiniteRow: Int?) {
        let c = k.classes

        if case .classIndices(let labels) = targets, n < Parallel.workerCount, c >= columnSplitMinClasses {
            return columnSplit(f, rows: n, labels: labels, k, out)
        }

        // Rows are handed out in blocks of 16 so the lanes kernel always sees whole blocks.
        let useLanes: Bool
        if case .classIndices = targets { useLanes = LanesKernels.classRange.contains(c) } else { useLanes = false }
        let granule = useLanes ? vecWidth : 1
        let units = (n + granule - 1) / granule
        let minimumUnits = Swift.max(1, 32768 / Swift.max(c * granule, 1))
        let tasks = Parallel.taskCount(units, minimum: minimumUnits)
        let tasksResult = UnsafeMutableBufferPointer<(Double, Int?)>.allocate(capacity: tasks)
        defer { tasksResult.deallocate() }
        Parallel.forEach(units, tasks: tasks) { task, unitRange in
            let rows = (unitRange.lowerBound * granule)..<Swift.min(unitRange.upperBound * granule, n)
            tasksResult[task] = rowRange(f, rows: rows, targets: targets, lanes: useLanes, k, out)
        }
        var total = 0.0
        var firstBad: Int?
        for t in 0..<tasks {
            total += tasksResult[t].0
            if let bad = tasksResult[t].1, firstBad == nil { firstBad = bad }
        }
        return (total, firstBad)
    }

    private static func rowRange(
        _ f: UnsafePointer<Float>, rows: Range<Int>, targets: TargetPointers, lanes: Bool, _ k: XentConstants, _ out: Outputs
    ) -> (Double, Int?) {
        let c = k.classes
        var total = 0.0
        var firstBad: Int?
        var i = rows.lowerBound
        if lanes, case .classIndices(let labels) = targets {
            let r = LanesKernels.blocks(f, rows: rows, labels: labels, k, out)
            total = r.loss
            firstBad = r.firstBad
            i = r.end
        }
        while i < rows.upperBound {
            let row: (loss: Float, lse: Float, finite: Bool)
            switch targets {
            case .classIndices(let labels):
                row = RowKernel.classIndexRow(f + i * c, out.gradient.map { $0 + i * c }, label: labels[i], k)
            case .probabilities(let q):
                row = RowKernel.probabilityRow(f + i * c, q + i * c, out.gradient.map { $0 + i * c }, k)
            }
            out.rowLoss?[i] = row.loss
            out.lse?[i] = row.lse
            total += Double(row.loss)
            if !row.finite && firstBad == nil { firstBad = i }
            i += 1
        }
        return (total, firstBad)
    }

    /// A few very long rows: each row's columns are split over the cores, for the statistics
    /// (merged afterwards) and again for the gradient.
    private static func columnSplit(
        _ f: UnsafePointer<Float>, rows n: Int, labels: UnsafePointer<Int32>, _ k: XentConstants, _ out: Outputs
    ) -> (Double, Int?) {
        let c = k.classes
        let tasks = Parallel.workerCount
        let partial = UnsafeMutableBufferPointer<RowStatistics>.allocate(capacity: tasks)
        let smoothing = UnsafeMutableBufferPointer<Float>.allocate(capacity: tasks)
        // Each task's range of a row gets its own block maxima from pass one.
        let blocksPerTask = RowKernel.blockCount(c / tasks + 1)
        let blockMax = UnsafeMutablePointer<Float>.allocate(capacity: tasks * blocksPerTask)
        defer { partial.deallocate(); smoothing.deallocate(); blockMax.deallocate() }
        var total = 0.0
        var firstBad: Int?
        for i in 0..<n {
            let row = f + i * c
            let y = labels[i]
            let ignored = y == k.ignoreIndex
            let g = ignored ? nil : out.gradient.map { $0 + i * c }
            Parallel.forEach(c, tasks: tasks) { t, cols in
                partial[t] = RowKernel.statistics(row + cols.lowerBound, cols.count,
                                                  exps: g.map { $0 + cols.lowerBound }, blockMax: blockMax + t * blocksPerTask)
            }
            var stats = partial[0]
            for t in 1..<tasks { stats.merge(partial[t]) }
            if !stats.finite && firstBad == nil { firstBad = i }
            out.lse?[i] = stats.max + stats.logSum
            if ignored {
                out.gradient.map { ($0 + i * c).update(repeating: 0, count: c) }
                out.rowLoss?[i] = 0
                continue
            }
            Parallel.forEach(c, tasks: tasks) { t, cols in
                smoothing[t] = RowKernel.writeClassIndexGradient(
                    row, g, blockMax: blockMax + t * blocksPerTask, label: Int(y), stats: stats, columns: cols, k)
            }
            let part = smoothing.reduce(0, +)
            let loss = RowKernel.rowLoss(row[Int(y)], smoothingPart: part, stats: stats, label: Int(y), k)
            out.rowLoss?[i] = loss
            total += Double(loss)
        }
        return (total, firstBad)
    }
}
