import Foundation
import SoftmaxCore
import SoftmaxKernels
import SoftmaxOpenCL
import Testing
import TestSupport

@Suite struct OpenCLBackendTests {
    @Test func openCLIsFoundWhereCIInstalledPoCL() {
        if TestBackends.openCLRequired {
            #expect(!TestBackends.openCLDevices.isEmpty, "CI installs pocl-opencl-icd, but no OpenCL device was found")
        }
        #expect(TestBackends.openCL.count == 4 * TestBackends.openCLDevices.count, "row, work-groups of 32 and of the largest size, lanes")
    }

    @Test(arguments: TestBackends.openCLDevices)
    func aBrokenKernelGivesTheBuildLog(_ device: OpenCLDevice) throws {
        let api = try OpenCLAPI()
        let error = #expect(throws: OpenCLError.self) {
            _ = try OpenCLBackend(api: api, device: device, source: KernelSources.all + "\n__kernel void broken(__global float* x) { x[0] = undefined_name; }\n")
        }
        #expect(error?.status == -11)
        #expect(error?.description.hasPrefix("OpenCL error -11 (CL_BUILD_PROGRAM_FAILURE) in clBuildProgram: ") == true)
        #expect(error?.detail?.contains("undefined_name") == true, "the build log names the error: \(error?.detail ?? "")")
    }

    @Test(arguments: TestBackends.openCLDevices)
    func anAllocationBeyondTheDeviceLimitIsAClearError(_ device: OpenCLDevice) throws {
        let backend = try OpenCLBackend(api: try OpenCLAPI(), device: device)
        let rows = Int(device.maxAllocationBytes / 4 / 1000) + 1
        let error = #expect(throws: SoftmaxError.self) { _ = try backend.makeBuffer(rows: rows, cols: 1000) }
        #expect(error?.description.contains("CL_DEVICE_MAX_MEM_ALLOC_SIZE") == true)
    }

    @Test(arguments: TestBackends.openCLDevices)
    func deviceProperties(_ device: OpenCLDevice) {
        #expect(!device.name.isEmpty && !device.platformName.isEmpty && !device.driverVersion.isEmpty)
        #expect(device.computeUnits >= 1 && device.maxWorkGroupSize >= 1 && device.globalMemoryBytes > 0)
        #expect(["CPU", "GPU", "ACCELERATOR", "OTHER"].contains(device.type))
    }

    @Test func statusNames() {
        #expect(OpenCLError.name(-1001) == "CL_PLATFORM_NOT_FOUND_KHR")
        #expect(OpenCLError(status: -5, call: "clFinish").description == "OpenCL error -5 (CL_OUT_OF_RESOURCES) in clFinish")
    }

    @Test func aMissingLibraryIsReported() {
        #expect(throws: OpenCLUnavailable.self) { _ = try OpenCLAPI(library: "/no/such/libOpenCL.so.1") }
    }
}

/// The fused linear cross-entropy's device memory: what a call allocates for itself is its block
/// (logits and gradient) and per-row buffers, as the formula says, and does not grow with N·V.
@Suite struct OpenCLLinearWorkspaceTests {
    @Test(arguments: TestBackends.openCLDevices)
    func theCallAllocatesWhatTheFormulaSays(_ device: OpenCLDevice) throws {
        let api = try OpenCLAPI()
        for (blockRows, n, v) in [(5, 23, 70), (nil, 40, 300), (64, 12, 9)] as [(Int?, Int, Int)] {
            let backend = try OpenCLBackend(api: api, device: device, parameters: KernelParameters(linearBlockRows: blockRows))
            let d = 6
            var rng = SeededGenerator(seed: UInt64(n * v))
            let h = RandomData.logits(n, d, scale: 1, &rng), w = RandomData.logits(d, v, scale: 1, &rng)
            _ = try backend.linearCrossEntropy(hidden: h, classifier: w, bias: nil, targets: .classIndices(RandomData.labels(n, classes: v, &rng)))
            // The host convenience passes per-row loss, lse and predictions: the call allocates
            // neither the batch's loss nor its lse (8·N fewer bytes than the formula's most).
            let formula = backend.linearCrossEntropyWorkspaceBytes(rows: n, features: d, vocabulary: v)
            #expect(backend.lastLinearWorkspaceBytes == formula - 8 * n, "blocks of \(blockRows.map(String.init) ?? "auto"), \(n)x\(d)x\(v)")
            // With the gradient filter, its tile flags too.
            _ = try backend.linearCrossEntropy(hidden: h, classifier: w, bias: nil, targets: .classIndices(RandomData.labels(n, classes: v, &rng)),
                                               filterEpsilon: 1e-3)
            let filtered = backend.linearCrossEntropyWorkspaceBytes(rows: n, features: d, vocabulary: v, filtered: true)
            #expect(filtered > formula && backend.lastLinearWorkspaceBytes == filtered - 8 * n, "filtered, \(n)x\(d)x\(v)")
        }
        // Blocks of 48 MiB at most on a CPU device whatever N: CCE's shape stays far below its 8.4 GB of logits.
        let automatic = try OpenCLBackend(api: api, device: device)
        let cce = automatic.linearCrossEntropyWorkspaceBytes(rows: 8192, features: 2304, vocabulary: 256_000)
        #expect(cce <= (device.isGPU ? 520 : 49) << 20, "\(cce) bytes")
    }
}
