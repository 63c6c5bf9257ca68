import TestSupport

let backends = TestBackends.all
