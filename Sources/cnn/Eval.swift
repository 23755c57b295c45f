// Eval.swift: `cnn eval`, accuracy of a saved model without training.
//
// This is the seed's is_load_model_from_file mode: load the parameters,
// report accuracy, train nothing.  The model comes from a checkpoint (of
// `cnn train --save` or `cnn import-network3`), which carries its own
// architecture, so no network flags are needed.  The checkpoint's thread
// count and evaluation batch size are used by default, so the figures are
// exactly those training printed.  --confusion adds the test set's
// confusion matrix as a table, and --confusion-png draws it as a heat map.

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

    @Flag(help: "Also print the test set's confusion matrix: rows are true digits, columns predicted ones.")
    var confusion = false

    @Option(name: .customLong("confusion-png"),
            help: ArgumentHelp("Also draw the test set's confusion matrix as a PNG heat map here.", valueName: "path"))
    var confusionPNG: String?

    func validate() throws {
        if let threads { guard threads >= 1 else { throw ValidationError("--threads must be at least 1, got \(threads)") } }
        if let confusionPNG {
            let folder = URL(fileURLWithPath: confusionPNG).deletingLastPathComponent().path
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
                throw ValidationError("--confusion-png \(confusionPNG): the folder \(folder) does not exist")
            }
        }
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
        guard confusion || confusionPNG != nil else { return }
        let matrix = ConfusionMatrix(network: network, data: mnist.test)
        if confusion {
            print("Confusion matrix of the \(matrix.total) test images:")
            print(matrix.table)
        }
        if let confusionPNG {
            do {
                try PNG.write(matrix.heatMap(), to: confusionPNG)
            } catch let error as ImageError {
                // CNN.main prints a CheckpointError as its one "<path>: <problem>" line.
                throw CheckpointError(path: error.path, reason: error.problem)
            }
            print("Wrote \(confusionPNG)")
        }
    }
}
