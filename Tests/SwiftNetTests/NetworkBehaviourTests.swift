// NetworkBehaviourTests.swift: building, seeding and training a network on
// small synthetic data.
//
// Shapes that do not fit are refused with both layers named; a seed repeats
// a run bit for bit; and SGD drives the cost of a fixed tiny batch down.

import CKernels
@testable import SwiftNet
import XCTest

final class NetworkBehaviourTests: XCTestCase {
    private func seedLayers(batch: Int, dropout: Float = 0.3) -> [any Layer] {
        [
            ConvPoolLayer(filterShape: (20, 1, 5, 5), imageShape: (batch, 1, 28, 28), poolSize: (2, 2)),
            FullyConnectedLayer(nIn: 20 * 12 * 12, nOut: 100, pDropout: dropout),
            SoftmaxLayer(nIn: 100, nOut: 10),
        ]
    }

    private func syntheticDigits(count: Int, seed: UInt64) -> Dataset {
        var random = RandomSource(seed: seed)
        var pixels = [UInt8](repeating: 0, count: count * 784)
        var labels = [Int32](repeating: 0, count: count)
        for image in 0..<count {
            let label = Int(random.next() % 10)
            labels[image] = Int32(label)
            // A class-dependent bar plus noise, so the classes are learnable.
            for row in 0..<28 {
                for column in 0..<28 {
                    let onBar = column >= 2 + label * 2 && column < 5 + label * 2 && row > 4 && row < 24
                    let noise = Int(random.next() >> 59)
                    pixels[image * 784 + row * 28 + column] = UInt8(min(255, (onBar ? 200 : 0) + noise))
                }
            }
        }
        return Dataset.valid(name: "synthetic", channels: 1, height: 28, width: 28, pixels: pixels, labels: labels, classCount: 10)
    }

    func testMismatchedLayersAreRejectedNamingBothShapes() {
        let layers: [any Layer] = [
            ConvPoolLayer(filterShape: (20, 1, 5, 5), imageShape: (10, 1, 28, 28), poolSize: (2, 2)),
            FullyConnectedLayer(nIn: 40 * 4 * 4, nOut: 100),
            SoftmaxLayer(nIn: 100, nOut: 10),
        ]
        XCTAssertThrowsError(try Network(layers: layers, miniBatchSize: 10)) { error in
            let message = String(describing: error)
            XCTAssertTrue(message.contains("ConvPoolLayer"), message)
            XCTAssertTrue(message.contains("FullyConnectedLayer"), message)
            XCTAssertTrue(message.contains("20x12x12"), message)
            XCTAssertTrue(message.contains("640"), message)
        }
    }

    func testImpossibleLayersAreRejected() {
        XCTAssertThrowsError(try Network(layers: seedLayers(batch: 10, dropout: 1.0), miniBatchSize: 10))
        XCTAssertThrowsError(try Network(layers: seedLayers(batch: 10), miniBatchSize: 0))
        XCTAssertThrowsError(try Network(layers: seedLayers(batch: 10), miniBatchSize: 7)) { error in
            XCTAssertTrue(String(describing: error).contains("mini-batch size 10"), String(describing: error))
        }
        XCTAssertThrowsError(try Network(layers: Array(seedLayers(batch: 10).dropLast()), miniBatchSize: 10))
        let afterDense: [any Layer] = [
            FullyConnectedLayer(nIn: 784, nOut: 4),
            ConvPoolLayer(filterShape: (2, 4, 1, 1), imageShape: (10, 4, 1, 1), poolSize: (1, 1)),
            SoftmaxLayer(nIn: 2, nOut: 2),
        ]
        XCTAssertThrowsError(try Network(layers: afterDense, miniBatchSize: 10)) { error in
            XCTAssertTrue(String(describing: error).contains("conv and pool layers must come first"), String(describing: error))
        }
        let tooLarge = ConvPoolLayer(filterShape: (2, 1, 30, 30), imageShape: (10, 1, 28, 28))
        XCTAssertThrowsError(try Network(layers: [tooLarge, SoftmaxLayer(nIn: 2, nOut: 2)], miniBatchSize: 10))
    }

    func testInitialisationFollowsTheSeed() throws {
        let network = try Network(layers: seedLayers(batch: 10), miniBatchSize: 10, seed: 3)
        let convWeights = Array(network.parameters[0..<500])
        let mean = convWeights.reduce(0, +) / 500
        let deviation = (convWeights.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 500).squareRoot()
        // n_out = 20 * 25 / 4 = 125, so the standard deviation is sqrt(1/125) ~ 0.089.
        XCTAssertEqual(Double(deviation), (1.0 / 125.0).squareRoot(), accuracy: 0.015)
        let softmaxWeightsStart = 500 + 2880 * 100
        XCTAssertTrue(network.parameters[softmaxWeightsStart..<network.weightCount].allSatisfy { $0 == 0 })
        XCTAssertTrue(network.parameters[(network.parameters.count - 10)...].allSatisfy { $0 == 0 })
    }

