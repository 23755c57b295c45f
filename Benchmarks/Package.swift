// swift-tools-version: 6.1
//
// SwiftNetBenchmarks: the C kernels' microbenchmarks and the allocation
// check, on ordo-one's package-benchmark (wall time percentiles, exact
// malloc counts, static thresholds).
//
// A package of its own, depending on SwiftNet by path, so that nothing
// here reaches the packages that depend on SwiftNet: package-benchmark's
// manifest needs Swift 6.3 tools and traits (tools 6.1), SwiftNet's 6.0.
//
//     cd Benchmarks
//     swift package --disable-sandbox benchmark                          # every figure
//     swift package --disable-sandbox benchmark --target KernelBenchmarks
//     swift package --disable-sandbox benchmark thresholds check --target AllocationBenchmarks
//
// The last one fails (exit 2) if a training step or an evaluation
// allocates: Thresholds/ holds 0 for their malloc counts.
//
// The targets stay in the Swift 5 language mode: the benchmark closures
// capture the kernels' buffers, which are not Sendable, and the harness runs
// them one at a time.
//
// `traits: ["MallocInterposer"]` is required here: the default traits also
// need swift-runtime-interposer (retain/release counts), which the local
// package mirror does not have, and naming a trait turns the defaults off.
import PackageDescription

let package = Package(
    name: "SwiftNetBenchmarks",
    dependencies: [
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(name: "SwiftNet", path: ".."),
    ],
    targets: [
        .executableTarget(
            name: "KernelBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "SwiftNetKernels", package: "SwiftNet"),
            ],
            path: "KernelBenchmarks",
            swiftSettings: [.swiftLanguageMode(.v5)],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "AllocationBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "SwiftNet", package: "SwiftNet"),
                .product(name: "SwiftNetKernels", package: "SwiftNet"),
            ],
            path: "AllocationBenchmarks",
            swiftSettings: [.swiftLanguageMode(.v5)],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
