// swift-tools-version:6.0
//
// ActorTraining: a package that uses SwiftNet by version, in Swift 6 mode.
// It trains a small network on synthetic in-memory images inside an actor
// and prints each epoch as it arrives through the Trainer's AsyncStream.
//
// CI (scripts/check-consumer.sh) builds it against a 0.2.0 tag made in a
// temporary clone of the checkout, with the URL below pointed at that clone.
import PackageDescription

let package = Package(
    name: "ActorTraining",
    dependencies: [
        .package(url: "https://github.com/swiftnet/SwiftNet.git", from: "0.2.0"),
    ],
    targets: [
        .executableTarget(
            name: "ActorTraining",
            dependencies: [.product(name: "SwiftNet", package: "SwiftNet")]
        ),
    ]
)
