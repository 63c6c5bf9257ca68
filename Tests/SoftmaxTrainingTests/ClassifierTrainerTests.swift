import Foundation
import SoftmaxCore
import SoftmaxCPU
import SoftmaxReference
import SoftmaxTraining
import Testing
import TestSupport

@Suite struct ClassifierTrainerTests {
    /// Full-batch steps computed by hand with the float64 oracle: W ← W − lr·v, v ← μ·v + ∂J/∂W.
    @Test(arguments: backends)
    func fullBatchStepsFollowTheOracle(_ backendCase: BackendCase) throws {
        let data = try BuiltinDatasets.blobs(samples: 30, features: 4, classes: 3, seed: 2)
        var config = TrainingConfig()
        config.batchSize = 0
        config.epochs = 3
        config.learningRate = 0.5
        config.momentum = 0.9
        config.l2 = 0.01
        config.validationFraction = 0
        let result = try train(try backendCase.make(), config, data)

        var w = DoubleMatrix(rows: 4, cols: 3), b = [Double](repeating: 0, count: 3)
        var vw = [Double](repeating: 0, count: 12), vb = [Double](repeating: 0, count: 3)
        for _ in 0..<3 {
            let g = ReferenceLinear.objective(x: DoubleMatrix(data.features), targets: .classIndices(data.labels), weights: w, bias: b, l2: 0.01)
            for i in 0..<12 { vw[i] = 0.9 * vw[i] + g.weightGradient.storage[i]; w.storage[i] -= 0.5 * vw[i] }
            for k in 0..<3 { vb[k] = 0.9 * vb[k] + g.biasGradient[k]; b[k] -= 0.5 * vb[k] }
        }
        let m = Comparison(atol: 1e-5, rtol: 1e-4).mismatches(result.weights.storage, w.storage, cols: 3, context: "\(backendCase) W after 3 steps")
        #expect(m == nil, Comment(rawValue: m ?? ""))
        #expect(Comparison(atol: 1e-5, rtol: 1e-4).mismatches(result.bias, b, context: "b") == nil)
        #expect(result.steps == 3)
    }

    @Test(arguments: backends)
    func digitsWithDefaultsReaches95Percent(_ backendCase: BackendCase) throws {
        let (train, validation) = try BuiltinDatasets.digits().split(validationFraction: 0.2, seed: 0)
        let result = try self.train(try backendCase.make(), TrainingConfig(), train, validation: validation)
        #expect(result.final.validationAccuracy! >= 0.95, "validation accuracy \(result.final.validationAccuracy!)")
        #expect(result.history.count == TrainingConfig().epochs)
        #expect(result.history.first!.trainLoss > result.final.trainLoss)
    }

    @Test func minibatchesCoverEveryRowOncePerEpochAndLogSteps() throws {
        let data = try BuiltinDatasets.blobs(samples: 70, features: 2, classes: 2, seed: 3)
        var config = TrainingConfig()
        config.batchSize = 32
        config.epochs = 2
        config.logEvery = 1
        config.validationFraction = 0
        let log = Log()
        let result = try ClassifierTrainer(backend: SwiftBackend(), config: config, train: data, validation: nil).run(observer: log)
        // 70 rows in batches of 32: 32, 32, 6 → 3 steps per epoch.
        #expect(result.steps == 6)
        #expect(log.steps.map(\.0) == Array(1...6))
        #expect(log.steps.map(\.1) == [1, 1, 1, 2, 2, 2])
        #expect(log.epochs.map(\.step) == [3, 6])
    }

    @Test func divergenceIsAClearError() throws {
        let data = try BuiltinDatasets.blobs(samples: 50, features: 3, classes: 3, seed: 3)
        var config = TrainingConfig()
        config.learningRate = 1e30
        config.validationFraction = 0
        #expect(throws: TrainingDiverged.self) {
            _ = try ClassifierTrainer(backend: SwiftBackend(), config: config, train: data, validation: nil).run()
        }
    }

    final class Log: TrainingObserver {
        var steps: [(Int, Int, Double)] = []
        var epochs: [EpochMetrics] = []
        func trainingDidFinishStep(_ step: Int, epoch: Int, loss: Double) throws { steps.append((step, epoch, loss)) }
        func trainingDidFinishEpoch(_ metrics: EpochMetrics) throws { epochs.append(metrics) }
    }

    /// `fused`: the fused linear cross-entropy gives the loss curve of the unfused step (to 1e-5
    /// relative) on every backend, minibatches with a short last batch, L2, softcap and z-loss included.
    @Test(arguments: [TestBackends.swift] + TestBackends.openCL.prefix(1))
    func theFusedStepGivesTheUnfusedLossCurve(_ backendCase: BackendCase) throws {
        let (data, validation) = try BuiltinDatasets.digits().split(validationFraction: 0.2, seed: 0)
        var config = TrainingConfig()
        config.epochs = 6
        config.batchSize = 100
        config.softcap = 20
        config.zLoss = 1e-3
        let plain = try train(try backendCase.make(), config, data, validation: validation)
        config.fused = true
        let fused = try train(try backendCase.make(), config, data, validation: validation)
        #expect(plain.history.count == fused.history.count && plain.steps == fused.steps)
        for (a, b) in zip(plain.history, fused.history) {
            #expect(abs(a.trainLoss - b.trainLoss) <= 1e-5 * abs(a.trainLoss), "epoch \(a.epoch): train loss \(a.trainLoss) unfused, \(b.trainLoss) fused")
            #expect(abs(a.validationLoss! - b.validationLoss!) <= 1e-5 * abs(a.validationLoss!), "epoch \(a.epoch): validation loss")
            #expect(abs(a.trainAccuracy - b.trainAccuracy) <= 2.0 / Double(data.count), "epoch \(a.epoch): train accuracy")
        }
    }

    private func train(_ backend: any ComputeBackend, _ config: TrainingConfig, _ data: Dataset, validation: Dataset? = nil,
                       observer: TrainingObserver? = nil) throws -> TrainingResult {
        func run<B: ComputeBackend>(_ b: B) throws -> TrainingResult {
            try ClassifierTrainer(backend: b, config: config, train: data, validation: validation).run(observer: observer)
        }
        return try run(backend)
    }

    /// The same seed gives the same loss curve on every backend (to 1e-4 relative) for 20 steps.
    @Test(arguments: TestBackends.openCL)
    func lossCurveMatchesTheSwiftBackend(_ backendCase: BackendCase) throws {
        let data = try BuiltinDatasets.digits()
        var config = TrainingConfig()
        config.epochs = 1
        config.logEvery = 1
        config.validationFraction = 0
        let (a, b) = (Log(), Log())
        _ = try train(SwiftBackend(), config, data, observer: a)
        _ = try train(try backendCase.make(), config, data, observer: b)
        #expect(a.steps.count >= 20 && b.steps.count == a.steps.count)
        for k in 0..<20 {
            let (x, y) = (a.steps[k].2, b.steps[k].2)
            #expect(abs(x - y) <= 1e-4 * abs(x), "\(backendCase) step \(k + 1): swift \(x), \(y)")
        }
    }
}
