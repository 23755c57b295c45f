// PublicAPISmokeTests.swift: the public API as a user's package sees it.
//
// This target imports SwiftNet without @testable, so it compiles only
// against what is public: a symbol that a user needs and that is internal
// fails here, not in someone else's package.

import SwiftNet
import XCTest

final class PublicAPISmokeTests: XCTestCase {
    func testATinyNetworkBuildsFromPublicLayers() throws {
        let network = try Network(layers: [
            FullyConnectedLayer(nIn: 4, nOut: 3, activation: .sigmoid),
            SoftmaxLayer(nIn: 3, nOut: 2),
        ], miniBatchSize: 2, threads: 1, seed: 1)
        XCTAssertEqual(network.classCount, 2)
        XCTAssertEqual(network.miniBatchSize, 2)
    }

    func testShuffleIsASeededPermutation() {
        var first = Array(0..<50), second = Array(0..<50)
        var a = RandomSource(seed: 3), b = RandomSource(seed: 3)
        a.shuffle(&first)
        b.shuffle(&second)
        XCTAssertEqual(first, second, "equal seeds, equal orders")
        XCTAssertEqual(first.sorted(), Array(0..<50), "a permutation")
        XCTAssertNotEqual(first, Array(0..<50))
        var empty: [Int] = []
        a.shuffle(&empty)
        XCTAssertEqual(empty, [])
    }
}
