import Foundation
import SoftmaxCore

/// `--shapes 4096x1000,1024x32000`: each shape read with overflow-safe arithmetic and checked
/// against the machine's memory before a byte is allocated.
enum ShapeList {
    /// The logits, the gradient and the copy's two buffers live at once.
    static let buffersPerShape = 4

    static func parse(_ text: String, flag: String = "--shapes") throws -> [Shape] {
        let items = text.split(separator: ",", omittingEmptySubsequences: false)
        return try items.map { item -> Shape in
            let parts = item.lowercased().split(separator: "x", omittingEmptySubsequences: false)
                .map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard parts.count == 2, let n = parts[0], let c = parts[1], n >= 1, c >= 1 else {
                throw InputError("\(flag): '\(item)' is not of the form NxC with positive N and C (e.g. 1024x32000)")
            }
            do {
                try MemoryBudget.require("\(flag) \(item)", shape: [n, c], copies: buffersPerShape)
            } catch {
                throw InputError(String(describing: error))
            }
            return Shape(rows: n, cols: c)
        }
    }
}
