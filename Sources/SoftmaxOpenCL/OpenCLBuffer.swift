import COpenCL
import SoftmaxCore

/// A float buffer in device memory (`cl_mem`), released with the object: float32, or 16-bit
/// floats for the fused loss+gradient's logits and gradient.
public final class OpenCLBuffer: BackendBuffer, @unchecked Sendable {
    public let rows: Int
    public let cols: Int
    public let elementType: ElementType
    let mem: cl_mem
    let api: OpenCLAPI

    init(rows: Int, cols: Int, elementType: ElementType = .f32, mem: cl_mem, api: OpenCLAPI) {
        self.rows = rows
        self.cols = cols
        self.elementType = elementType
        self.mem = mem
        self.api = api
    }

    var count: Int { rows * cols }
    var bytes: Int { count * elementType.bytes }

    deinit { _ = api.releaseMemObject(mem) }
}

/// Int32 labels (or row indices) in device memory.
public final class OpenCLLabels: @unchecked Sendable {
    public let count: Int
    let mem: cl_mem
    let api: OpenCLAPI

    init(count: Int, mem: cl_mem, api: OpenCLAPI) {
        self.count = count
        self.mem = mem
        self.api = api
    }

    deinit { _ = api.releaseMemObject(mem) }
}
