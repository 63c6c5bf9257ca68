import Benchmark
import SoftmaxCore
import SoftmaxCPU
import SoftmaxTraining

/// The Swift backend's fused loss+gradient and one training step, with allocation counts: a step
/// on buffers it already owns should allocate (almost) nothing.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .throughput, .mallocCountTotal], maxDuration: .seconds(2))

    for (n, c) in [(4096, 1000), (1024, 32000), (65536, 10)] {
        Benchmark("xent \(n)x\(c)", configuration: .init(scalingFactor: .one)) { benchmark in
            let backend = SwiftBackend()
            var rng = SeededGenerator(seed: 1)
            let logits = try backend.makeBuffer(Matrix(rows: n, cols: c, storage: (0..<(n * c)).map { _ in Float.random(in: -8...8, using: &rng) }))
            let labels = try backend.makeLabelBuffer((0..<n).map { _ in Int32.random(in: 0..<Int32(c), using: &rng) })
            let gradient = try backend.makeBuffer(rows: n, cols: c)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                blackHole(try backend.crossEntropy(logits: logits, targets: .classIndices(labels), options: CrossEntropyOptions(),
                                                   outputs: CrossEntropyOutputs(gradient: gradient)))
            }
        }
    }

    Benchmark("training step, digits-sized (32x64, 10 classes)") { benchmark in
        let backend = SwiftBackend()
        var rng = SeededGenerator(seed: 2)
        let x = try backend.makeBuffer(Matrix(rows: 32, cols: 64, storage: (0..<2048).map { _ in Float.random(in: 0...1, using: &rng) }))
        let y = try backend.makeLabelBuffer((0..<32).map { _ in Int32.random(in: 0..<10, using: &rng) })
        let w = try backend.makeBuffer(rows: 64, cols: 10), b = try backend.makeBuffer(rows: 1, cols: 10)
        let vw = try backend.makeBuffer(rows: 64, cols: 10), vb = try backend.makeBuffer(rows: 1, cols: 10)
        let dw = try backend.makeBuffer(rows: 64, cols: 10), db = try backend.makeBuffer(rows: 1, cols: 10)
        let scores = try backend.makeBuffer(rows: 32, cols: 10), g = try backend.makeBuffer(rows: 32, cols: 10)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            try backend.linearForward(x: x, weights: w, bias: b, scores: scores)
            blackHole(try backend.crossEntropy(logits: scores, targets: .classIndices(y), options: CrossEntropyOptions(),
                                               outputs: CrossEntropyOutputs(gradient: g)))
            try backend.linearBackward(x: x, gradient: g, weights: w, l2: 1e-4, weightGradient: dw, biasGradient: db)
            try backend.sgdStep(parameter: w, gradient: dw, velocity: vw, learningRate: 0.1, momentum: 0.9)
            try backend.sgdStep(parameter: b, gradient: db, velocity: vb, learningRate: 0.1, momentum: 0.9)
        }
    }

    Benchmark("train digits, 40 epochs (no store)", configuration: .init(metrics: [.wallClock, .mallocCountTotal], maxIterations: 20)) { benchmark in
        let (train, validation) = try BuiltinDatasets.digits().split(validationFraction: 0.2, seed: 0)
        benchmark.startMeasurement()
        blackHole(try ClassifierTrainer(backend: SwiftBackend(), config: TrainingConfig(), train: train, validation: validation).run())
    }
}
