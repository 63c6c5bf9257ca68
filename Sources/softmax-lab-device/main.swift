// softmax-lab-device: the device check without Foundation (about a tenth of softmax-lab's static
// size), for GPU machines that have no Swift toolchain: every OpenCL device's fused kernel checked
// against the float64 oracle, then timed beside a copy of the same bytes, for each kernel
// configuration asked for (device time is scarce: one run compares them all); then the fused linear
// cross-entropy (loss, ∂H, ∂W, ∂b of f = H·W + b) at each --linear shape with the device's default
// parameters, spot-checked against float64 (`LinearCase`) and timed in GFLOP/s (6·N·D·V), with
// the device memory it allocated beyond its inputs and outputs.
//   softmax-lab-device [--shapes 1024x32000,8192x128000] [--repeat 20] [--params auto,row,wg1024c32,…]
//                      [--linear 2048x1024x32000,…] [--linear-repeat 3]
// params: auto (the backend's choice for the device), row (one work-item per row), wgNcM (one
// work-group per row of up to N work-items, sized to the row, M logits each kept in registers).
import SoftmaxCore
import SoftmaxOpenCL
import SoftmaxReference
#if canImport(Glibc)
import Glibc
#endif

var shapes = [(1024, 32000), (8192, 128000), (4096, 1000), (65536, 10)]
var repeats = 20
var configurations = ["auto"]
var linearShapes = [(2048, 1024, 32000)]
var linearRepeats = 3
var arguments = CommandLine.arguments.dropFirst()
while let flag = arguments.popFirst() {
    switch flag {
    case "--shapes":
        shapes = (arguments.popFirst() ?? "").split(separator: ",").compactMap { s in
            let p = s.split(separator: "x").compactMap { Int($0) }
            return p.count == 2 ? (p[0], p[1]) : nil
        }
    case "--repeat": repeats = Int(arguments.popFirst() ?? "") ?? repeats
    case "--params": configurations = (arguments.popFirst() ?? "").split(separator: ",").map(String.init)
    case "--linear":
        linearShapes = (arguments.popFirst() ?? "").split(separator: ",").compactMap { s in
            let p = s.split(separator: "x").compactMap { Int($0) }
            return p.count == 3 && p.allSatisfy { $0 > 0 } ? (p[0], p[1], p[2]) : nil
        }
    case "--linear-repeat": linearRepeats = max(1, Int(arguments.popFirst() ?? "") ?? linearRepeats)
    default:
        print("usage: softmax-lab-device [--shapes NxC,…] [--repeat R] [--params auto,row,lanes,wgNcM,…] [--linear NxDxV,…] [--linear-repeat R]")
        exit(2)
    }
}

/// Each configuration's kernel parameters (nil: the backend's own choice); one that does not parse
/// ends the program with a sentence.
let chosen = configurations.map { name -> (name: String, parameters: KernelParameters?) in
    if name == "auto" { return (name, nil) }
    if name == "row" { return (name, KernelParameters(xentVariant: .rowPerWorkItem)) }
    if name == "lanes" { return (name, KernelParameters(xentVariant: .rowsInLanes)) }
    let parts = name.dropFirst(2).split(separator: "c").compactMap { Int($0) }
    guard name.hasPrefix("wg"), parts.count == 2, parts[0] > 0, parts[0] & (parts[0] - 1) == 0, parts[1] >= 0 else {
        print("--params: '\(name)' is not auto, row, lanes or wgNcM (N a power of two, e.g. wg1024c32)")
        exit(2)
    }
    return (name, KernelParameters(xentVariant: .workGroupPerRow, xentWorkGroupSize: parts[0], xentCache: parts[1]))
}

func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }

func milliseconds(_ t: Duration) -> Double { Double(t.components.attoseconds) * 1e-15 + Double(t.components.seconds) * 1e3 }

/// The fused linear cross-entropy at n×d×v on `backend` (`LinearCase`, as `bench` measures it):
/// checked once, then timed.
func linearCheck(_ backend: OpenCLBackend, n: Int, d: Int, v: Int, repeats: Int) throws -> Bool {
    let linear = LinearCase(rows: n, features: d, vocabulary: v, options: .init(), seed: 0)
    let prepared = try linear.prepare(on: backend)
    func call() throws { try prepared.run() }
    let first = try ContinuousClock().measure { try prepared.run(checking: true) }
    let failure = try linear.check(prepared)
    var wall: [Double] = [], kernel: [Double] = []
    for _ in 0..<repeats {
        wall.append(milliseconds(try ContinuousClock().measure { try call(); try backend.synchronize() }))
        kernel.append(try backend.deviceMilliseconds { try call() } ?? .nan)
    }
    let flops = Double(linear.flops)
    print("  linear-xent \(n)x\(d)x\(v): \(failure ?? "ok"); wall \(median(wall)) ms = \(Int(flops / median(wall) / 1e6)) GFLOP/s "
          + "(kernels \(median(kernel)) ms, first call \(milliseconds(first)) ms); device memory beyond inputs and outputs "
          + "\(Double(backend.lastLinearWorkspaceBytes / 100_000) / 10) MB, the logits alone \(Double(n * v * 4 / 100_000) / 10) MB")
    return failure == nil
}

