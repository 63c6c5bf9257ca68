import SoftmaxCore

/// What `tune` measures for one op and shape: a case made once on the host (its data and what the
/// oracle expects), prepared on each candidate's backend, checked, then timed.
public protocol TuningCase: Sendable {
    /// The logits' shape (N×V for the fused linear op): its shape class is the tuning's.
    var shape: Shape { get }
    var elementType: ElementType { get }
    /// The shape as the tuning table names it: NxC, or NxDxV for the fused linear op.
    var label: String { get }
    func prepareCall<B: ComputeBackend>(on backend: B) throws -> PreparedCall
    /// The candidates of `backend` for this case as JSON, the defaults first.
    func candidatesJSON<B: TunableBackend>(of backend: B) -> [String]
}

/// One case's buffers on one backend, as two calls.
public struct PreparedCall {
    /// The timed call.
    public let run: () throws -> Void
    /// Runs the call once and compares it with the oracle: nil when right, else the sentence.
    public let check: () throws -> String?
}

extension XentCase: TuningCase {
    public var label: String { shape.description }

    public func prepareCall<B: ComputeBackend>(on backend: B) throws -> PreparedCall {
        let prepared = try prepare(on: backend)
        return PreparedCall(run: prepared.run, check: { try self.check(prepared) })
    }

    public func candidatesJSON<B: TunableBackend>(of backend: B) -> [String] {
        backend.candidatesJSON(for: shape, elementType: elementType)
    }
}
