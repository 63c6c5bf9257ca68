import SoftmaxCore

/// A backend under test, named for the test report. The conformance suites run one body against
/// every backend case.
public struct BackendCase: Sendable, CustomStringConvertible {
    public let description: String
    public let make: @Sendable () throws -> any ComputeBackend

    public init(_ name: String, make: @escaping @Sendable () throws -> any ComputeBackend) {
        self.description = name
        self.make = make
    }
}
