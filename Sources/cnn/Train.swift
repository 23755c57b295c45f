// Train.swift: `cnn train`, the seed's training run.
//
// Its defaults are network3.py's final script: one conv-pool layer, FC 100
// with dropout 0.3, softmax 10, sigmoid, 30 epochs, mini-batch 10, eta 0.1.
// It prints the seed's lines word for word, plus a timing line per epoch.

import ArgumentParser
import Foundation
import SwiftNet

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train one of the seed's networks on MNIST and report validation and test accuracy.")

    @Option(help: "The network: one-conv or two-conv.")
    var net: SeedNetwork = .oneConv

    @Option(help: "Probability of dropping each input of the fully connected layer while training.")
    var dropout: Float = 0.3

    @Option(help: "Passes over the 50,000 training images.")
    var epochs: Int = 30

    @Option(help: "Images per SGD step.")
    var miniBatchSize: Int = 10

    @Option(help: "The learning rate.")
    var eta: Float = 0.1

    @Option(help: "L2 regularisation strength, as in the seed.")
    var lmbda: Float = 0

    @Option(help: "Activation of every conv and fully connected layer: sigmoid, tanh, relu or linear.")
    var activation: Activation = .sigmoid

    @Option(help: "Threads sharing each mini-batch (default: every core). The same seed and thread count repeat a run bit for bit.")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Seed of the initial weights and dropout masks.")
    var seed: UInt64 = 0

    @Option(help: "The MNIST pickle (network3.py's mnist.pkl.gz).")
    var data: String = "data/mnist.pkl.gz"

    func validate() throws {
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1, got \(epochs)") }
        guard miniBatchSize >= 1 else { throw ValidationError("--mini-batch-size must be at least 1, got \(miniBatchSize)") }
        guard eta.isFinite, eta > 0 else { throw ValidationError("--eta must be a positive number, got \(eta)") }
        guard lmbda.isFinite, lmbda >= 0 else { throw ValidationError("--lmbda must be zero or positive, got \(lmbda)") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1, got \(threads)") }
        guard dropout.isFinite, dropout >= 0, dropout < 1 else {
            throw ValidationError("--dropout must lie in [0, 1), got \(dropout)")
        }
    }

    func run() throws {
        let mnist = try MNIST.load(contentsOf: data)
        let network = try Network(
            layers: net.layers(miniBatchSize: miniBatchSize, activation: activation, dropout: dropout),
            miniBatchSize: miniBatchSize, threads: threads, seed: seed)
        try network.sgd(trainingData: mnist.training, epochs: epochs, miniBatchSize: miniBatchSize, eta: eta,
                        validationData: mnist.validation, testData: mnist.test, lmbda: lmbda) { event in
            for line in event.seedLines { print(line) }
            fflush(stdout)
        }
    }
}
