// NetworkGradientTests.swift: the whole network's backward pass against
// central finite differences of its cost.
//
// The C kernels are each checked alone in CKernelsTests; this checks that
// the Swift wiring (views into the parameter block, buffers handed from
// layer to layer, dropout masks, zeroing) composes them correctly.  Dropout
// is ON: the generator state is saved and restored around every evaluation,
// so each cost sees the same mask.

import CKernels
@testable import SwiftNet
import XCTest

final class NetworkGradientTests: XCTestCase {
    /// A small network with every kind of layer, and parameters made
    /// non-trivial (the softmax starts at zero, which would zero every
    /// upstream gradient).
    private func makeNetwork(activation: Activation, batch: Int, separateLayers: Bool = false) throws -> Network {
        // The same shapes from ConvLayer, MaxPoolLayer and a conv without pooling.
        let separate: [any Layer] = [
            ConvLayer(filterShape: (3, 2, 3, 3), inputShape: SampleShape(channels: 2, height: 9, width: 8), activation: activation),
            MaxPoolLayer(inputShape: SampleShape(channels: 3, height: 7, width: 6), poolSize: (2, 2)),
            ConvLayer(filterShape: (4, 3, 2, 2), inputShape: SampleShape(channels: 3, height: 3, width: 3), activation: activation),
            MaxPoolLayer(inputShape: SampleShape(channels: 4, height: 2, width: 2), poolSize: (1, 2)),
            FullyConnectedLayer(nIn: 4 * 2 * 1, nOut: 7, activation: activation, pDropout: 0.25),
            SoftmaxLayer(nIn: 7, nOut: 5, pDropout: 0.2),
        ]
        let network = try Network(layers: separateLayers ? separate : [
            ConvPoolLayer(filterShape: (3, 2, 3, 3), imageShape: (batch, 2, 9, 8), poolSize: (2, 2), activation: activation),
            ConvPoolLayer(filterShape: (4, 3, 2, 2), imageShape: (batch, 3, 3, 3), poolSize: (1, 2), activation: activation),
            FullyConnectedLayer(nIn: 4 * 2 * 1, nOut: 7, activation: activation, pDropout: 0.25),
            SoftmaxLayer(nIn: 7, nOut: 5, pDropout: 0.2),
        ], miniBatchSize: batch, seed: 11)
        var random = RandomSource(seed: 99)
        network.parameters.fillGaussian(standardDeviation: 0.7, random: &random)
        return network
    }

    private func syntheticData(count: Int, shape: SampleShape, classes: Int, seed: UInt64) -> Dataset {
        var random = RandomSource(seed: seed)
        let pixels = (0..<(count * shape.count)).map { _ in UInt8(truncatingIfNeeded: random.next() >> 56) }
        let labels = (0..<count).map { _ in Int32(random.next() % UInt64(classes)) }
        return Dataset.valid(name: "synthetic", channels: shape.channels, height: shape.height, width: shape.width,
                       pixels: pixels, labels: labels, classCount: classes)
    }

    func testBackwardMatchesFiniteDifferencesForEveryActivation() throws {
        for activation in [Activation.sigmoid, .tanh, .linear] {
            try checkGradients(activation: activation)
        }
    }

    func testSeparateConvAndPoolLayersBackwardMatchesFiniteDifferences() throws {
        for activation in [Activation.sigmoid, .relu] {
            try checkGradients(activation: activation, separateLayers: true)
        }
    }

    /// ConvLayer + MaxPoolLayer compute what ConvPoolLayer computes (pooling
    /// commutes with the non-decreasing activations), forward and backward.
    func testConvThenPoolEqualsConvPool() throws {
        let batch = 3
        for activation in Activation.allCases {
            let fused = try makeNetwork(activation: activation, batch: batch)
            let separate = try makeNetwork(activation: activation, batch: batch, separateLayers: true)
            XCTAssertEqual(fused.parameters.count, separate.parameters.count)
            _ = separate.parameters.update(fromContentsOf: Array(fused.parameters))
            separate.random = fused.random
            let data = syntheticData(count: batch, shape: fused.inputShape, classes: 5, seed: 21)
            fused.loadBatch(data, start: 0, batch: batch)
            separate.loadBatch(data, start: 0, batch: batch)
            let costs = (fused.forward(batch: batch, training: true), separate.forward(batch: batch, training: true))
            XCTAssertEqual(costs.0, costs.1, accuracy: 1e-6 * max(1, abs(costs.0)), "\(activation): cost")
            fused.backward(batch: batch)
            separate.backward(batch: batch)
            let worst = zip(fused.gradients, separate.gradients).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThan(worst, 1e-5, "\(activation): gradients differ by \(worst)")
        }
    }

