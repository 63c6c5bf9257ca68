// swift-tools-version: 6.1
// The benchmark harness, kept out of the main build: `cd Benchmarks && swift package benchmark`.
import Foundation
import PackageDescription

// A path dependency is named after its folder, which is whatever the checkout is called.
let root = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent().lastPathComponent

let benchmark = Target.Dependency.product(name: "Benchmark", package: "package-benchmark")
let plugin = Target.PluginUsage.plugin(name: "BenchmarkPlugin", package: "package-benchmark")

let package = Package(
    name: "SoftmaxLabBenchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/package-benchmark", exact: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "CrossEntropyBenchmarks",
            dependencies: [benchmark, .product(name: "SoftmaxLab", package: root)],
            path: "Benchmarks/CrossEntropyBenchmarks",
            plugins: [plugin]),
        .executableTarget(
            name: "StoreBenchmarks",
            dependencies: [benchmark, .product(name: "SoftmaxLabStore", package: root)],
            path: "Benchmarks/StoreBenchmarks",
            plugins: [plugin]),
    ]
)
