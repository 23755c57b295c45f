// swift-tools-version:5.9
//
// SwiftNet: a CPU trainer for classic convolutional networks (the seed is
// Michael Nielsen's network3.py), written in Swift over hand-written C kernels.
//
// The C target `CKernels` is optimised in every configuration (the unsafe -O3
// flag below) so that debug-built tests that train on real data stay fast.
// It never uses -march=native: vector code is chosen at run time instead.
import PackageDescription

let package = Package(
    name: "SwiftNet",
    products: [
        .library(name: "SwiftNet", targets: ["SwiftNet"]),
        .executable(name: "cnn", targets: ["cnn"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .target(
            name: "CKernels",
            path: ".",
            sources: ["Sources/CKernels"],
            publicHeadersPath: "include",
            cSettings: [
                .unsafeFlags(["-O3", "-fno-math-errno", "-Wall", "-Wextra", "-Wno-unused-parameter"]),
            ],
            linkerSettings: [
                .linkedLibrary("openblas"),
                .linkedLibrary("z"),
                .linkedLibrary("m"),
            ]
        ),
        .target(
            name: "SwiftNet",
            dependencies: ["CKernels"]
        ),
        .executableTarget(
            name: "cnn",
            dependencies: [
                "SwiftNet",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "CKernelsTests",
            dependencies: ["CKernels"]
        ),
        .testTarget(
            name: "SwiftNetTests",
            dependencies: ["SwiftNet", "CKernels"]
        ),
    ]
)
