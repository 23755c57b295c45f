// BatchNormNetworkTests.swift: batch normalization inside whole networks.
//
// The kernels are checked alone in CKernelsTests/BatchNormTests; this checks
// the layer as the engine runs it: its backward against finite differences
// of the network's cost, the threaded step (per-thread sums combined around
// a barrier in the conv prefix, the dense-suffix stage) against the
// reference gradient, evaluation with the running statistics, checkpoints
// and resuming bit for bit, thread counts, the spec, and one real MNIST
// epoch of the issue's network.

import CKernels
@testable import SwiftNet
import XCTest

final class BatchNormNetworkTests: XCTestCase {
    private static let spec = "conv 20 5x5 linear, batchnorm relu, pool 2, fc 100 linear, batchnorm relu, softmax 10"

    /// conv -> batch norm (per channel) -> pool -> fc -> batch norm (per unit) -> softmax, on 2x9x8 images.
    private func layers(activation: Activation = .tanh) -> [any Layer] {
        [
            ConvLayer(filterShape: (3, 2, 3, 3), inputShape: SampleShape(channels: 2, height: 9, width: 8), activation: .linear),
            BatchNormLayer(inputShape: SampleShape(channels: 3, height: 7, width: 6), activation: activation),
            MaxPoolLayer(inputShape: SampleShape(channels: 3, height: 7, width: 6), poolSize: (2, 2)),
            FullyConnectedLayer(nIn: 27, nOut: 7, activation: .linear, pDropout: 0.2),
            BatchNormLayer(inputShape: .flat(7), activation: activation),
            SoftmaxLayer(nIn: 7, nOut: 5, pDropout: 0.1),
        ]
    }

    private func data(count: Int, seed: UInt64, shape: SampleShape = SampleShape(channels: 2, height: 9, width: 8),
                      classes: Int = 5) -> Dataset {
        var random = RandomSource(seed: seed)
        let labels = (0..<count).map { _ in Int32(random.next() % UInt64(classes)) }
        var pixels = [UInt8](repeating: 0, count: count * shape.count)
        for image in 0..<count {
            for index in 0..<shape.count {
                // Some signal in the label, plus noise.
                let signal = index % classes == Int(labels[image]) ? 120 : 0
                pixels[image * shape.count + index] = UInt8(signal + Int(random.next() % 100))
            }
        }
        return Dataset.valid(name: "synthetic", channels: shape.channels, height: shape.height, width: shape.width,
                             pixels: pixels, labels: labels, classCount: classes)
    }

    /// Non-trivial parameters: gamma and beta away from 1 and 0, the softmax away from zero.
    private func perturb(_ network: Network, seed: UInt64 = 99) {
        var random = RandomSource(seed: seed)
        let values = (0..<network.parameters.count).map { _ in Float(random.nextGaussian(standardDeviation: 0.5)) }
        for index in values.indices { network.parameters[index] += values[index] }
    }

    func testBackwardMatchesFiniteDifferences() throws {
        for activation in [Activation.tanh, .sigmoid] {
            let batch = 4
            let network = try Network(layers: layers(activation: activation), miniBatchSize: batch, threads: 1, seed: 5)
            perturb(network)
            let samples = data(count: batch, seed: 7)
            network.loadBatch(samples, start: 0, batch: batch)
            let check = FiniteDifferenceCheck(network: network, batch: batch)
            let (analytic, failures, skipped) = (check.analytic, check.failures, check.skipped)
            XCTAssertTrue(analytic.contains { $0 != 0 }, "\(activation): all gradients are zero")
            // gamma and beta of both layers must get gradients.
            let biasGradients = analytic[network.weightCount...]
            XCTAssertGreaterThan(biasGradients.filter { $0 != 0 }.count, biasGradients.count / 2, "\(activation)")
            XCTAssertLessThan(skipped, analytic.count / 10, "\(activation): too many pooling kinks")
            XCTAssertTrue(failures.isEmpty, "\(activation): \(failures.count) of \(analytic.count) disagree: \(failures.prefix(5))")
        }
    }

    /// The threaded step (batch statistics over every thread's samples) applies the reference gradient.
    func testThreadedStepAppliesTheReferenceGradient() throws {
        try assertThreadedStepAppliesTheReferenceGradient(layers())
    }

