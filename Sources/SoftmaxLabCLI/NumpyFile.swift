import Foundation
import SoftmaxCore

/// Reads and writes `.npy` files (format versions 1–3, C order, little- or big-endian float and
/// integer types), so arrays move between numpy/PyTorch and softmax-lab without text conversion.
struct NumpyFile {
    enum Values {
        case floats([Double])
        case integers([Int64])
    }

    var shape: [Int]
    var values: Values
    var path: String
    /// `.f16` for a float16 file (`<f2`), `.bf16` for a bfloat16 one (`<V2`, ml_dtypes' layout), whose
    /// values the backends can keep 16-bit; else `.f32`.
    var storage: ElementType = .f32

    var name: String { (path as NSString).lastPathComponent }

    static func read(_ path: String) throws -> NumpyFile {
        try parse(InputFile.bytes(path), path: path)
    }

    /// The array in `bytes`, the whole contents of the file at `path` (named in errors).
    static func parse(_ bytes: [UInt8], path: String) throws -> NumpyFile {
        let name = (path as NSString).lastPathComponent
        let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else {
            throw InputError("\(name) is not a .npy file (it does not start with the \\x93NUMPY magic)")
        }
        let major = bytes[6]
        let headerLength: Int, headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else { throw InputError("\(name): the .npy header is truncated") }
            headerLength = (0..<4).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
            headerStart = 12
        default:
            throw InputError("\(name): .npy format version \(major) is not supported (1, 2 and 3 are)")
        }
        guard bytes.count >= headerStart + headerLength else { throw InputError("\(name): the .npy header is truncated") }
        let header = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)
        guard let descr = field("descr", in: header), let order = field("fortran_order", in: header),
              let shapeText = field("shape", in: header) else {
            throw InputError("\(name): the .npy header has no descr, fortran_order or shape: \(header.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        guard order == "False" else {
            throw InputError("\(name) is in Fortran (column-major) order; save it in C order (numpy.ascontiguousarray)")
        }
        let shape = try parseShape(shapeText, name: name)
        let dtype = descr.trimmingCharacters(in: CharacterSet(charactersIn: "'\""))
        guard dtype.count >= 3, let size = Int(dtype.dropFirst(2)) else {
            throw InputError("\(name): unsupported dtype \(dtype)")
        }
        let endian = dtype.first!, kind = dtype.dropFirst().first!
        let bigEndian = endian == ">"
        guard (1...8).contains(size) else { throw InputError("\(name): dtype \(dtype) is not supported; use float16, bfloat16 (ml_dtypes, <V2), float32, float64 or an integer type") }
        let start = headerStart + headerLength
        let available = bytes.count - start
        // Overflow-safe: a header may claim any shape; the data that follows must back it.
        guard let count = MemoryBudget.product(shape), let needed = MemoryBudget.product([count, size]), needed <= available else {
            let claimed = MemoryBudget.product(shape + [size]).map { "\($0) bytes" } ?? "more bytes than any file holds"
            throw InputError("\(name) is truncated: its header says shape \(shape) of \(dtype) (\(claimed)) but \(available) bytes follow")
        }
        func raw(_ i: Int) -> UInt64 {
            var v: UInt64 = 0
            for b in 0..<size {
                let byte = UInt64(bytes[start + i * size + (bigEndian ? size - 1 - b : b)])
                v |= byte << (8 * UInt64(b))
            }
            return v
        }
        let values: Values
        switch (kind, size) {
        case ("f", 2): values = .floats((0..<count).map { Double(Float16(bitPattern: UInt16(truncatingIfNeeded: raw($0)))) })
        case ("f", 4): values = .floats((0..<count).map { Double(Float(bitPattern: UInt32(truncatingIfNeeded: raw($0)))) })
        case ("f", 8): values = .floats((0..<count).map { Double(bitPattern: raw($0)) })
        // bfloat16 as ml_dtypes saves it: numpy has no bfloat16 dtype, so the file says 2-byte void
        // (`<V2`), and `np.load(f).view(ml_dtypes.bfloat16)` reads it back.
        case ("V", 2): values = .floats((0..<count).map { Double(ElementType.bfloat16(bits: UInt16(truncatingIfNeeded: raw($0)))) })
        case ("i", 1), ("i", 2), ("i", 4), ("i", 8):
            let shift = UInt64(64 - 8 * size)
            values = .integers((0..<count).map { Int64(bitPattern: raw($0) << shift) >> Int64(shift) })
        case ("u", 1), ("u", 2), ("u", 4), ("u", 8), ("b", 1):
            values = .integers(try (0..<count).map {
                guard let v = Int64(exactly: raw($0)) else { throw InputError("\(name): value \(raw($0)) at index \($0) does not fit in int64") }
                return v
            })
        default:
            throw InputError("\(name): dtype \(dtype) is not supported; use float16, bfloat16 (ml_dtypes, <V2), float32, float64 or an integer type")
        }
        let storage: ElementType = (kind, size) == ("f", 2) ? .f16 : (kind, size) == ("V", 2) ? .bf16 : .f32
        return NumpyFile(shape: shape, values: values, path: path, storage: storage)
    }

    /// A float matrix: 2-D arrays as they are, 1-D arrays as one column when `allowVector`.
    func matrix(what: String) throws -> Matrix {
        guard shape.count == 2 else {
            throw InputError("\(name): \(what) must be a 2-D array (N, C), got shape \(shape)")
        }
        switch values {
        case .floats(let v): return Matrix(rows: shape[0], cols: shape[1], storage: v.map { Float($0) })
        case .integers(let v): return Matrix(rows: shape[0], cols: shape[1], storage: v.map { Float($0) })
        }
    }

    /// A 1-D array (or an N×1 column) of values.
    func vector(what: String) throws -> [Double] {
        guard shape.count == 1 || (shape.count == 2 && (shape[1] == 1 || shape[0] == 1)) else {
            throw InputError("\(name): \(what) must be a 1-D array, got shape \(shape)")
        }
        switch values {
        case .floats(let v): return v
        case .integers(let v): return v.map(Double.init)
        }
    }

    /// A matrix as a version 1.0 `.npy` file of float32, float16 (`<f2`) or bfloat16 (`<V2`, the
    /// layout ml_dtypes writes), each value rounded to nearest even.
    static func data(_ m: Matrix, as type: ElementType = .f32) -> Data {
        let shape = "(\(m.rows), \(m.cols))"
        switch type {
        case .f32:
            var data = header(descr: "<f4", shape: shape)
            m.storage.withUnsafeBytes { data.append(contentsOf: $0) }
            return data
        case .f16:
            var data = header(descr: "<f2", shape: shape)
            m.storage.map { Float16($0).bitPattern }.withUnsafeBytes { data.append(contentsOf: $0) }
            return data
        case .bf16:
            var data = header(descr: "<V2", shape: shape)
            m.storage.map(ElementType.bfloat16Bits).withUnsafeBytes { data.append(contentsOf: $0) }
            return data
        }
    }

    /// Floats as a 1-D float32 `.npy` file (a bias and its gradient: shape (V,), as PyTorch's).
    static func data(_ values: [Float]) -> Data {
        var data = header(descr: "<f4", shape: "(\(values.count),)")
        values.withUnsafeBytes { data.append(contentsOf: $0) }
        return data
    }

    /// Integers as a 1-D int64 `.npy` file: the dtype of PyTorch's `argmax` and numpy's default.
    static func data(_ values: [Int64]) -> Data {
        var data = header(descr: "<i8", shape: "(\(values.count),)")
        values.withUnsafeBytes { data.append(contentsOf: $0) }
        return data
    }

    /// Magic (6) + version 1.0 (2) + length (2) + the header dictionary and a newline, padded to a
    /// multiple of 64 bytes.
    private static func header(descr: String, shape: String) -> Data {
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shape), }"
        let unpadded = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0])
        let length = UInt16(header.utf8.count)
        data.append(contentsOf: [UInt8(length & 0xff), UInt8(length >> 8)])
        data.append(contentsOf: Array(header.utf8))
        return data
    }

    private static func field(_ key: String, in header: String) -> String? {
        guard let keyRange = header.range(of: "'\(key)'") ?? header.range(of: "\"\(key)\"") else { return nil }
        var rest = header[keyRange.upperBound...].drop { $0 == " " || $0 == ":" }
        if rest.first == "(" {
            guard let close = rest.firstIndex(of: ")") else { return nil }
            return String(rest[...close])
        }
        rest = rest.prefix { $0 != "," && $0 != "}" }
        return rest.trimmingCharacters(in: .whitespaces)
    }

    private static func parseShape(_ text: String, name: String) throws -> [Int] {
        let inner = text.trimmingCharacters(in: CharacterSet(charactersIn: "() "))
        let parts = inner.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let dims = parts.compactMap { Int($0) }
        guard dims.count == parts.count, dims.allSatisfy({ $0 >= 0 }) else {
            throw InputError("\(name): cannot read the shape \(text) in the .npy header")
        }
        return dims
    }
}
