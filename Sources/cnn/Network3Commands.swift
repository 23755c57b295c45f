// Network3Commands.swift: `cnn import-network3` and `cnn export-network3`.
//
// The seed saved a trained network as cPickle dumps of each layer's w and b
// and nothing else, so importing needs the architecture from flags (the
// same ones `cnn train` takes) and produces a checkpoint that `cnn eval` and
// `cnn train --resume` accept.  Exporting writes a file the seed's load()
// reads.  Network3ParameterFile handles the pickles and Theano's flipped
// convolution filters.

import ArgumentParser
import Foundation
import SwiftNet

struct ImportNetwork3: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-network3",
        abstract: "Turn the parameter file network3.py's save() wrote into a SwiftNet checkpoint.",
        discussion: "The checkpoint records the seed's training settings (30 epochs, eta 0.1, lmbda 0, seed 0), "
            + "which `cnn train --resume` would use to train it further.")

    @Argument(help: ArgumentHelp("The seed's file: each layer's w then b, pickled in turn.", valueName: "params.pkl"))
    var parameters: String

    @Option(help: "The network the file is for: one-conv or two-conv.")
    var net: SeedNetwork

    @Option(help: "The fully connected layer's dropout probability (it scales that layer's input when evaluating).")
    var dropout: Float = 0.3

    @Option(help: "Activation of every conv and fully connected layer: sigmoid, tanh, relu or linear.")
    var activation: Activation = .sigmoid

    @Option(help: "Images per SGD step of a later resumed training.")
    var miniBatchSize: Int = 10

    @Option(help: ArgumentHelp("The checkpoint to write.", valueName: "path"))
    var out: String

    func validate() throws {
        guard miniBatchSize >= 1 else { throw ValidationError("--mini-batch-size must be at least 1, got \(miniBatchSize)") }
        guard dropout.isFinite, dropout >= 0, dropout < 1 else {
            throw ValidationError("--dropout must lie in [0, 1), got \(dropout)")
        }
    }

    func run() throws {
        let network = try Network(layers: net.layers(miniBatchSize: miniBatchSize, activation: activation, dropout: dropout),
                                  miniBatchSize: miniBatchSize, threads: 1, seed: 0)
        try Network3ParameterFile.read(contentsOf: parameters, into: network)
        var checkpoint = try Checkpoint(network: network, hyperparameters: TrainingHyperparameters(epochs: 30, eta: 0.1))
        checkpoint.threads = 0  // no run has fixed it
        try checkpoint.write(to: out)
        print("Imported the \(net.rawValue) network's \(network.parameters.count) parameters from \(parameters) into \(out)")
    }
}

struct ExportNetwork3: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-network3",
        abstract: "Write a checkpoint's parameters as the file network3.py's load() reads.")

    @Option(help: ArgumentHelp("The checkpoint.", valueName: "path"))
    var model: String

    @Option(help: ArgumentHelp("The parameter file to write.", valueName: "params.pkl"))
    var out: String

    @Option(help: "numpy element type: float32 (the seed's floatX on a GPU) or float64 (Theano's default on a CPU).")
    var dtype: Network3ParameterFile.ElementType = .float32

    func run() throws {
        let checkpoint = try Checkpoint.load(contentsOf: model)
        try Network3ParameterFile.write(layers: checkpoint.layers, parameters: checkpoint.parameters, to: out, as: dtype)
        print("Exported \(checkpoint.parameters.count) parameters of \(model) to \(out)")
    }
}

extension Network3ParameterFile.ElementType: ExpressibleByArgument {}
