import COpenCL
import SoftmaxCore

/// A float buffer in device memory (`cl_mem`), released with the object.
public final class OpenCLBuffer: BackendBuffer, @unchecked Sendable {
    public let rows: Int
    public let cols: Int
    let mem: cl_mem
    let api: OpenCLAPI

    init(rows: Int, cols: Int, mem: cl_mem, api: OpenCLAPI) {
        self.rows = rows
        self.cols = cols
        self.mem = mem
        self.api = api
    }

    var count: Int { rows * cols }

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
