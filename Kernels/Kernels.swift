/// The OpenCL C sources of `Kernels/`, embedded into the binary at build time (EmbedFiles plugin),
/// so a copied binary needs no resource folder.
public enum KernelSources {
    /// All kernels, concatenated in a fixed order (one program per device and defines).
    public static var all: String {
        ["row_math.cl", "softmax_xent.cl", "linear.cl", "util.cl"].map { EmbeddedFiles.files[$0]! }.joined(separator: "\n")
    }
}
