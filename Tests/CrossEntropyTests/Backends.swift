import TestSupport

/// The backends this target checks: Swift and every OpenCL device (TestBackends).
let backends = TestBackends.all
