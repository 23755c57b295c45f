// ModelOptions.swift: the --model flag, and a saved model loaded as a network.
//
// `cnn errors`, `cnn filters`, `cnn predict` and `cnn export-network3` each
// read one checkpoint (of `cnn train --save` or `cnn import-network3`),
// which carries its own architecture.  `cnn eval` takes --model more than
// once for an ensemble, so it declares the flag itself with the same words
// and loads each model through `network(at:threads:)` here.  The check that
// a model fits the images it is given lives here too, with one message.

import ArgumentParser
import SwiftNet

struct ModelOptions: ParsableArguments {
    /// What --model names, for every command that takes one.
    static let help = "The checkpoint: from cnn train --save, or cnn import-network3."

    @Option(help: ArgumentHelp(help, valueName: "path"))
    var model: String

    /// The checkpoint as saved, without building its network.
    /// - Throws: `CheckpointError` naming the file.
    func checkpoint() throws -> Checkpoint {
        try Checkpoint.load(contentsOf: model)
    }

    /// The saved model as a network on `threads` threads (nil: the checkpoint's, else every core).
    /// - Throws: `CheckpointError` naming the file.
    func network(threads: Int?) throws -> Network {
        try Self.network(at: model, threads: threads)
    }

    /// The model saved at `path` as a network on `threads` threads (nil: the checkpoint's, else every core).
    /// - Throws: `CheckpointError` naming the file.
    static func network(at path: String, threads: Int?) throws -> Network {
        try Checkpoint.load(contentsOf: path).makeNetwork(threads: threads)
    }

    /// Throws unless `network`, saved at `path`, takes images of `data`'s size.
    /// - Parameter source: the data in words, as the flags named it.
    static func checkInput(of network: Network, at path: String, fits data: Dataset, from source: String) throws {
        guard network.inputShape.count == data.imageSize else {
            throw CheckpointError(path: path, reason: "its network takes inputs of \(network.inputShape), "
                + "not the \(data.imageSize)-pixel images of \(source)")
        }
    }
}
