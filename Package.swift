// swift-tools-version:6.1
//
// SwiftNet: a CPU trainer for classic convolutional networks (the seed is
// Michael Nielsen's network3.py), written in Swift over hand-written C kernels.
//
// No target carries unsafe flags, so another package can depend on this one
// by version (`.package(url: ..., from: "0.2.0")`): SwiftPM refuses
// `unsafeFlags` in any dependency that is not a local path or a branch.
// SwiftPM therefore picks the C optimisation level itself: -O0 in debug and
// -O2 in release (before 0.2.0, CKernels forced -O3 -fno-math-errno in every
// configuration).  Measured on the seed's networks, release at -O2 trains
// within a few percent of -O3 (README, "Using SwiftNet from your package");
// a loop that -O2 vectorises badly is rewritten until it does (the dense
// layers' bias backward was one: the book's network trained 1.45x slower).
// Because debug C is -O0, far too slow for the tests that train on MNIST,
// scripts/test.sh builds and runs the tests in release with testing enabled:
//     swift build -c release --build-tests -Xswiftc -enable-testing
//     swift test -c release -Xswiftc -enable-testing --skip-build
// (-enable-testing lets the tests' `@testable import` see internal symbols).
// Tools version 6.1 (for package traits) puts every target in the Swift 6
// language mode (full data-race checking), so a consumer needs Swift 6.1.
// The trait MPI (off by default) builds `cnn` with data-parallel training
// over Open MPI (`mpirun -np N cnn train ...`):
//     swift build -c release --traits MPI
// Without it nothing needs MPI: SwiftNetMPI builds empty and CMPI not at all.
// The kernels never use -march=native: each vector variant picks its ISA with
// a `#pragma clang attribute` target, and the variant is chosen at run time.
import PackageDescription

let package = Package(
    name: "SwiftNet",
    // Hummingbird's minimum on Apple's systems; Linux, where SwiftNet is built and tested, has none.
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "SwiftNet", targets: ["SwiftNet"]),
        // Images in and out, apart from the model: PNG and PGM files, MNIST-style
        // digit preprocessing, and the pictures `cnn` draws (sheets, charts, heat maps).
        .library(name: "SwiftNetImages", targets: ["SwiftNetImages"]),
        .executable(name: "cnn", targets: ["cnn"]),
        // The C kernels and the catalog of their benchmark cases (each with its
        // oracle), for the microbenchmarks in Benchmarks/, a package of its own
        // that depends on this one by path. Not part of what SwiftNet's
        // version number promises.
        .library(name: "SwiftNetKernels", targets: ["CKernels", "KernelCatalog"]),
        // Data-parallel training over MPI (an MPIGroup for Trainer); built with the trait MPI,
        // empty without it. Needs Open MPI (Debian: libopenmpi-dev).
        .library(name: "SwiftNetMPI", targets: ["SwiftNetMPI"]),
    ],
    traits: [
        .trait(name: "MPI", description: "Data-parallel training over Open MPI: mpirun -np N cnn train ..."),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // The HTTP server of `cnn serve` and `cnn train --serve` (SwiftNetServer), on
        // swift-nio.  Only SwiftNetServer links it: a package that depends on the
        // SwiftNet or SwiftNetImages product resolves it but never builds it
        // (scripts/check-consumer.sh checks that).
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        // Hummingbird's own service runner: SwiftNetServer asks it for a graceful shutdown.
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        // Only for `swift package generate-documentation`; nothing links it.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),
    ],
    targets: [
        .target(
            name: "CKernels",
            path: ".",
            sources: ["Sources/CKernels"],
            publicHeadersPath: "include",
            linkerSettings: [
                .linkedLibrary("openblas"),
                // LAPACKE_ssyevd, for the principal components `cnn embed` draws.
                .linkedLibrary("lapacke"),
                .linkedLibrary("z"),
                .linkedLibrary("m"),
            ]
        ),
        .target(
            name: "SwiftNet",
            dependencies: ["CKernels"]
        ),
        .target(
            name: "SwiftNetImages",
            dependencies: ["SwiftNet", "CKernels"]
        ),
        // `cnn serve`'s page and JSON API over a trained model, and the live
        // page of `cnn train --serve`. Not a product: the CLI is its client.
        .target(
            name: "SwiftNetServer",
            dependencies: [
                "SwiftNet",
                "SwiftNetImages",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Open MPI's C API, found by pkg-config (ompi-c); only the trait MPI builds it.
        .systemLibrary(
            name: "CMPI",
            pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev"])]
        ),
        // MPIGroup: the ranks of an mpirun job as a SwiftNet TrainingGroup.
        .target(
            name: "SwiftNetMPI",
            dependencies: ["SwiftNet", .target(name: "CMPI", condition: .when(traits: ["MPI"]))]
        ),
        .target(
            name: "KernelCatalog",
            dependencies: ["CKernels"]
        ),
        .executableTarget(
            name: "cnn",
            dependencies: [
                "SwiftNet",
                "SwiftNetImages",
                "KernelCatalog",
                "SwiftNetServer",
                "SwiftNetMPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "CKernelsTests",
            dependencies: ["CKernels"]
        ),
        .testTarget(
            name: "SwiftNetTests",
            // SwiftNetServer's tests talk to it over loopback with a socket client of their
            // own: HummingbirdTesting would bring async-http-client and BoringSSL to every build.
            dependencies: ["SwiftNet", "SwiftNetImages", "CKernels", "SwiftNetServer"]
        ),
        // The public API from outside: `import SwiftNet` without @testable.
        .testTarget(
            name: "SwiftNetAPITests",
            dependencies: ["SwiftNet", "SwiftNetImages"]
        ),
    ]
)
