import SoftmaxCPU
import TestSupport

let backends = [BackendCase("swift") { SwiftBackend() }]
