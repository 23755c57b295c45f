// main.swift: the seed's network (network3.py's final script) through
// SwiftNet's public API, trained briefly enough to finish in seconds.
//
// Usage: SeedTraining [PATH [PNG]]   (PATH, else $SWIFTNET_MNIST, is
// network3's mnist.pkl.gz).  Prints one validation accuracy line per epoch,
// a line `validation accuracy: XX.XX%`, and then the network's reading of a
// picture of a digit: PNG, or else the first test digit written out as a
// PNG first (dark ink on white, as a person would draw it), so that the
// whole path of a user's own picture is exercised: file, MNIST's
// preprocessing, prediction.

import Foundation
import SwiftNet
import SwiftNetImages

let arguments = Array(CommandLine.arguments.dropFirst())
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

    // A picture of a digit, read as `cnn predict` reads one.
    let picture: String
    if arguments.count > 1 {
        picture = arguments[1]
    } else {
        let test = mnist.test
        let inkOnPaper = test.pixels.prefix(test.imageSize).map { 255 - $0 }
        picture = FileManager.default.temporaryDirectory.appendingPathComponent("seed-training-digit.png").path
        try PNG.write(try Bitmap(width: test.width, height: test.height, channels: 1, samples: Array(inkOnPaper)), to: picture)
        print("wrote test digit 0 (a \(test.labels[0])) to \(picture)")
    }
    let guess = try network.predict(try DigitPreprocessing.mnistPixels(contentsOf: picture))
    print("\(picture): \(guess.predictedClass) (\(String(format: "%.1f", guess.probabilities[guess.predictedClass] * 100))%)")
} catch {
    FileHandle.standardError.write(Data("SeedTraining: \(error)\n".utf8))
    exit(1)
}