    /// The same with batch norm first in the network, twice in the spatial prefix, and last in
    /// it: the scheduler splits the prefix into phases at each one, and every split must hold.
    func testThreadedStepAppliesTheReferenceGradientWhereverBatchNormStands() throws {
        try assertThreadedStepAppliesTheReferenceGradient(batchNormEverywhere())
    }

    /// Batch norm first, after the conv, and last in the spatial prefix.
    private func batchNormEverywhere() -> [any Layer] {
        let image = SampleShape(channels: 2, height: 9, width: 8), convolved = SampleShape(channels: 3, height: 7, width: 6)
        let pooled = SampleShape(channels: 3, height: 3, width: 3)
        return [
            BatchNormLayer(inputShape: image, activation: .linear),
            ConvLayer(filterShape: (3, 2, 3, 3), inputShape: image, activation: .linear),
            BatchNormLayer(inputShape: convolved, activation: .tanh),
            MaxPoolLayer(inputShape: convolved, poolSize: (2, 2)),
            BatchNormLayer(inputShape: pooled, activation: .sigmoid),
            FullyConnectedLayer(nIn: 27, nOut: 7, activation: .tanh),
            SoftmaxLayer(nIn: 7, nOut: 5),
        ]
    }

    /// The reference path's segments, with batch norm first, twice more, and last in the prefix.
    func testBackwardMatchesFiniteDifferencesWhereverBatchNormStands() throws {
        let batch = 4
        let network = try Network(layers: batchNormEverywhere(), miniBatchSize: batch, threads: 1, seed: 6)
        perturb(network, seed: 31)
        network.loadBatch(data(count: batch, seed: 9), start: 0, batch: batch)
        let check = FiniteDifferenceCheck(network: network, batch: batch)
        XCTAssertTrue(check.analytic.contains { $0 != 0 })
        XCTAssertLessThan(check.skipped, check.analytic.count / 10, "too many pooling kinks")
        XCTAssertTrue(check.failures.isEmpty, "\(check.failures.count) of \(check.analytic.count) disagree: \(check.failures.prefix(5))")
    }

    private func assertThreadedStepAppliesTheReferenceGradient(_ layers: [any Layer]) throws {
        let batch = 6
        for threads in [1, 2, 3] {
            for momentum: Float in [0, 0.9] {
                let network = try Network(layers: layers, miniBatchSize: batch, threads: threads, seed: 3)
                perturb(network, seed: 17)
                network.momentum = momentum
                let samples = data(count: batch, seed: 8)
                let before = Array(network.parameters)
                let stateBefore = Array(network.state)
                let savedRandom = network.random
                let (eta, decay): (Float, Float) = (0.3, 0.05)

                network.loadBatch(samples, start: 0, batch: batch)
                let referenceCost = network.forward(batch: batch, training: true)
                network.backward(batch: batch)
                let gradient = Array(network.gradients)
                let referenceState = Array(network.state)
                let expected = before.indices.map { index -> Float in
                    // The velocity starts at zero, so one step with momentum is a plain step.
                    before[index] - eta * (gradient[index] + (index < network.weightCount ? decay * before[index] : 0))
                }
                _ = network.state.update(fromContentsOf: stateBefore)
                network.random = savedRandom
                let cost = try network.trainMiniBatch(samples, start: 0, eta: eta, weightDecay: decay)
                XCTAssertEqual(cost, referenceCost, accuracy: 1e-5, "\(threads) threads: cost")
                let after = Array(network.parameters)
                let scale = gradient.map { abs($0) }.max() ?? 1
                let mismatches = before.indices.filter { abs(after[$0] - expected[$0]) > 1e-5 * (1 + eta * scale) }
                XCTAssertTrue(mismatches.isEmpty, "\(threads) threads: \(mismatches.count) of \(before.count) differ, first "
                    + "\(mismatches.prefix(3).map { "[\($0)] \(after[$0]) vs \(expected[$0])" })")
                // The running statistics moved, the same way as on one part.
                XCTAssertNotEqual(Array(network.state), stateBefore)
                for (got, want) in zip(network.state, referenceState) { XCTAssertEqual(got, want, accuracy: 1e-5 * (1 + abs(want))) }
            }
        }
    }

