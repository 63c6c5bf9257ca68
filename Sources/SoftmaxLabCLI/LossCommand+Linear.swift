import Foundation
import SoftmaxCore

/// `softmax-lab loss --hidden H --classifier W [--bias B]`: the fused linear cross-entropy of
/// f = H·W + b, with the gradients of H, W and b written where asked.
extension LossCommand {
    func runLinear() throws {
        let outputs = try [(gradHiddenOut, "--grad-hidden-out"), (gradClassifierOut, "--grad-classifier-out"), (gradBiasOut, "--grad-bias-out")]
            .map { path, flag in try path.map { try OutputFile($0, flag: flag) } }
        let predictionsFile = try predictionsOut.map { try OutputFile($0, flag: "--predictions-out") }
        let h = try InputFiles.matrix(hidden!, what: "hidden states")
        let w = try InputFiles.matrix(classifier!, what: "classifier")
        let d = h.matrix.cols
        let (wFeatures, v) = classifierLayout == .dv ? (w.matrix.rows, w.matrix.cols) : (w.matrix.cols, w.matrix.rows)
        guard wFeatures == d else {
            let side = classifierLayout == .dv ? "rows (D×V)" : "columns (V×D, --classifier-layout vd)"
            throw InputError("\(w.name) has shape \(w.matrix.shape) but \(h.name) has \(d) features per row; the classifier needs \(d) \(side)")
        }
        let b = try bias.map { try InputFiles.vector($0, what: "--bias") }
        if let b, b.count != v {
            throw InputError("--bias has \(b.count) values but the classifier has \(v) classes (V)")
        }
        if let b, let j = b.firstIndex(where: { !$0.isFinite }) {
            throw InputError("--bias entry \(j) is \(b[j]); inputs must be finite numbers (entries count from 0)")
        }
        let options = try loss.options(classes: v)
        let l = try InputFiles.labels(labels!)
        try InputValidation.validate(logits: Shape(rows: h.matrix.rows, cols: v), targets: .classIndices(l.labels), options: options,
                                     labelSource: l.name, rowName: l.locate)
        let compute = try backend.make(op: "linear-xent" + loss.extended.opSuffix, shape: Shape(rows: h.matrix.rows, cols: v), dtype: .f32,
                                       tuning: tuning, storePath: store.path)
        let wantGradients = outputs.contains { $0 != nil }
        let result = try compute.linearCrossEntropy(
            hidden: h.matrix, classifier: w.matrix, layout: classifierLayout, bias: b, targets: .classIndices(l.labels), options: options,
            gradients: wantGradients, filterEpsilon: filterEpsilon)
        if let file = outputs[0], let g = result.hiddenGradient { try file.write(NumpyFile.data(g)) }
        if let file = outputs[1], let g = result.classifierGradient { try file.write(NumpyFile.data(g)) }
        if let file = outputs[2], let g = result.biasGradient { try file.write(NumpyFile.data(g)) }
        try predictionsFile?.write(NumpyFile.data(result.predictions.map(Int64.init)))
        let value = result.value, n = h.matrix.rows
        let output = Output(
            loss: value.loss, zLoss: value.zLoss, accuracy: value.accuracy.flatMap { $0.isNaN ? nil : $0 },
            reduction: options.reduction.rawValue, rows: n, classes: v, backend: compute.name,
            rowLosses: json || options.reduction == .none ? result.rowLosses : nil, gradientFile: nil, predictionsFile: predictionsOut,
            features: d, hiddenGradientFile: gradHiddenOut, classifierGradientFile: gradClassifierOut, biasGradientFile: gradBiasOut)
        guard try show(output, rowLosses: result.rowLosses, options: options, labels: l.labels, locate: h.locate,
                       shape: "\(n) rows, D = \(d), V = \(v), \(compute.name) backend, logits never stored", accuracyAgainst: "label") else { return }
        let out = Console.current
        if let path = gradHiddenOut { out.line("∂loss/∂H (\(n)x\(d), float32) written to \(path)") }
        if let path = gradClassifierOut { out.line("∂loss/∂W (\(w.matrix.rows)x\(w.matrix.cols), float32, \(classifierLayout.rawValue)) written to \(path)") }
        if let path = gradBiasOut { out.line("∂loss/∂b (\(v), float32) written to \(path)") }
        if let path = predictionsOut { out.line("predictions (\(n), int64) written to \(path)") }
    }
}
