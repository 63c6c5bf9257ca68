import SoftmaxCore
import Testing
import TestSupport

/// Every pair of options, on every backend and every kernel path, against the float64 oracle: bugs
/// in the field live in combinations (PyTorch #69339 weights + smoothing + ignore, #73205 smoothing
/// + ignored rows, Liger #678/#968 `reduction='none'` gradients, Liger PR #420 smoothing with
/// weights). Each failure names the pair, the seed and the shape.
@Suite struct OptionPairTests {
    /// One option switched on; `apply` sets it, `probabilities` says it changes the targets instead.
    struct Option: Sendable, CustomStringConvertible {
        var description: String
        var apply: @Sendable (inout CrossEntropyOptions, Int, inout SeededGenerator) -> Void
        var probabilities = false
        var ignoresRows = false
    }

    static let options: [Option] = [
        Option(description: "reduction none") { o, _, _ in o.reduction = .none },
        Option(description: "reduction sum") { o, _, _ in o.reduction = .sum },
        Option(description: "ignore_index 3", apply: { o, _, _ in o.ignoreIndex = 3 }, ignoresRows: true),
        Option(description: "class weights") { o, c, rng in o.classWeights = RandomData.weights(c, &rng) },
        Option(description: "label smoothing 0.1") { o, _, _ in o.labelSmoothing = 0.1 },
        Option(description: "probability targets", apply: { _, _, _ in }, probabilities: true),
        Option(description: "softcap 4") { o, _, _ in o.softcap = 4 },
        Option(description: "z-loss 0.02") { o, _, _ in o.zLoss = 0.02 },
    ]

    /// The lanes kernel (C ≤ 64, whole and partial blocks of 16 rows), the row kernel, the column
    /// split (fewer rows than threads, C ≥ 16384), one class.
    static let shapes: [(rows: Int, cols: Int)] = [(37, 7), (20, 16), (9, 300), (3, 1000), (2, 40000), (5, 1)]

    @Test(arguments: backends)
    func everyPairOfOptionsMatchesTheOracle(_ backendCase: BackendCase) throws {
        let backend = try backendCase.make()
        let all = Self.options
        var pairs: [[Int]] = all.indices.map { [$0] }
        for a in all.indices { for b in (a + 1)..<all.count { pairs.append([a, b]) } }
        pairs.append(Array(all.indices.filter { all[$0].description != "reduction sum" }))
        var failures: [String] = []
        for pair in pairs {
            let name = pair.map { all[$0].description }.joined(separator: " + ")
            for (n, c) in Self.shapes {
                let seed = UInt64(pair.reduce(17) { $0 * 31 + $1 + 1 } * 1009 + n * 7 + c)
                var rng = SeededGenerator(seed: seed)
                var options = CrossEntropyOptions()
                for k in pair { all[k].apply(&options, c, &rng) }
                let logits = RandomData.logits(n, c, scale: 12, &rng)
                let targets: Targets
                if pair.contains(where: { all[$0].probabilities }) {
                    targets = .probabilities(RandomData.probabilities(n, c, &rng))
                } else {
                    let ignored = pair.contains { all[$0].ignoresRows } ? 0.3 : 0
                    targets = .classIndices(RandomData.labels(n, classes: c, ignoredFraction: ignored, ignoreIndex: options.ignoreIndex, &rng))
                }
                failures += try Conformance.crossEntropy(
                    backend, logits: logits, targets: targets, options: options, context: "\(backendCase) [\(name)] seed \(seed)")
            }
        }
        #expect(failures.isEmpty, Comment(rawValue: failures.prefix(8).joined(separator: "\n")))
    }
}
