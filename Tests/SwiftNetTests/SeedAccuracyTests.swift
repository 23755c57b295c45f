// SeedAccuracyTests.swift: one real epoch of the seed's network on MNIST.
//
// network3.py reached 93.92% validation accuracy after its first epoch
// without dropout (../shared/reference/seed-curves.tsv).  A faithful
// reproduction must reach 93% too.  This trains on all 50,000 real
// training images, so it needs the pickle: scripts/test.sh fetches it and
// sets SWIFTNET_MNIST, and then a missing file is a failure, not a skip.

@testable import SwiftNet
import XCTest

final class SeedAccuracyTests: XCTestCase {
    static func mnistPath() throws -> String {
        if let path = ProcessInfo.processInfo.environment["SWIFTNET_MNIST"] {
            return path  // required: a missing file must fail loudly below
        }
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let local = packageRoot.appendingPathComponent("data/mnist.pkl.gz").path
        guard FileManager.default.fileExists(atPath: local) else {
            throw XCTSkip("no MNIST pickle: run scripts/fetch-mnist.sh or set SWIFTNET_MNIST")
        }
        return local
    }

    func testOneEpochOfTheOneConvNetworkReachesTheSeedsFirstEpoch() throws {
        let mnist = try MNIST.load(contentsOf: try Self.mnistPath())
        let network = try Network(layers: [
            ConvPoolLayer(filterShape: (20, 1, 5, 5), imageShape: (10, 1, 28, 28), poolSize: (2, 2)),
            FullyConnectedLayer(nIn: 20 * 12 * 12, nOut: 100, pDropout: 0),
            SoftmaxLayer(nIn: 100, nOut: 10),
        ], miniBatchSize: 10, seed: 0)
        let summary = try network.sgd(trainingData: mnist.training, epochs: 1, miniBatchSize: 10, eta: 0.1,
                                      validationData: mnist.validation, testData: mnist.test)
        let epoch = try XCTUnwrap(summary.epochs.first)
        print("one-conv, epoch 0: validation \(epoch.validationAccuracy), test \(epoch.testAccuracy ?? -1), "
              + "\(epoch.trainingSeconds) s")
        XCTAssertGreaterThanOrEqual(epoch.validationAccuracy, 0.93)
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(epoch.testAccuracy), 0.92)
    }
}
