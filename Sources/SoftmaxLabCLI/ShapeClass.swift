import SoftmaxCore

/// The shapes `tune` measures and later runs look up, classed by the row length C, which decides a
/// kernel's path: 16 rows in vector lanes (C ≤ 64), rows that stay in L1, rows that stay in L2,
/// rows that stream. Each class is measured at one shape (`--shape-classes`: bench's default
/// shapes), and a choice holds for every shape of its class.
struct ShapeClass: Hashable, CustomStringConvertible {
    let name: String
    let classes: ClosedRange<Int>
    /// The shape `--shape-classes` measures the class at.
    let representative: Shape

    var description: String { name }

    static let all = [
        ShapeClass(name: "C<=64", classes: 1...64, representative: Shape(rows: 65536, cols: 10)),
        ShapeClass(name: "C<=4096", classes: 65...4096, representative: Shape(rows: 4096, cols: 1000)),
        ShapeClass(name: "C<=65536", classes: 4097...65536, representative: Shape(rows: 1024, cols: 32000)),
        ShapeClass(name: "C>65536", classes: 65537...Int.max, representative: Shape(rows: 256, cols: 128000)),
    ]

    static func of(_ shape: Shape) -> ShapeClass {
        all.first { $0.classes.contains(shape.cols) } ?? all[0]
    }
}
