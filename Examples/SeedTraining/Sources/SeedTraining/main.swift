// main.swift: the seed's network (network3.py's final script) through
// SwiftNet's public API, trained briefly enough to finish in seconds.
//
// Usage: SeedTraining [PATH]   (PATH, else $SWIFTNET_MNIST, is network3's
// mnist.pkl.gz).  Prints one validation accuracy line per epoch and a last
// line `validation accuracy: XX.XX%`.

import Foundation
import SwiftNet

let arguments = CommandLine.arguments.dropFirst()
guard let path = arguments.first ?? ProcessInfo.processInfo.environment["SWIFTNET_MNIST"] else {
    FileHandle.standardError.write(Data("usage: SeedTraining PATH (or set SWIFTNET_MNIST) to network3's mnist.pkl.gz\n".utf8))
    exit(64)
}

do {
    let mnist = try MNIST.load(contentsOf: path)
    // One epoch on 20,000 of the 50,000 training images, with the seed's
    // settings: enough to pass 80% (about 87%).  Sigmoid units at eta 0.1
    // start slowly, so 5,000 images leave it near chance (about 20%).
    let training = mnist.training.prefix(20_000)

    let miniBatchSize = 10
    let network = try Network(layers: [
        ConvPoolLayer(filterShape: (20, 1, 5, 5), imageShape: (miniBatchSize, 1, 28, 28),
                      poolSize: (2, 2), activation: .sigmoid),
        FullyConnectedLayer(nIn: 20 * 12 * 12, nOut: 100, activation: .sigmoid, pDropout: 0.3),
        SoftmaxLayer(nIn: 100, nOut: 10),
    ], miniBatchSize: miniBatchSize)

    try network.sgd(trainingData: training, epochs: 1, miniBatchSize: miniBatchSize, eta: 0.1,
                    validationData: mnist.validation) { event in
        // The seed's per-epoch lines, without its 'Training mini-batch number' lines.
        event.seedLines.filter { $0.hasPrefix("Epoch") }.forEach { print($0) }
    }
    let accuracy = try network.accuracy(on: mnist.validation)
    print("validation accuracy: \(String(format: "%.2f", accuracy * 100))%")
} catch {
    FileHandle.standardError.write(Data("SeedTraining: \(error)\n".utf8))
    exit(1)
}
