// CheckpointValueTests.swift: a Checkpoint is a public value a user may edit;
// parts that no longer agree are a thrown CheckpointError, not a trap.

import SwiftNet
import XCTest

final class CheckpointValueTests: XCTestCase {
    private func checkpoint() throws -> (Checkpoint, Network) {
        let network = try Network(layers: [FullyConnectedLayer(nIn: 4, nOut: 3), SoftmaxLayer(nIn: 3, nOut: 2)],
                                  miniBatchSize: 2, threads: 1, seed: 1)
        return (try Checkpoint(model: network), network)
    }

    func testAnEditedCheckpointWhosePartsDisagreeIsRefusedByThrowing() throws {
        let (good, network) = try checkpoint()
        XCTAssertNoThrow(try good.encoded())
        var fewer = good
        fewer.parameters.removeLast()
        XCTAssertThrowsError(try fewer.encoded()) { XCTAssertEqual(($0 as? CheckpointError)?.kind, .unusable, "\($0)") }
        var shortRandom = good
        shortRandom.randomState = [1, 2]
        XCTAssertThrowsError(try shortRandom.encoded()) { XCTAssertEqual(($0 as? CheckpointError)?.kind, .unusable) }
        XCTAssertThrowsError(try shortRandom.restore(into: network)) { XCTAssertEqual(($0 as? CheckpointError)?.kind, .unusable) }
        var zeroRandom = good
        zeroRandom.randomState = [0, 0, 0, 0]
        XCTAssertThrowsError(try zeroRandom.restore(into: network)) { XCTAssertEqual(($0 as? CheckpointError)?.kind, .unusable) }
        var extraState = good
        extraState.state = [1]
        XCTAssertThrowsError(try extraState.encoded()) { XCTAssertEqual(($0 as? CheckpointError)?.kind, .unusable) }
        XCTAssertNil(RandomSource(stateWords: [1, 2, 3]))
        XCTAssertNotNil(RandomSource(stateWords: [1, 2, 3, 4]))
    }
}
