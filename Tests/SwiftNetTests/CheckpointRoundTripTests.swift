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
        let bytes = try checkpoint.encoded()
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
        XCTAssertEqual(try decoded.encoded(), bytes, "the encoding is canonical")
        XCTAssertEqual(decoded.source, "memory")
    }

    /// Every layer kind and every training option, velocities included,
    /// comes back exactly, and re-encodes to the same bytes.
    func testNewLayerKindsAndOptionsRoundTrip() throws {
        let layers = try NetworkSpec.layers(from: "conv 3 3x3 relu, pool 2, conv 2 2 tanh, fc 5 relu dropout 0.5, softmax 3",
                                            input: SampleShape(channels: 1, height: 8, width: 8), miniBatchSize: 5)
        XCTAssertTrue(layers.contains { $0 is ConvLayer })
        let withPool = try NetworkSpec.layers(from: "conv 3 3x3, pool 2, pool 1x2, fc 4, softmax 3",
                                              input: SampleShape(channels: 1, height: 8, width: 8), miniBatchSize: 5)
        XCTAssertTrue(withPool.contains { $0 is MaxPoolLayer })
        var options = TrainingOptions()
        options.shuffle = true
        options.expand = true
        options.momentum = 0.9
        options.nesterov = true
        options.schedule = .step(every: 3, factor: 0.25)
        options.earlyStoppingPatience = 4
        options.augmentation = Augmentation(maxShift: 1.5, maxRotationDegrees: 8, elasticAlpha: 2, elasticSigma: 4)
        for (architecture, options) in [(layers, options), (withPool, TrainingOptions())] {
            let network = try Network(layers: architecture, miniBatchSize: 5, threads: 1, seed: 2)
            var random = RandomSource(seed: 6)
            network.velocities.fillGaussian(standardDeviation: 1, random: &random)
            var progress = TrainingProgress()
            (progress.epoch, progress.epochsSinceBest, progress.etaHalvings) = (2, 1, 0)
            let hyperparameters = TrainingHyperparameters(epochs: 9, eta: 0.1, lmbda: 0.5, seed: 2, options: options)
            let checkpoint = try Checkpoint(network: network, hyperparameters: hyperparameters, progress: progress)
            let bytes = try checkpoint.encoded()
            let decoded = try Checkpoint(decoding: bytes, source: "memory")
            XCTAssertEqual(decoded.hyperparameters, hyperparameters)
            XCTAssertEqual(decoded.progress, progress)
            XCTAssertEqual(NetworkSpec.describe(decoded.layers), NetworkSpec.describe(architecture))
            XCTAssertEqual(try decoded.encoded(), bytes)
            let rebuilt = try decoded.makeNetwork()
            if options.momentum > 0 {
                XCTAssertEqual(Array(rebuilt.velocities), Array(network.velocities), "the velocities travel with the run")
            } else {
                XCTAssertNil(decoded.velocities, "a run without momentum stores no velocities")
                XCTAssertTrue(rebuilt.velocities.allSatisfy { $0 == 0 })
            }
        }
    }

    /// A file of format version 1 (before training options) still loads, as
    /// the seed's plain run: the version 2 file of such a run with its OPTS
    /// section taken out is exactly a version 1 file.
    func testAVersionOneFileStillLoads() throws {
        let (checkpoint, network) = try tinyCheckpoint()
        var bytes = try checkpoint.encoded()
        func u32(_ offset: Int) -> Int { (0..<4).reduce(0) { $0 | Int(bytes[offset + $1]) << (8 * $1) } }
        var position = 20
        var removed = false
        while position < bytes.count {
            let length = u32(position + 4)
            if Array(bytes[position..<(position + 4)]) == Array("OPTS".utf8) {
                bytes.removeSubrange(position..<(position + 12 + length))
                removed = true
                break
            }
            position += 12 + length
        }
        XCTAssertTrue(removed)
        bytes[8] = 1
        bytes[12] -= 1
        let loaded = try Checkpoint(decoding: repairCRCs(bytes), source: "v1.ckpt")
        XCTAssertEqual(loaded.hyperparameters.options, TrainingOptions())
        XCTAssertEqual(loaded.progress, checkpoint.progress)
        XCTAssertEqual(loaded.parameters.map(\.bitPattern), network.parameters.map(\.bitPattern))
        // A version 1 file cannot hold the layer kinds that came with version 2.
        bytes[36] = 4
        XCTAssertThrowsError(try Checkpoint(decoding: repairCRCs(bytes), source: "v1.ckpt")) { error in
            XCTAssertTrue("\(error)".contains("known kinds are 1 (ConvPoolLayer)"), "\(error)")
        }
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
        XCTAssertFalse(FileManager.default.fileExists(atPath: AtomicFile.temporaryPath(for: file)), "no temporary file stays")
        let loaded = try Checkpoint.load(contentsOf: file)
        XCTAssertEqual(loaded.source, file)
        let rebuilt = try loaded.makeNetwork()
        XCTAssertEqual(rebuilt.threads, 2, "the saved thread count is the default")
        let data = TinyNetwork.data(count: 50, seed: 99)
        XCTAssertEqual(try predictions(of: rebuilt, on: data), try predictions(of: network, on: data))
        XCTAssertEqual(try rebuilt.accuracy(on: data), try network.accuracy(on: data))
        XCTAssertEqual(Array(rebuilt.parameters).map(\.bitPattern), Array(network.parameters).map(\.bitPattern))
        XCTAssertEqual(rebuilt.random.stateWords, network.random.stateWords)
    }

    func testTheSeedNetworkRoundTrips() throws {
        let network = try Network(layers: seedOneConvLayers(batch: 10), miniBatchSize: 10, threads: 1, seed: 5)
        let images = Dataset.valid(name: "random", channels: 1, height: 28, width: 28,
                             pixels: (0..<(30 * 784)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 7) },
                             labels: (0..<30).map { Int32($0 % 10) }, classCount: 10)
        try network.sgd(trainingData: images, epochs: 1, miniBatchSize: 10, eta: 0.1, validationData: images)
        let checkpoint = try Checkpoint(network: network, hyperparameters: TrainingHyperparameters(epochs: 1, eta: 0.1, seed: 5))
        let file = path("seed.ckpt")
        try checkpoint.write(to: file)
        let rebuilt = try Checkpoint.load(contentsOf: file).makeNetwork(threads: 1)
        XCTAssertEqual(try predictions(of: rebuilt, on: images), try predictions(of: network, on: images))
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
            XCTAssertEqual("\(error)", "\(file): cannot save: cannot create \(AtomicFile.temporaryPath(for: file)): No such file or directory")
        }
    }
}
