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

    /// N×D×V of the fused linear cross-entropy.
    struct Linear: CustomStringConvertible {
        var rows: Int, features: Int, vocabulary: Int
        var description: String { "\(rows)x\(features)x\(vocabulary)" }
    }

    /// `--shapes 2048x1024x32000,…`: H (N×D) and W (D×V) and their gradients live at once.
    static func parseLinear(_ text: String, flag: String = "--shapes") throws -> [Linear] {
        try text.split(separator: ",", omittingEmptySubsequences: false).map { item -> Linear in
            let parts = item.lowercased().split(separator: "x", omittingEmptySubsequences: false)
                .map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard parts.count == 3, let n = parts[0], let d = parts[1], let v = parts[2], n >= 1, d >= 1, v >= 1 else {
                throw InputError("\(flag): '\(item)' is not of the form NxDxV (rows x features x vocabulary) with positive numbers (e.g. 2048x1024x32000)")
            }
            do {
                guard let hidden = MemoryBudget.product([n, d]), let classifier = MemoryBudget.product([d, v]),
                      case let (sum, false) = hidden.addingReportingOverflow(classifier) else {
                    throw SoftmaxError.invalidOption("\(flag) \(item): more elements than this machine can address")
                }
                try MemoryBudget.require("\(flag) \(item) (H, W and their gradients)", shape: [sum], copies: 2)
            } catch {
                throw InputError(String(describing: error))
            }
            return Linear(rows: n, features: d, vocabulary: v)
        }
    }
}
