// swift-tools-version:6.0
//
// SeedTraining: a package that uses SwiftNet as any other package would, by
// version.  It trains network3.py's seed network for one epoch on the first
// 20,000 MNIST training images, prints the validation accuracy, and reads a
// PNG of a digit (SwiftNetImages) to predict it.
//
// CI (scripts/check-consumer.sh) builds it against a 0.2.0 tag made in a
// temporary clone of the checkout, with the URL below pointed at that clone.
import PackageDescription

let package = Package(
    name: "SeedTraining",
    dependencies: [
        .package(url: "https://github.com/swiftnet/SwiftNet.git", from: "0.2.0"),
    ],
    targets: [
        .executableTarget(
            name: "SeedTraining",
            dependencies: [
                .product(name: "SwiftNet", package: "SwiftNet"),
                .product(name: "SwiftNetImages", package: "SwiftNet"),
            ]
        ),
    ]
)
