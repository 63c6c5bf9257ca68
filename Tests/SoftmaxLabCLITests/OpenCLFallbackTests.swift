import Foundation
import SoftmaxLabCLI
import Testing
import TestSupport

/// `auto` falls back to Swift and `opencl` fails with the reason when OpenCL is unusable: run as
/// separate processes, since the ICD loader reads its environment once per process.
@Suite(.serialized) struct OpenCLFallbackTests {
    struct Result { var status: Int32; var stdout: String; var stderr: String }

    func run(_ args: [String], environment: [String: String]) throws -> Result {
        let p = Process()
        p.executableURL = try ProcessTests.binary()
        p.arguments = args
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    static let situations: [(String, [String: String], String)] = [
        ("no ICD (empty vendors folder)", ["OCL_ICD_VENDORS": FileManager.default.temporaryDirectory.appendingPathComponent("no-icd-\(getpid())").path],
         "no OpenCL platform"),
        ("library not loadable", ["SOFTMAXLAB_OPENCL_LIBRARY": "/no/such/libOpenCL.so.1"], "could not be loaded"),
    ]

    @Test(arguments: situations.indices)
    func autoFallsBackAndOpenCLFailsClearly(_ index: Int) throws {
        let (name, environment, reason) = Self.situations[index]
        if let folder = environment["OCL_ICD_VENDORS"] { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        let devices = try run(["devices"], environment: environment)
        #expect(devices.status == 0, "\(name): \(devices.stderr)")
        #expect(devices.stdout.contains("OpenCL is unavailable: ") && devices.stdout.contains(reason), "\(name): \(devices.stdout)")
        #expect(devices.stdout.contains("swift"))

        let files = try TestFiles()
        let logits = try files.text("f.csv", "1,2,3\n3,2,1\n")
        let labels = try files.text("y.txt", "0\n2\n")
        let auto = try run(["loss", "--logits", logits, "--labels", labels], environment: environment)
        #expect(auto.status == 0, "\(name): \(auto.stderr)")
        #expect(auto.stderr.contains("backend: swift") && auto.stderr.contains("OpenCL unavailable: ") && auto.stderr.contains(reason), "\(name): \(auto.stderr)")
        #expect(auto.stdout.contains("loss (mean over 2 rows, 3 classes, swift backend): 2.40761"), "\(auto.stdout)")

        let opencl = try run(["loss", "--logits", logits, "--labels", labels, "--backend", "opencl"], environment: environment)
        #expect(opencl.status != 0)
        #expect(opencl.stderr.contains("Error: --backend opencl: OpenCL is unavailable: ") && opencl.stderr.contains(reason), "\(name): \(opencl.stderr)")
        #expect(opencl.stdout.isEmpty)
    }

    /// Where OpenCL works, the loss command gives the Swift backend's numbers on every device.
    @Test(arguments: TestBackends.openCLDevices.map(\.index))
    func lossOnOpenCLMatchesSwift(_ device: Int) throws {
        let files = try TestFiles()
        var rng = SeededGenerator(seed: 8)
        let rows = (0..<50).map { _ in (0..<37).map { _ in String(Float.random(in: -6...6, using: &rng)) }.joined(separator: ",") }
        let logits = try files.text("f.csv", rows.joined(separator: "\n"))
        let labels = try files.text("y.txt", (0..<50).map { _ in String(Int.random(in: 0..<37, using: &rng)) }.joined(separator: "\n"))
        func loss(_ extra: [String]) throws -> Double {
            let r = CommandRunner.run(["loss", "--logits", logits, "--labels", labels, "--label-smoothing", "0.1", "--json", "--grad-out", files.path("g\(extra.count).npy")] + extra)
            #expect(r.exitCode == 0, "\(r.standardError)")
            let object = try JSONSerialization.jsonObject(with: Data(r.standardOutput.utf8)) as? [String: Any]
            return object?["loss"] as? Double ?? .nan
        }
        let swift = try loss(["--backend", "swift"])
        let opencl = try loss(["--backend", "opencl", "--device", "\(device)"])
        #expect(abs(swift - opencl) <= 1e-5 * abs(swift), "swift \(swift), opencl \(opencl)")
        let (_, g1) = try TestFiles.readFloat32(files.path("g2.npy")), (_, g2) = try TestFiles.readFloat32(files.path("g4.npy"))
        #expect(zip(g1, g2).allSatisfy { abs($0 - $1) <= 1e-6 }, "gradients differ")
    }
}