    /// Evaluation normalizes with the running statistics: a sample's output does not depend on
    /// the other samples of its pass, and it is what the formula gives.
    func testEvaluationUsesTheRunningStatistics() throws {
        let layers: [any Layer] = [
            FullyConnectedLayer(nIn: 4, nOut: 3, activation: .linear),
            BatchNormLayer(inputShape: .flat(3), activation: .linear),
            SoftmaxLayer(nIn: 3, nOut: 2),
        ]
        let network = try Network(layers: layers, miniBatchSize: 2, evaluationBatchSize: 5, threads: 1, seed: 2)
        perturb(network, seed: 4)
        let state: [Float] = [0.3, -0.2, 0.1, 0.5, 2.0, 0.8]  // running mean, then running variance
        _ = network.state.update(fromContentsOf: state)
        let samples = data(count: 5, seed: 3, shape: SampleShape(channels: 1, height: 2, width: 2), classes: 2)
        let together = try network.probabilities(on: samples)
        let alone = try network.probabilities(on: samples.prefix(1))
        XCTAssertEqual(Array(together[0..<2]), alone, "a sample's output depends on the others in its pass")

        // By hand: fc (weights 4x3 then the softmax's 3x2; biases fc 3, gamma 3, beta 3, softmax 2).
        let p = Array(network.parameters)
        let x = samples.pixels[0..<4].map { Float($0) / 256 }
        let fcWeights = p[0..<12], softmaxWeights = p[12..<18]
        let fcBias = p[18..<21], gamma = p[21..<24], beta = p[24..<27], softmaxBias = p[27..<29]
        var normalized = [Float](repeating: 0, count: 3)
        for unit in 0..<3 {
            var z = fcBias[18 + unit]
            for input in 0..<4 { z += x[input] * fcWeights[input * 3 + unit] }
            normalized[unit] = gamma[21 + unit] * (z - state[unit]) / (state[3 + unit] + 1e-5).squareRoot() + beta[24 + unit]
        }
        var logits = [Float](repeating: 0, count: 2)
        for out in 0..<2 {
            logits[out] = softmaxBias[27 + out]
            for unit in 0..<3 { logits[out] += normalized[unit] * softmaxWeights[12 + unit * 2 + out] }
        }
        let top = logits.max()!
        let exps = logits.map { exp($0 - top) }
        for out in 0..<2 { XCTAssertEqual(together[out], exps[out] / exps.reduce(0, +), accuracy: 1e-5) }

        // Other running statistics give other outputs.
        network.state[0] += 1
        XCTAssertNotEqual(try network.probabilities(on: samples.prefix(1)), alone)
    }

    func testCheckpointsKeepTheRunningStatisticsAndResumeBitForBit() throws {
        let train = data(count: 36, seed: 11), validation = data(count: 12, seed: 12)
        for threads in [1, 2] {
            func fresh() throws -> Network { try Network(layers: layers(), miniBatchSize: 6, threads: threads, seed: 9) }
            let whole = try fresh()
            _ = try whole.train(trainingData: train, validationData: validation, epochs: 3, eta: 0.2)

            let first = try fresh()
            var steps = 0
            let outcome = try first.train(trainingData: train, validationData: validation, epochs: 3, eta: 0.2,
                                          shouldStop: { steps += 1; return steps == 8 })
            guard case .stopped(let progress) = outcome else { return XCTFail("did not stop") }
            let saved = try Checkpoint(network: first, hyperparameters: TrainingHyperparameters(epochs: 3, eta: 0.2, seed: 9),
                                       progress: progress)
            let decoded = try Checkpoint(decoding: saved.encoded(), source: "bn.ckpt")
            XCTAssertEqual(decoded.state, Array(first.state), "the running statistics round-trip")
            XCTAssertEqual(try decoded.encoded(), try saved.encoded())
            let resumed = try decoded.makeNetwork(threads: threads)
            _ = try resumed.train(trainingData: train, validationData: validation, epochs: 3, eta: 0.2, from: decoded.progress)
            XCTAssertEqual(Array(resumed.parameters).map(\.bitPattern), Array(whole.parameters).map(\.bitPattern), "\(threads) threads")
            XCTAssertEqual(Array(resumed.state).map(\.bitPattern), Array(whole.state).map(\.bitPattern), "\(threads) threads")
            XCTAssertEqual(try resumed.probabilities(on: validation), try whole.probabilities(on: validation))
        }
    }