    func testTheSameSeedRepeatsARunBitForBit() throws {
        let data = syntheticDigits(count: 60, seed: 1)
        func train(seed: UInt64) throws -> [Float] {
            let network = try Network(layers: seedLayers(batch: 10), miniBatchSize: 10, seed: seed)
            try network.sgd(trainingData: data, epochs: 2, miniBatchSize: 10, eta: 0.1, validationData: data)
            return Array(network.parameters)
        }
        let first = try train(seed: 7)
        XCTAssertEqual(first, try train(seed: 7))
        XCTAssertNotEqual(first, try train(seed: 8))
    }

    func testThreadCountsAgreeUpToRounding() throws {
        // Dropout masks depend only on the sample's place in the mini-batch,
        // so one, two and three threads train the same network; only the
        // order of the gradient sums differs.
        let data = syntheticDigits(count: 60, seed: 5)
        func train(threads: Int) throws -> [Float] {
            let network = try Network(layers: seedLayers(batch: 10), miniBatchSize: 10, threads: threads, seed: 9)
            try network.sgd(trainingData: data, epochs: 2, miniBatchSize: 10, eta: 0.1, validationData: data)
            return Array(network.parameters)
        }
        let single = try train(threads: 1)
        for threads in [2, 3] {
            let parallel = try train(threads: threads)
            XCTAssertEqual(parallel, try train(threads: threads), "\(threads) threads must repeat bit for bit")
            let worst = zip(single, parallel).map { abs($0 - $1) / max(1, abs($0)) }.max() ?? 0
            XCTAssertLessThan(worst, 1e-4, "\(threads) threads drifted from one thread by \(worst)")
        }
    }

    func testSGDReducesTheCostOfAFixedBatch() throws {
        let data = syntheticDigits(count: 10, seed: 2)
        let network = try Network(layers: seedLayers(batch: 10, dropout: 0), miniBatchSize: 10, seed: 4)
        network.loadBatch(data, start: 0, batch: 10)
        let initial = network.forward(batch: 10, training: true)
        XCTAssertEqual(Double(initial), log(10.0), accuracy: 1e-4, "zero softmax weights give a uniform guess")
        // eta 0.2: at 0.5 the path was chaotic, and kernels whose forward
        // costs agreed to an ulp at every step ended 100 steps at costs from
        // 0.09 to 0.38; here every kernel path ends within 0.5% of 0.10.
        for _ in 0..<200 {
            try network.trainMiniBatch(data, start: 0, eta: 0.2, weightDecay: 0)
        }
        network.loadBatch(data, start: 0, batch: 10)
        let final = network.forward(batch: 10, training: true)
        XCTAssertLessThan(final, 0.1 * initial, "cost went from \(initial) to \(final)")
        XCTAssertEqual(try network.accuracy(on: data), 1.0)
    }

    func testProbabilitiesAreDistributionsWhoseArgmaxIsThePrediction() throws {
        let data = syntheticDigits(count: 100, seed: 6)
        let network = try Network(layers: seedLayers(batch: 10, dropout: 0), miniBatchSize: 10, threads: 2, seed: 3)
        try network.sgd(trainingData: data, epochs: 60, miniBatchSize: 10, eta: 0.2, validationData: data)
        XCTAssertGreaterThan(try network.accuracy(on: data), 0.5)
        let probabilities = try network.probabilities(on: data)
        XCTAssertEqual(probabilities.count, data.count * 10)
        var predictions: [Int32] = []
        try network.forEachPrediction(on: data) { _, predicted, _ in predictions.append(predicted) }
        for sample in 0..<data.count {
            let row = probabilities[(sample * 10)..<(sample * 10 + 10)]
            XCTAssertEqual(Double(row.reduce(0, +)), 1, accuracy: 1e-5, "sample \(sample)'s probabilities do not sum to 1")
            XCTAssertTrue(row.allSatisfy { $0 >= 0 })
            XCTAssertEqual(Int32(row.firstIndex(of: row.max()!)! - sample * 10), predictions[sample], "sample \(sample)")
        }
        XCTAssertGreaterThan(Set(predictions).count, 1, "a trained network should not predict one class for everything")
    }

