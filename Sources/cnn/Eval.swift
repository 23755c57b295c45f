// Eval.swift: `cnn eval`, accuracy of a saved model without training.
//
// This is the seed's is_load_model_from_file mode: load the parameters,
// report accuracy, train nothing.  The model comes from a checkpoint (of
// `cnn train --save` or `cnn import-network3`), which carries its own
// architecture, so no network flags are needed.  The checkpoint's thread
// count and evaluation batch size are used by default, so the figures are
// exactly those training printed.

import ArgumentParser
import Foundation
import SwiftNet

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a saved model's validation and test accuracy on MNIST, without training.")

    @Option(help: ArgumentHelp("The checkpoint: from cnn train --save, or cnn import-network3.", valueName: "path"))
    var model: String

    @Option(help: "The MNIST pickle (network3.py's mnist.pkl.gz).")
    var data: String = "data/mnist.pkl.gz"

    @Option(help: "Threads (default: the checkpoint's, or every core).")
    var threads: Int?

    func validate() throws {
        if let threads { guard threads >= 1 else { throw ValidationError("--threads must be at least 1, got \(threads)") } }
    }

    func run() throws {
        let checkpoint = try Checkpoint.load(contentsOf: model)
        let mnist = try MNIST.load(contentsOf: data)
        let network = try checkpoint.makeNetwork(threads: threads)
        guard network.inputShape.count == mnist.test.imageSize else {
            throw CheckpointError(path: model, reason: "its network takes inputs of \(network.inputShape), "
                + "not the \(mnist.test.imageSize)-pixel images of \(data)")
        }
        print(String(format: "Validation accuracy %.2f%%", network.accuracy(on: mnist.validation) * 100))
        print(String(format: "Test accuracy %.2f%%", network.accuracy(on: mnist.test) * 100))
    }
}
