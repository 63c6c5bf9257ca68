// swift-tools-version: 6.2
import Foundation
import PackageDescription

// MARK: - Machine-specific code generation
//
// The pure-Swift backend is only fast with the machine's full vector ISA (ARCHITECTURE.md, "Performance facts":
// the portable build ran at 0.4–0.6 of the native rate on most shapes here, and fused multiply-add
// turns into library calls without a target that has it). So a build of this checkout uses `-target-cpu native`.
// SwiftPM refuses unsafe flags in a package that others depend on by version, and a binary that must
// run on another machine must not use the builder's ISA, so the flags are left out when
// SOFTMAXLAB_PORTABLE is set or when this package is being built as a dependency (a checkout).
let portable = Context.environment["SOFTMAXLAB_PORTABLE"] != nil
    || Context.packageDirectory.contains("/checkouts/")
let cpuFlags = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
    .split(separator: "\n").first { $0.hasPrefix("flags") }?
    .split(separator: " ").map(String.init) ?? []
var nativeSettings: [SwiftSetting] = []
if !portable {
    nativeSettings.append(.unsafeFlags(["-target-cpu", "native"]))
    if cpuFlags.contains("fma") { nativeSettings.append(.define("SOFTMAXLAB_FMA")) }
    // 32 vector registers of 16 floats: the GEMM's 6×32 micro-tile fits; with AVX2's 16 registers of
    // 8 floats it spills, so the tile is 6×16 there (MatrixMultiply).
    if cpuFlags.contains("avx512f") { nativeSettings.append(.define("SOFTMAXLAB_AVX512")) }
}

let package = Package(
    name: "SoftmaxLab",
    products: [
        // MARK: Public
        .library(name: "SoftmaxLab", targets: ["SoftmaxCore", "SoftmaxReference", "SoftmaxCPU", "SoftmaxOpenCL", "SoftmaxTraining"]),
        .library(name: "SoftmaxLabStore", targets: ["ExperimentStore"]),
        .executable(name: "softmax-lab", targets: ["softmax-lab"]),
        .executable(name: "softmax-lab-device", targets: ["softmax-lab-device"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
    ],
    targets: [
        // MARK: Libraries
        .target(name: "SoftmaxCore"),
        .target(name: "SoftmaxReference", dependencies: ["SoftmaxCore"]),
        .target(name: "SoftmaxCPU", dependencies: ["SoftmaxCore"], swiftSettings: nativeSettings),
        .target(name: "COpenCL", path: "Sources/COpenCL"),
        .target(name: "SoftmaxKernels", path: "Kernels", exclude: ["row_math.cl", "softmax_xent.cl", "linear.cl", "util.cl"],
                plugins: ["EmbedFiles"]),
        .target(name: "SoftmaxOpenCL", dependencies: ["SoftmaxCore", "COpenCL", "SoftmaxKernels"]),
        .target(name: "SoftmaxTraining", dependencies: ["SoftmaxCore"], exclude: ["Data"], plugins: ["EmbedFiles"]),
        .target(name: "CLibPQ", path: "Sources/CLibPQ"),
        .target(name: "ExperimentStore", dependencies: ["CLibPQ", .product(name: "GRDB", package: "GRDB.swift")]),
        .target(
            name: "SoftmaxLabCLI",
            dependencies: [
                "SoftmaxCore", "SoftmaxReference", "SoftmaxCPU", "SoftmaxOpenCL", "SoftmaxTraining", "ExperimentStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "softmax-lab", dependencies: ["SoftmaxLabCLI"]),
        // The device check without Foundation: small enough to carry to a GPU machine.
        .executableTarget(name: "softmax-lab-device", dependencies: ["SoftmaxCore", "SoftmaxOpenCL", "SoftmaxReference"]),

        // MARK: Build tools
        .executableTarget(name: "embed-files", path: "Tools/embed-files"),
        .plugin(name: "EmbedFiles", capability: .buildTool(), dependencies: ["embed-files"]),

        // MARK: Tests
        .target(name: "TestSupport", dependencies: ["SoftmaxCore", "SoftmaxReference", "SoftmaxCPU", "SoftmaxOpenCL", "ExperimentStore",
                                                 .product(name: "GRDB", package: "GRDB.swift")], path: "Tests/TestSupport"),
        .testTarget(name: "SoftmaxCoreTests", dependencies: ["SoftmaxCore", "SoftmaxReference", "TestSupport"]),
        .testTarget(name: "CrossEntropyTests", dependencies: ["SoftmaxCPU", "SoftmaxReference", "TestSupport"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "SoftmaxLabCLITests", dependencies: ["SoftmaxLabCLI", "ExperimentStore", "TestSupport", "SoftmaxCore", "SoftmaxCPU",
                                                          "SoftmaxOpenCL", "SoftmaxKernels",
                                                          .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "SoftmaxOpenCLTests", dependencies: ["SoftmaxOpenCL", "SoftmaxKernels", "TestSupport"]),
        .testTarget(name: "ExperimentStoreTests", dependencies: ["ExperimentStore", "TestSupport", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "SoftmaxTrainingTests", dependencies: ["SoftmaxTraining", "SoftmaxCPU", "TestSupport"]),
    ]
)
