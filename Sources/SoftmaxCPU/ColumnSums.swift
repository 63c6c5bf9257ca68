/// out[j] = Σ_i a[i, j] for a row-major (rows × cols) matrix: ∂L/∂b from the logits gradient.
enum ColumnSums {
    static func compute(_ a: UnsafePointer<Float>, rows: Int, cols: Int, into out: UnsafeMutablePointer<Float>) {
        out.update(repeating: 0, count: cols)
        // Split columns in multiples of the vector width so each thread owns whole vectors of `out`.
        let vectors = (cols + vecWidth - 1) / vecWidth
        let tasks = Parallel.taskCount(vectors, minimum: Swift.max(1, 65536 / Swift.max(rows, 1)))
        Parallel.forEach(vectors, tasks: tasks) { _, vectorRange in
            let lo = vectorRange.lowerBound * vecWidth
            let hi = Swift.min(vectorRange.upperBound * vecWidth, cols)
            for i in 0..<rows {
                let row = a + i * cols
                var j = lo
                while j + vecWidth <= hi {
                    store(load(out + j) + load(row + j), out + j)
                    j += vecWidth
                }
                while j < hi {
                    out[j] += row[j]
                    j += 1
                }
            }
        }
    }
}
