import SoftmaxCore
import SoftmaxReference

extension LinearCase: TuningCase {
    public var shape: Shape { Shape(rows: rows, cols: vocabulary) }
    public var elementType: ElementType { .f32 }
    public var label: String { "\(rows)x\(features)x\(vocabulary)" }

    public func prepareCall<B: ComputeBackend>(on backend: B) throws -> PreparedCall {
        let prepared = try prepare(on: backend)
        return PreparedCall(run: prepared.run, check: {
            try prepared.run(checking: true)
            return try self.check(prepared)
        })
    }

    public func candidatesJSON<B: TunableBackend>(of backend: B) -> [String] {
        backend.linearCandidatesJSON(rows: rows, features: features, vocabulary: vocabulary)
    }
}
