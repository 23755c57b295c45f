// CheckpointRoundTripTests.swift: a saved network comes back exactly.
//
// Saving and loading must lose nothing: the architecture, settings,
// progress and random state compare equal, every parameter comes back bit
// for bit, the rebuilt network predicts exactly what the saved one did, and
// encoding a decoded checkpoint gives the same bytes.  A checkpoint only
// goes into a network of its own architecture.

import Foundation
@testable import SwiftNet
import XCTest

final class CheckpointRoundTripTests: CheckpointTestCase {
    func testEncodeAndDecodeKeepEverything() throws {
        let (checkpoint, network) = try tinyCheckpoint()
        XCTAssertEqual(checkpoint.progress.epoch, 1, "the fixture stops inside the second epoch")
        XCTAssertGreaterThan(checkpoint.progress.miniBatchesDone, 0)
        let bytes = checkpoint.encoded()
        let decoded = try Checkpoint(decoding: bytes, source: "memory")

        XCTAssertNil(decoded.architectureDifference(from: network.layers))
        XCTAssertEqual(decoded.miniBatchSize, 5)
        XCTAssertEqual(decoded.evaluationBatchSize, 7)
        XCTAssertEqual(decoded.threads, 1)
        XCTAssertEqual(decoded.hyperparameters, checkpoint.hyperparameters)
        XCTAssertEqual(decoded.trainingData, checkpoint.trainingData)
        XCTAssertEqual(decoded.progress, checkpoint.progress)
        XCTAssertEqual(decoded.randomState, network.random.stateWords)
        XCTAssertEqual(decoded.parameters.map(\.bitPattern), network.parameters.map(\.bitPattern))
        XCTAssertEqual(decoded.encoded(), bytes, "the encoding is canonical")
        XCTAssertEqual(decoded.source, "memory")
    }

    func testTheHeaderCRCIsZlibsCRC32() throws {
        let bytes = try tinyCheckpoint().0.encoded()
        XCTAssertEqual(Array(bytes[0..<8]), Array("SWNETCKP".utf8))
        let stored = (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[16 + $1]) << (8 * UInt32($1)) }
        // The test suite's own bitwise CRC-32, independent of zlib.
        XCTAssertEqual(stored, crc32(Array(bytes[0..<16])))
        XCTAssertEqual(repairCRCs(bytes), bytes, "every section's CRC-32 is the standard one")
    }

    func testALoadedNetworkPredictsExactlyAsTheSavedOne() throws {
        let (checkpoint, network) = try tinyCheckpoint(threads: 2)
        let file = path("tiny.ckpt")
        try checkpoint.write(to: file)
        XCTAssertFalse(FileManager.default.fileExists(atPath: CheckpointFile.temporaryPath(for: file)), "no temporary file stays")
        let loaded = try Checkpoint.load(contentsOf: file)
        XCTAssertEqual(loaded.source, file)
        let rebuilt = try loaded.makeNetwork()
        XCTAssertEqual(rebuilt.threads, 2, "the saved thread count is the default")
        let data = TinyNetwork.data(count: 50, seed: 99)
        XCTAssertEqual(predictions(of: rebuilt, on: data), predictions(of: network, on: data))
        XCTAssertEqual(rebuilt.accuracy(on: data), network.accuracy(on: data))
        XCTAssertEqual(Array(rebuilt.parameters).map(\.bitPattern), Array(network.parameters).map(\.bitPattern))
        XCTAssertEqual(rebuilt.random.stateWords, network.random.stateWords)
    }

    func testTheSeedNetworkRoundTrips() throws {
        let network = try Network(layers: seedOneConvLayers(batch: 10), miniBatchSize: 10, threads: 1, seed: 5)
        let images = Dataset(name: "random", channels: 1, height: 28, width: 28,
                             pixels: (0..<(30 * 784)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) },
                             labels: (0..<30).map { Int32($0 % 10) })
        try network.sgd(trainingData: images, epochs: 1, miniBatchSize: 10, eta: 0.1, validationData: images)
        let checkpoint = try Checkpoint(network: network, hyperparameters: TrainingHyperparameters(epochs: 1, eta: 0.1, seed: 5))
        let file = path("seed.ckpt")
        try checkpoint.write(to: file)
        let rebuilt = try Checkpoint.load(contentsOf: file).makeNetwork(threads: 1)
        XCTAssertEqual(predictions(of: rebuilt, on: images), predictions(of: network, on: images))
        XCTAssertEqual(Array(rebuilt.parameters), Array(network.parameters))
    }

    func testACheckpointGoesOnlyIntoItsOwnArchitecture() throws {
        let (checkpoint, _) = try tinyCheckpoint()
        let moreDropout = try Network(layers: TinyNetwork.layers(batch: 5, dropout: 0.5), miniBatchSize: 5)
        let before = Array(moreDropout.parameters)
        XCTAssertThrowsError(try checkpoint.restore(into: moreDropout)) { error in
            XCTAssertTrue("\(error)".contains("its layer 2 is FullyConnectedLayer(18 -> 6, tanh, dropout 0.25), "
                + "not the FullyConnectedLayer(18 -> 6, tanh, dropout 0.5) expected"), "\(error)")
        }
        let seed = try Network(layers: seedOneConvLayers(batch: 5), miniBatchSize: 5)
        XCTAssertThrowsError(try checkpoint.restore(into: seed)) { error in
            XCTAssertTrue("\(error)".contains("its layer 1 is ConvPoolLayer(2 filters 3x3"), "\(error)")
        }
        let shorter = try Network(layers: [FullyConnectedLayer(nIn: 64, nOut: 6), SoftmaxLayer(nIn: 6, nOut: 3)], miniBatchSize: 5)
        XCTAssertThrowsError(try checkpoint.restore(into: shorter)) { error in
            XCTAssertTrue("\(error)".contains("it holds a network of 3 layers"), "\(error)")
        }
        let otherBatch = try TinyNetwork.network(batch: 4)
        XCTAssertThrowsError(try checkpoint.restore(into: otherBatch)) { error in
            XCTAssertTrue("\(error)".contains("it was saved with mini-batch size 5, but the network trains with 4"), "\(error)")
        }
        XCTAssertEqual(Array(moreDropout.parameters), before, "a refused restore changes nothing")
    }

    func testBestModelPathInsertsBestBeforeTheExtension() {
        XCTAssertEqual(Checkpoint.bestModelPath(for: "m.ckpt"), "m.best.ckpt")
        XCTAssertEqual(Checkpoint.bestModelPath(for: "runs/a.b/m.ckpt"), "runs/a.b/m.best.ckpt")
        XCTAssertEqual(Checkpoint.bestModelPath(for: "runs/model"), "runs/model.best")
        XCTAssertEqual(Checkpoint.bestModelPath(for: ".hidden"), ".hidden.best")
    }

    func testSavingIntoAMissingFolderFailsInOneLine() throws {
        let (checkpoint, _) = try tinyCheckpoint()
        let file = path("no/such/folder/m.ckpt")
        XCTAssertThrowsError(try checkpoint.write(to: file)) { error in
            XCTAssertEqual("\(error)", "\(file): cannot save: cannot create \(file).tmp: No such file or directory")
        }
    }
}
