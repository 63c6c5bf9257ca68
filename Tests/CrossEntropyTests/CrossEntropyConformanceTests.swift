import Foundation
import SoftmaxCore
import SoftmaxReference
import Testing
import TestSupport

/// Every backend against the float64 oracle on random seeded shapes: C = 1, C not a multiple of the
/// vector width, C in the 16-rows-per-vector range, long rows split across threads, huge logits.
@Suite struct CrossEntropyConformanceTests {
    static let shapes: [(rows: Int, cols: Int)] = [
        (1, 1), (4, 1), (20, 1), (1, 2), (5, 7), (16, 7), (9, 64), (37, 7), (64, 10), (33, 16), (19, 17), (3, 31),
        (130, 100), (3, 1000), (4096, 7), (2048, 10), (1, 32000), (3, 32000), (1, 128000), (2, 128000), (5, 40000),
    ]

    @Test(arguments: backends, [Float(1), 30, 1e4])
    func classIndicesAgainstOracle(_ backendCase: BackendCase, logitScale: Float) throws {
        let backend = try backendCase.make()
        for (n, c) in Self.shapes {
            let seed = UInt64(n * 1_000_003 + c) ^ UInt64(logitScale.bitPattern)
            var rng = SeededGenerator(seed: seed)
            let logits = RandomData.logits(n, c, scale: logitScale, &rng)
            let labels = RandomData.labels(n, classes: c, &rng)
            let failures = try Conformance.crossEntropy(
                backend, logits: logits, targets: .classIndices(labels),
                context: "\(backendCase) seed \(seed), logits ±\(logitScale)")
            #expect(failures.isEmpty, Comment(rawValue: failures.joined(separator: "\n")))
        }
    }

    /// Each C of the Swift lanes kernel (2...16 are compiled once per C; 17...64 share a loop over
    /// 16-column chunks) and the first C past it, on row counts that end in partial blocks and, for
    /// the last count, span two threads' ranges: its row vectors read and write past a row's end,
    /// which must stay inside the block and the range.
    @Test(arguments: backends)
    func smallClassCountsAcrossBlocksAndThreads(_ backendCase: BackendCase) throws {
        let backend = try backendCase.make()
        for c in Array(2...18) + [31, 32, 33, 47, 63, 64, 65] {
            for n in [16, 45, 65536 / c + 37] {
                let seed = UInt64(n * 131 + c)
                var rng = SeededGenerator(seed: seed)
                let logits = RandomData.logits(n, c, scale: 10, &rng)
                let labels = RandomData.labels(n, classes: c, &rng)
                let failures = try Conformance.crossEntropy(
                    backend, logits: logits, targets: .classIndices(labels), options: .init(reduction: .sum),
                    context: "\(backendCase) seed \(seed)")
                #expect(failures.isEmpty, Comment(rawValue: failures.joined(separator: "\n")))
            }
        }
    }

    @Test(arguments: backends)
    func everyOptionCombination(_ backendCase: BackendCase) throws {
        let backend = try backendCase.make()
        for (n, c) in [(37, 7), (20, 16), (9, 300), (2, 40000)] {
            for reduction in Reduction.allCases {
                for smoothing: Float in [0, 0.1] {
                    for weighted in [false, true] {
                        for ignoredFraction in [0.0, 0.3] {
                          for extended in [false, true] {
                            let seed = UInt64(n * 7919 + c * 31 + (weighted ? 1 : 0) + Int(smoothing * 10) * 2 + Int(ignoredFraction * 10) * 4
                                              + (extended ? 64 : 0))
                            var rng = SeededGenerator(seed: seed)
                            // extended: softcap and z-loss on top of every PyTorch option.
                            let options = CrossEntropyOptions(
                                reduction: reduction, ignoreIndex: 3 - 100 * Int32(seed % 2),
                                classWeights: weighted ? RandomData.weights(c, &rng) : nil, labelSmoothing: smoothing,
                                softcap: extended ? 6 : nil, zLoss: extended ? 0.01 : 0)
                            let logits = RandomData.logits(n, c, scale: 10, &rng)
                            let labels = RandomData.labels(n, classes: c, ignoredFraction: ignoredFraction,
                                                           ignoreIndex: options.ignoreIndex, &rng)
                            var failures = try Conformance.crossEntropy(
                                backend, logits: logits, targets: .classIndices(labels), options: options,
                                context: "\(backendCase) seed \(seed), class indices")
                            let probabilities = RandomData.probabilities(n, c, &rng)
                            failures += try Conformance.crossEntropy(
                                backend, logits: logits, targets: .probabilities(probabilities), options: options,
                                context: "\(backendCase) seed \(seed), probability targets")
                            #expect(failures.isEmpty, Comment(rawValue: failures.joined(separator: "\n")))
                          }
                        }
                    }
                }
            }
        }
    }

