import SoftmaxCPU
import TestSupport

/// The backends this target checks; the OpenCL tests add one case per device.
let backends = [BackendCase("swift") { SwiftBackend() }]