    /// The threaded training step (conv layers data-parallel, dense layers
    /// split by weight rows and updated in a fused pass) must apply exactly
    /// the update the reference backward computes: params -= eta * (grad +
    /// l2 * weights), with the same dropout masks.
    func testThreadedStepAppliesTheReferenceGradient() throws {
        let batch = 6
        let withConvolutions: [any Layer] = [
            ConvPoolLayer(filterShape: (3, 2, 3, 3), imageShape: (batch, 2, 9, 8), poolSize: (2, 2), activation: .tanh),
            ConvPoolLayer(filterShape: (4, 3, 2, 2), imageShape: (batch, 3, 3, 3), poolSize: (1, 2), activation: .sigmoid),
            FullyConnectedLayer(nIn: 8, nOut: 7, activation: .sigmoid, pDropout: 0.25),
            FullyConnectedLayer(nIn: 7, nOut: 6, activation: .relu, pDropout: 0.1),
            SoftmaxLayer(nIn: 6, nOut: 5, pDropout: 0.2),
        ]
        // Dense layers of 16,384 weights or more are split between threads
        // by rows; smaller ones run whole on one thread.  Both kinds, with
        // and without conv layers in front (dense layers alone read the
        // images directly).
        let wideDense: [any Layer] = [
            ConvPoolLayer(filterShape: (3, 2, 3, 3), imageShape: (batch, 2, 9, 8), poolSize: (2, 2), activation: .tanh),
            ConvPoolLayer(filterShape: (4, 3, 2, 2), imageShape: (batch, 3, 3, 3), poolSize: (1, 2), activation: .sigmoid),
            FullyConnectedLayer(nIn: 8, nOut: 2100, activation: .sigmoid, pDropout: 0.25),
            SoftmaxLayer(nIn: 2100, nOut: 5, pDropout: 0.2),
        ]
        let denseOnly: [any Layer] = [
            FullyConnectedLayer(nIn: 2 * 9 * 8, nOut: 120, activation: .tanh, pDropout: 0.2),
            FullyConnectedLayer(nIn: 120, nOut: 140, activation: .sigmoid, pDropout: 0.1),
            SoftmaxLayer(nIn: 140, nOut: 5, pDropout: 0.1),
        ]
        let cases = [(withConvolutions, 1), (withConvolutions, 2), (withConvolutions, 3), (wideDense, 1), (wideDense, 2),
                     (wideDense, 3), (denseOnly, 1), (denseOnly, 2)]
        // Plain SGD, then momentum and Nesterov momentum from a non-zero velocity.
        let rules: [(momentum: Float, nesterov: Bool)] = [(0, false), (0.9, false), (0.7, true)]
        for (layers, threads) in cases {
            for rule in rules {
                let network = try Network(layers: layers, miniBatchSize: batch, threads: threads, seed: 3)
                var random = RandomSource(seed: 17)
                network.parameters.fillGaussian(standardDeviation: 0.7, random: &random)
                network.velocities.fillGaussian(standardDeviation: 0.3, random: &random)
                (network.momentum, network.nesterov) = rule
                let velocity = Array(network.velocities)
                let data = syntheticData(count: batch, shape: SampleShape(channels: 2, height: 9, width: 8), classes: 5, seed: 8)
                let before = Array(network.parameters)
                let savedRandom = network.random
                let (eta, decay): (Float, Float) = (0.3, 0.05)

                network.loadBatch(data, start: 0, batch: batch)
                let referenceCost = network.forward(batch: batch, training: true)
                network.backward(batch: batch)
                let gradient = Array(network.gradients)
                let expected = before.indices.map { index -> Float in
                    let d = gradient[index] + (index < network.weightCount ? decay * before[index] : 0)
                    guard rule.momentum > 0 else { return before[index] - eta * d }
                    let v = rule.momentum * velocity[index] + d
                    return before[index] - eta * (rule.nesterov ? d + rule.momentum * v : v)
                }

                network.random = savedRandom
                let cost = try network.trainMiniBatch(data, start: 0, eta: eta, weightDecay: decay)
                XCTAssertEqual(cost, referenceCost, accuracy: 1e-5, "\(threads) threads: cost")
                let after = Array(network.parameters)
                let scale = gradient.map { abs($0) }.max() ?? 1
                var mismatches: [String] = []
                for index in before.indices where abs(after[index] - expected[index]) > 1e-5 * (1 + eta * scale) {
                    mismatches.append("[\(index)] got \(after[index]) want \(expected[index])")
                }
                XCTAssertTrue(mismatches.isEmpty, "\(layers.count) layers, \(threads) threads, \(rule): \(mismatches.count) of \(before.count) parameters differ: \(mismatches.prefix(5))")
                XCTAssertNotEqual(after, before, "\(threads) threads: the step changed nothing")
                if rule.momentum == 0 {
                    XCTAssertEqual(Array(network.velocities), velocity, "plain SGD must leave the velocities alone")
                }
            }
        }
    }

    private func checkGradients(activation: Activation, separateLayers: Bool = false) throws {
        let batch = 3
        let network = try makeNetwork(activation: activation, batch: batch, separateLayers: separateLayers)
        let data = syntheticData(count: batch, shape: network.inputShape, classes: 5, seed: 5)
        network.loadBatch(data, start: 0, batch: batch)
        // Every parameter of this small network; the small step seldom crosses a pooling kink.
        let check = FiniteDifferenceCheck(network: network, batch: batch)
        let (analytic, failures, skipped) = (check.analytic, check.failures, check.skipped)
        XCTAssertTrue(analytic.contains { $0 != 0 }, "\(activation): all gradients are zero")
        XCTAssertLessThan(skipped, analytic.count / 10, "\(activation): too many parameters sit at a pooling kink")
        XCTAssertTrue(failures.isEmpty,
                      "\(activation): \(failures.count) of \(analytic.count) gradients disagree; first: \(failures.prefix(5))")
    }
}
