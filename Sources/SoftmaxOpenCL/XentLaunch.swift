import COpenCL

/// The arguments of one fused cross-entropy launch (`softmax_xent_fwd_bwd_row`,
/// `softmax_xent_fwd_bwd` and `softmax_xent_fwd_bwd_lanes` share them), by name; `arguments` lists them in the kernels' parameter
/// order, the one place that order is written on the host (`XENT_PARAMETERS` in the kernels).
struct XentLaunch {
    var rows: Int
    var classes: Int
    var logits: cl_mem
    var labels: cl_mem
    var probabilities: cl_mem
    var weights: cl_mem
    var useProbabilities: Bool
    var hasWeights: Bool
    var labelSmoothing: Float
    var weightSum: Float
    var ignoreIndex: Int32
    var denominator: cl_mem
    var mean: Bool
    var gradient: cl_mem
    var writeGradient: Bool
    var rowLoss: cl_mem
    var rowLse: cl_mem
    var status: cl_mem
    /// The softcap s, or 0 for none.
    var softcap: Float
    var zLoss: Float
    var wantArgmax: Bool
    var predictions: cl_mem
    var rowZ: cl_mem
    var rowHit: cl_mem

    var arguments: [OpenCLBackend.Argument] {
        [.int(rows), .int(classes), .buffer(logits), .buffer(labels), .buffer(probabilities), .buffer(weights),
         .int(useProbabilities ? 1 : 0), .int(hasWeights ? 1 : 0), .float(labelSmoothing), .float(weightSum),
         .int(Int(ignoreIndex)), .buffer(denominator), .int(mean ? 1 : 0), .buffer(gradient), .int(writeGradient ? 1 : 0),
         .buffer(rowLoss), .buffer(rowLse), .buffer(status), .float(softcap), .float(zLoss), .int(wantArgmax ? 1 : 0),
         .buffer(predictions), .buffer(rowZ), .buffer(rowHit)]
    }
}