    func testLabelsBeyondTheSoftmaxAreRefusedBeforeTraining() throws {
        let data = syntheticDigits(count: 30, seed: 7)
        let layers: [any Layer] = [FullyConnectedLayer(nIn: 784, nOut: 8), SoftmaxLayer(nIn: 8, nOut: 3)]
        let network = try Network(layers: layers, miniBatchSize: 10, threads: 1)
        let before = Array(network.parameters)
        XCTAssertThrowsError(try network.sgd(trainingData: data, epochs: 1, miniBatchSize: 10, eta: 0.1, validationData: data)) {
            XCTAssertTrue("\($0)".contains("but the network's softmax layer has 3 classes (0...2)"), "\($0)")
        }
        XCTAssertEqual(Array(network.parameters), before, "nothing trained")
        // Evaluation does not need labels inside the softmax's range: they are only compared.
        XCTAssertLessThanOrEqual(try network.accuracy(on: data), 1)
    }

    func testDivergenceStopsTrainingWithAClearMessage() throws {
        let data = syntheticDigits(count: 100, seed: 3)
        let network = try Network(layers: seedLayers(batch: 10), miniBatchSize: 10, seed: 4)
        XCTAssertThrowsError(try network.sgd(trainingData: data, epochs: 3, miniBatchSize: 10, eta: 1e6,
                                             validationData: data)) { error in
            let message = String(describing: error)
            XCTAssertTrue(message.contains("diverged") && message.contains("smaller eta"), message)
        }
    }

    func testSeedLinesMatchNetwork3WordForWord() {
        let report = EpochReport(epoch: 3, trainingCost: 0.1, validationAccuracy: 0.9762, isBestSoFar: true,
                                 testAccuracy: 0.974, trainingSeconds: 2, imagesPerSecond: 25000)
        let lines = TrainingEvent.epochFinished(report).seedLines
        XCTAssertEqual(Array(lines.prefix(3)), [
            "Epoch 3: validation accuracy 97.62%",
            "This is the best validation accuracy to date.",
            "The corresponding test accuracy is 97.40%",
        ])
        let summary = TrainingSummary(bestValidationAccuracy: 0.9857, bestIteration: 104999, testAccuracy: 0.9847, epochs: [])
        XCTAssertEqual(TrainingEvent.finished(summary).seedLines, [
            "Finished training network.",
            "Best validation accuracy of 98.57% obtained at iteration 104999",
            "Corresponding test accuracy of 98.47%",
        ])
        XCTAssertEqual(TrainingEvent.miniBatch(iteration: 1000).seedLines, ["Training mini-batch number 1000"])
    }
}

/// `cnn bench`'s arithmetic count: the seed's networks come to the figures the speed issue
/// works from (about 144 GFLOP an epoch for one conv layer, about 460 for two).
final class NetworkFLOPsTests: XCTestCase {
    func testTheSeedsNetworksCountAsThePeersDo() throws {
        let one = seedOneConvLayers(batch: 10)
        XCTAssertEqual(NetworkFLOPs.multiplyAdds(one[0]), 20 * 25 * 24 * 24)
        XCTAssertEqual(NetworkFLOPs.multiplyAdds(one[1]), 2880 * 100)
        let a = NetworkFLOPs.perSample(one)
        XCTAssertEqual(a.forward, 2 * (288_000 + 288_000 + 1_000))
        // Weight gradients for all three products, input gradients for all but the first.
        XCTAssertEqual(a.training, a.forward * 2 + 2 * (288_000 + 1_000))
        XCTAssertEqual(a.training * 50_000 / 1e9, 144.3, accuracy: 0.05)
        let two = try NetworkSpec.layers(from: "conv 20 5x5, pool 2, conv 40 5x5, pool 2, fc 100 dropout 0.3, softmax 10",
                                         input: SampleShape(channels: 1, height: 28, width: 28), miniBatchSize: 10)
        XCTAssertEqual(NetworkFLOPs.perSample(two).training * 50_000 / 1e9, 461.1, accuracy: 0.05)
        let padded = ConvLayer(filterShape: (8, 3, 3, 3), inputShape: SampleShape(channels: 3, height: 16, width: 16), padding: 1, stride: 2)
        XCTAssertEqual(NetworkFLOPs.multiplyAdds(padded), 8 * 3 * 9 * 8 * 8, "positions after padding and stride")
        XCTAssertEqual(NetworkFLOPs.multiplyAdds(MaxPoolLayer(inputShape: SampleShape(channels: 2, height: 4, width: 4))), 0)
    }
}
