// NetworkOptions.swift: the flags that choose a network's architecture.
//
// `cnn train` and `cnn import-network3` build a network from flags: one of
// the seed's presets (--net, with --activation and --dropout) or any
// network written as a spec (--layers, with --activation as the default of
// parts that name none), at --mini-batch-size.  The flags' own rules live
// here: --net and --layers exclude each other, and --dropout belongs to
// --net.  Every value is checked where the network is built: the spec by
// NetworkSpec.layers (whose message this adds "--layers: " to), sizes and
// dropout by Network's init.

import ArgumentParser
import SwiftNet

struct NetworkOptions: ParsableArguments {
    static let defaultNet = SeedNetwork.oneConv
    static let defaultDropout: Float = 0.3
    static let defaultActivation = Activation.sigmoid
    static let defaultMiniBatchSize = 10

    @Option(help: "The network: one-conv or two-conv (default: one-conv; import-network3 has none).")
    var net: SeedNetwork?

    @Option(help: ArgumentHelp("Any network, as a spec: e.g. \"conv 20 5x5 relu, pool 2, fc 100 relu dropout 0.5, softmax 10\" (parts conv N KxK [pad P] [stride S] [act], pool P [stride S], fc N [act] [dropout P], softmax N [dropout P]).", valueName: "spec"))
    var layers: String?

    @Option(parsing: .unconditional, help: "Probability of dropping each input of the fully connected layer while training (default: 0.3).")
    var dropout: Float?

    @Option(help: "Activation of every conv and fully connected layer: sigmoid, tanh, relu or linear (default: sigmoid).")
    var activation: Activation?

    @Option(parsing: .unconditional, help: "Images per SGD step (default: 10).")
    var miniBatchSize: Int?

    func validate() throws {
        // The library's own words (Network.init), before the data is read.
        if let miniBatchSize, miniBatchSize < 1 { throw ValidationError("mini-batch size must be positive, got \(miniBatchSize)") }
        if layers != nil {
            if net != nil { throw ValidationError("--net and --layers both choose the network; give one") }
            if dropout != nil { throw ValidationError("--dropout applies to --net; with --layers write 'dropout P' in the fc and softmax parts") }
        }
    }

    /// Each flag of the group and whether it was given, in the order of the help.
    var given: [(flag: String, isGiven: Bool)] {
        [("--net", net != nil), ("--layers", layers != nil), ("--dropout", dropout != nil),
         ("--activation", activation != nil), ("--mini-batch-size", miniBatchSize != nil)]
    }

    /// True when neither --net nor --layers chose the network.
    var choosesNoNetwork: Bool { net == nil && layers == nil }

    var chosenMiniBatchSize: Int { miniBatchSize ?? Self.defaultMiniBatchSize }

    /// The layers the flags describe, for images of shape `input`.
    /// - Throws: `ValidationError` with the spec's fault after "--layers: ".
    func makeLayers(input: SampleShape) throws -> [any Layer] {
        let activation = activation ?? Self.defaultActivation
        guard let layers else {
            return (net ?? Self.defaultNet).layers(miniBatchSize: chosenMiniBatchSize, activation: activation,
                                                   dropout: dropout ?? Self.defaultDropout)
        }
        do {
            return try NetworkSpec.layers(from: layers, input: input, miniBatchSize: chosenMiniBatchSize, activation: activation)
        } catch let error as NetworkSpecError {
            throw ValidationError("--layers: \(error)")
        }
    }

    /// A fresh network of the flags' layers.
    /// - Throws: `ValidationError` for a bad spec, `NetworkConfigurationError` for a value out of range.
    func makeNetwork(input: SampleShape, threads: Int?, seed: UInt64) throws -> Network {
        do {
            return try Network(layers: makeLayers(input: input), miniBatchSize: chosenMiniBatchSize, threads: threads, seed: seed)
        } catch let error as NetworkConfigurationError {
            // The values came from flags: a usage error, as the library words it.
            throw ValidationError("\(error)")
        }
    }
}
