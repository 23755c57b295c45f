// SeedNetworks.swift: the networks of network3.py's published runs.
//
// `one-conv` is the seed's final script: a 20-filter 5x5 conv-pool layer,
// a 100-neuron fully connected layer with dropout on its input, and a
// 10-way softmax.  `two-conv` inserts the seed's second, 40-filter 5x5
// conv-pool layer, so the dense layer sees 40 x 4 x 4 values.

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
}

extension Activation: ExpressibleByArgument {}