    func testThreadCountsAgreeUpToRounding() throws {
        let train = data(count: 60, seed: 21), validation = data(count: 20, seed: 22)
        var results: [[Float]] = []
        for threads in [1, 2, 3, 6] {
            let network = try Network(layers: layers(), miniBatchSize: 6, threads: threads, seed: 4)
            _ = try network.train(trainingData: train, validationData: validation, epochs: 2, eta: 0.1)
            results.append(Array(network.parameters) + Array(network.state))
        }
        for (index, result) in results.enumerated().dropFirst() {
            let worst = zip(result, results[0]).map { abs($0 - $1) / (1 + abs($1)) }.max() ?? 0
            XCTAssertLessThan(worst, 1e-3, "thread count \(index): differs by \(worst)")
        }
    }

    func testTheSpecBuildsAndDescribesBatchNorm() throws {
        let layers = try NetworkSpec.layers(from: Self.spec, input: SampleShape(channels: 1, height: 28, width: 28),
                                            miniBatchSize: 10)
        XCTAssertEqual(layers.count, 6)
        let perChannel = try XCTUnwrap(layers[1] as? BatchNormLayer)
        XCTAssertEqual(perChannel.inputShape, SampleShape(channels: 20, height: 24, width: 24))
        XCTAssertEqual(perChannel.activation, .relu)
        XCTAssertEqual((layers[4] as? BatchNormLayer)?.inputShape, .flat(100))
        XCTAssertEqual(NetworkSpec.describe(layers), Self.spec)
        XCTAssertThrowsError(try NetworkSpec.layers(from: "conv 4 3, batchnorm relu 2, softmax 10",
                                                    input: SampleShape(channels: 1, height: 8, width: 8), miniBatchSize: 2)) {
            XCTAssertEqual($0 as? NetworkSpecError,
                           .badPart(number: 2, text: "batchnorm relu 2", reason: "unexpected '2'; a batchnorm part is "
                                        + "'batchnorm [sigmoid, tanh, relu, linear]'"))
        }
    }

    /// L2 decays weights, never gamma and beta (they sit with the biases).
    func testL2DoesNotDecayGammaAndBeta() throws {
        let network = try Network(layers: layers(), miniBatchSize: 6, threads: 1, seed: 3)
        let gammaAndBeta = network.weightCount..<network.parameters.count
        XCTAssertEqual(network.weightCount, 3 * 2 * 3 * 3 + 27 * 7 + 7 * 5)
        let before = Array(network.parameters[gammaAndBeta])
        // A huge decay would move any decayed parameter far from its plain gradient step.
        let samples = data(count: 6, seed: 2)
        let savedRandom = network.random
        network.loadBatch(samples, start: 0, batch: 6)
        network.forward(batch: 6, training: true)
        network.backward(batch: 6)
        let gradient = Array(network.gradients[gammaAndBeta])
        network.random = savedRandom
        try network.trainMiniBatch(samples, start: 0, eta: 1e-3, weightDecay: 1000)
        for (index, (old, new)) in zip(before, network.parameters[gammaAndBeta]).enumerated() {
            XCTAssertEqual(new, old - 1e-3 * gradient[index], accuracy: 1e-6, "bias-region parameter \(index) was decayed")
        }
    }

    func testTheIssuesNetworkTrainsOneMNISTEpochToNinetySevenPercent() throws {
        let mnist = try MNIST.load(contentsOf: try SeedAccuracyTests.mnistPath())
        let layers = try NetworkSpec.layers(from: Self.spec, input: SampleShape(channels: 1, height: 28, width: 28),
                                            miniBatchSize: 10)
        let network = try Network(layers: layers, miniBatchSize: 10, threads: 2, seed: 0)
        let summary = try network.sgd(trainingData: mnist.training, epochs: 1, miniBatchSize: 10, eta: 0.1,
                                      validationData: mnist.validation, testData: mnist.test)
        let epoch = try XCTUnwrap(summary.epochs.first)
        print("batch norm spec, epoch 0: validation \(epoch.validationAccuracy), test \(epoch.testAccuracy ?? -1), "
              + "\(epoch.trainingSeconds) s")
        XCTAssertGreaterThanOrEqual(epoch.validationAccuracy, 0.97)
    }
}
