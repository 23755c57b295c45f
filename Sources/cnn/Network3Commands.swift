// Network3Commands.swift: `cnn import-network3` and `cnn export-network3`.
//
// The seed saved a trained network as cPickle dumps of each layer's w and b
// and nothing else, so importing needs the architecture from flags (the
// same ones `cnn train` takes, NetworkOptions, but with no default
// network: --net or --layers must say which) and produces a checkpoint that `cnn eval` and
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
        discussion: "Name the network the file is for with --net (or --layers); there is no default. "
            + "The checkpoint records the seed's training settings (30 epochs, eta 0.1, lmbda 0, seed 0), "
            + "which `cnn train --resume` would use to train it further.")

    @Argument(help: ArgumentHelp("The seed's file: each layer's w then b, pickled in turn.", valueName: "params.pkl"))
    var parameters: String

    @OptionGroup var networkOptions: NetworkOptions

    @OptionGroup var memoryOptions: MemoryOptions

    @Option(help: ArgumentHelp("The checkpoint to write.", valueName: "path"))
    var out: String

    func validate() throws {
        guard !networkOptions.choosesNoNetwork else {
            throw ValidationError("--net (or --layers) is required: the network \(parameters) holds")
        }
        try checkOutputFolder(out)
        try checkOutputs([NamedFile(flag: "--out", path: out)], inputs: [NamedFile(flag: "the parameter file", path: parameters)])
    }

    func run() throws {
        // network3.py reads MNIST: 1x28x28 images.
        let network = try networkOptions.makeNetwork(input: SampleShape(channels: 1, height: 28, width: 28), threads: 1, seed: 0)
        do {
            try Network3ParameterFile.read(contentsOf: parameters, into: network)
        } catch let error as DataFileError where error.offset == nil && startsWithCheckpointMagic(parameters) {
            // The library says what the file is; which flag takes it is the CLI's to say.
            throw DataFileError(error.kind, path: error.path,
                                reason: error.reason + " (give it to cnn eval or cnn predict as --model, or to cnn train as --resume)")
        }
        var checkpoint = try Checkpoint(network: network, hyperparameters: TrainingHyperparameters(epochs: 30, eta: 0.1))
        checkpoint.threads = 0  // no run has fixed it
        try checkpoint.write(to: out)
        print("Imported the \(networkOptions.net.map { $0.rawValue + " " } ?? "")network's \(network.parameterValues.count) parameters from \(parameters) into \(out)")
    }
}

struct ExportNetwork3: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-network3",
        abstract: "Write a checkpoint's parameters as the file network3.py's load() reads.")

    @OptionGroup var modelOptions: ModelOptions

    @OptionGroup var memoryOptions: MemoryOptions

    @Option(help: ArgumentHelp("The parameter file to write.", valueName: "params.pkl"))
    var out: String

    @Option(help: "numpy element type: float32 (the seed's floatX on a GPU) or float64 (Theano's default on a CPU).")
    var dtype: Network3ParameterFile.ElementType = .float32

    func validate() throws {
        try checkOutputFolder(out)
        try checkOutputs([NamedFile(flag: "--out", path: out)], inputs: [NamedFile(flag: "--model", path: modelOptions.model)])
    }

    func run() throws {
        let checkpoint = try modelOptions.checkpoint()
        try Network3ParameterFile.write(layers: checkpoint.layers, parameters: checkpoint.parameters, to: out, as: dtype)
        print("Exported \(checkpoint.parameters.count) parameters of \(modelOptions.model) to \(out)")
    }
}

extension Network3ParameterFile.ElementType: ExpressibleByArgument {}

private func startsWithCheckpointMagic(_ path: String) -> Bool {
    // Never open a FIFO or a device to look: opening a FIFO waits for a writer.
    guard (try? FileIdentity.checkPlainFile(path, expected: "a parameter file")) != nil,
          let file = FileHandle(forReadingAtPath: path) else { return false }
    defer { try? file.close() }
    return (try? file.read(upToCount: Checkpoint.magic.count)).map { Array($0) == Checkpoint.magic } ?? false
}
