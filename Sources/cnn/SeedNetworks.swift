// SeedNetworks.swift: the networks of network3.py's published runs.
//
// `one-conv` is the seed's final script: a 20-filter 5x5 conv-pool layer,
// a 100-neuron fully connected layer with dropout on its input, and a
// 10-way softmax.  `two-conv` inserts the seed's second, 40-filter 5x5
// conv-pool layer, so the dense layer sees 40 x 4 x 4 values.
// `isPreset` tells whether layers are one of these (with any activation
// and dropout) by their spec text alone, never by their types.

import ArgumentParser
import SwiftNet

enum SeedNetwork: String, ExpressibleByArgument, CaseIterable {
    case oneConv = "one-conv"
    case twoConv = "two-conv"

    func layers(miniBatchSize: Int, activation: Activation, dropout: Float) -> [any Layer] {
        var layers: [any Layer] = [
            ConvPoolLayer(filterShape: (20, 1, 5, 5), imageShape: (miniBatchSize, 1, 28, 28),
                          poolSize: (2, 2), activation: activation),
        ]
        var denseInput = 20 * 12 * 12
        if self == .twoConv {
            layers.append(ConvPoolLayer(filterShape: (40, 20, 5, 5), imageShape: (miniBatchSize, 20, 12, 12),
                                        poolSize: (2, 2), activation: activation))
            denseInput = 40 * 4 * 4
        }
        layers.append(FullyConnectedLayer(nIn: denseInput, nOut: 100, activation: activation, pDropout: dropout))
        layers.append(SoftmaxLayer(nIn: 100, nOut: 10))
        return layers
    }

    /// Whether `layers` are a preset that --net builds, with any --activation and --dropout.
    ///
    /// A preset's only free numbers are the activation and the dropout, and
    /// the spec text prints every dropout it holds ("dropout P"), so trying
    /// each activation with each dropout that the text names (or none) finds
    /// the preset if there is one.
    static func isPreset(_ layers: [any Layer], miniBatchSize: Int) -> Bool {
        let spec = NetworkSpec.describe(layers)
        let words = spec.split(whereSeparator: { $0 == " " || $0 == "," })
        let dropouts = [0] + zip(words, words.dropFirst()).compactMap { $0 == "dropout" ? Float($1) : nil }
        return allCases.contains { preset in
            Activation.allCases.contains { activation in
                dropouts.contains { dropout in
                    NetworkSpec.describe(preset.layers(miniBatchSize: miniBatchSize, activation: activation, dropout: dropout)) == spec
                }
            }
        }
    }
}

extension Activation: ExpressibleByArgument {}