let library = getenv("SOFTMAXLAB_OPENCL_LIBRARY").map { String(cString: $0) } ?? OpenCLAPI.defaultLibrary
let api: OpenCLAPI
let devices: [OpenCLDevice]
do {
    api = try OpenCLAPI(library: library)
    devices = try OpenCLDevice.all(api)
} catch {
    print("OpenCL is unavailable: \(error)")
    exit(1)
}
var failed = false
for device in devices {
    print("device \(device.index): \(device.name) (\(device.platformName), \(device.type), \(device.computeUnits) units, "
          + "\(device.globalMemoryBytes >> 20) MiB, driver \(device.driverVersion))")
    var backends: [(name: String, backend: OpenCLBackend)] = []
    for (name, p) in chosen {
        do { backends.append((name, try OpenCLBackend(api: api, device: device, parameters: p))) } catch {
            print("  \(name): cannot build the kernels: \(error)")
            failed = true
        }
    }
    for (n, c) in shapes {
        var rng = SeededGenerator(seed: UInt64(n * 31 + c))
        let logits = Matrix(rows: n, cols: c, storage: (0..<(n * c)).map { _ in Float.random(in: -8...8, using: &rng) })
        let labels = (0..<n).map { _ in Int32.random(in: 0..<Int32(c), using: &rng) }
        for (name, backend) in backends {
            do {
                let f = try backend.makeBuffer(logits), g = try backend.makeBuffer(rows: n, cols: c), copy = try backend.makeBuffer(rows: n, cols: c)
                let y = BackendTargets<OpenCLLabels, OpenCLBuffer>.classIndices(try backend.makeIndexBuffer(labels))
                let outputs = CrossEntropyOutputs<OpenCLBuffer, OpenCLLabels>(gradient: g)
                let loss = try backend.crossEntropy(logits: f, targets: y, options: CrossEntropyOptions(), outputs: outputs).loss
                let gradient = try backend.download(g)
                var worst = 0.0, exactLoss = 0.0
                for i in Set([0, n - 1, n / 2, n / 3]) {
                    let r = ReferenceCrossEntropy.evaluate(logits: DoubleMatrix(rows: 1, cols: c, storage: logits.row(i).map(Double.init)),
                                                           targets: .classIndices([labels[i]]))
                    exactLoss += r.loss
                    for j in 0..<c { worst = max(worst, abs(Double(gradient[i, j]) * Double(n) - r.gradient.storage[j])) }
                }
                let ok = worst < 1e-4 && loss.isFinite
                if !ok { failed = true }
                var wall: [Double] = [], kernel: [Double] = [], copyKernel: [Double] = []
                let clock = ContinuousClock()
                for _ in 0..<3 { _ = try backend.crossEntropy(logits: f, targets: y, options: CrossEntropyOptions(), outputs: outputs) }
                for _ in 0..<repeats {
                    let t = clock.measure { _ = try? backend.crossEntropy(logits: f, targets: y, options: CrossEntropyOptions(), outputs: outputs) }
                    wall.append(Double(t.components.attoseconds) * 1e-15 + Double(t.components.seconds) * 1e3)
                    kernel.append(try backend.deviceMilliseconds { _ = try backend.crossEntropy(logits: f, targets: y, options: CrossEntropyOptions(), outputs: outputs) } ?? .nan)
                    copyKernel.append(try backend.deviceMilliseconds { try backend.copy(f, to: copy) } ?? .nan)
                }
                let bytes = 8.0 * Double(n) * Double(c)
                let gbs = bytes / median(kernel) / 1e6, copyGBs = bytes / median(copyKernel) / 1e6
                print("  xent \(n)x\(c) [\(name)]: \(ok ? "ok" : "WRONG") (max |grad·N − oracle| \(worst)); kernel \(median(kernel)) ms = \(Int(gbs)) GB/s, "
                      + "copy \(Int(copyGBs)) GB/s → \(Int(100 * gbs / copyGBs))% of copy; wall \(median(wall)) ms")
            } catch {
                print("  xent \(n)x\(c) [\(name)]: \(error)")
                failed = true
            }
        }
    }
    for (n, d, v) in linearShapes {
        do {
            if !(try linearCheck(try OpenCLBackend(api: api, device: device), n: n, d: d, v: v, repeats: linearRepeats)) { failed = true }
        } catch {
            print("  linear-xent \(n)x\(d)x\(v): \(error)")
            failed = true
        }
    }
}
exit(failed ? 1 : 0)