    /// Rows whose max rises far above where they start: the Swift row kernel sums each block against
    /// the max before it and sweeps a block again when it climbs more than its headroom (64), so a
    /// climbing ramp, a low first vector, a late spike and one huge rise each take that path; with
    /// and without a softcap (wide enough not to saturate: at ±1e4 a 400 would round its slope to 0) and
    /// smoothing (whose pass two differs); predictions are compared too (the first column of the max).
    @Test(arguments: backends)
    func rowsWhoseMaxClimbsFarAboveItsStart(_ backendCase: BackendCase) throws {
        let backend = try backendCase.make()
        let c = 9000
        var rng = SeededGenerator(seed: 77)
        let noise = RandomData.logits(1, c, scale: 3, &rng).storage
        let rows: [(String, (Int) -> Float)] = [
            ("ramp rising 0.05 a column", { Float($0) * 0.05 + noise[$0] }),
            ("first vector at -1e4, the rest near 0", { $0 < 16 ? -1e4 : noise[$0] }),
            ("a spike of +300 in the last column", { $0 == c - 1 ? 300 : noise[$0] }),
            ("a step from -5e3 to +5e3 at column 4100", { $0 < 4100 ? -5e3 + noise[$0] : 5e3 + noise[$0] }),
            ("falling ramp", { -Float($0) * 0.05 + noise[$0] }),
        ]
        var logits = Matrix(rows: rows.count, cols: c)
        for (i, row) in rows.enumerated() { for j in 0..<c { logits[i, j] = row.1(j) } }
        let labels: [Int32] = [8999, 3, 8999, 4100, 0]
        for options in [CrossEntropyOptions(), .init(softcap: 2e4), .init(labelSmoothing: 0.1, softcap: 2e4),
                        .init(reduction: .none, labelSmoothing: 0.2)] {
            var failures = try Conformance.crossEntropy(
                backend, logits: logits, targets: .classIndices(labels), options: options,
                context: "\(backendCase) seed 77, rows: " + rows.map(\.0).joined(separator: "; "))
            // One row alone: the Swift backend splits it across threads by columns.
            for (i, row) in rows.enumerated() {
                failures += try Conformance.crossEntropy(
                    backend, logits: Matrix(rows: 1, cols: c, storage: Array(logits.row(i))), targets: .classIndices([labels[i]]),
                    options: options, context: "\(backendCase) seed 77, the row alone: \(row.0)")
            }
            #expect(failures.isEmpty, Comment(rawValue: failures.joined(separator: "\n")))
        }
    }

    @Test(arguments: backends)
    func equalLogitsGiveUniformProbabilities(_ backendCase: BackendCase) throws {
        let backend = try backendCase.make()
        for (n, c) in [(3, 1), (17, 10), (2, 1000), (1, 32000)] {
            for value: Float in [0, 7.5, -1e4, 1e4] {
                let labels = (0..<n).map { Int32($0 % c) }
                let r = try backend.crossEntropy(logits: Matrix(rows: n, cols: c, repeating: value), targets: .classIndices(labels),
                                                 options: .init(reduction: .sum))
                let logC = log(Double(c))
                #expect(abs(r.loss - Double(n) * logC) <= 1e-5 * Double(n) * max(logC, 1), "\(n)x\(c) of \(value): loss \(r.loss)")
                for i in 0..<n {
                    for j in 0..<c {
                        let expected = 1 / Double(c) - (j == Int(labels[i]) ? 1 : 0)
                        #expect(abs(Double(r.gradient[i, j]) - expected) <= 1e-6, "\(n)x\(c) of \(value): gradient[\(i), \(j)]")
                    }
                }
            }
        }
    }

    @Test(arguments: backends)
    func meanOverOnlyIgnoredRowsIsNaNWithZeroGradient(_ backendCase: BackendCase) throws {
        let backend = try backendCase.make()
        var rng = SeededGenerator(seed: 5)
        let r = try backend.crossEntropy(logits: RandomData.logits(20, 10, scale: 3, &rng),
                                         targets: .classIndices([Int32](repeating: -100, count: 20)))
        #expect(r.loss.isNaN)
        #expect(r.gradient.storage.allSatisfy { $0 == 0 })
    }
}
