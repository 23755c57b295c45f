// PredictCommandTests.swift: `cnn predict` on real test digits written as PNG files.
//
// A one-conv network is trained briefly in-process on real MNIST (so it is
// right most of the time but not always, which makes agreement meaningful),
// saved, and run by the `cnn predict` child process on 200 test digits
// written out as PNG files.  Test digits are already in MNIST's form, which
// preprocessing recognises and keeps as they are, so its answers must equal,
// digit for digit, the network's on the data set itself, as `cnn eval`
// computes them; the same digits moved off-centre in a larger, dark-on-white
// picture go through the whole preprocessing and must still be read mostly
// as the network reads the originals.  Error cases need no pickle.

import Foundation
@testable import SwiftNet
@testable import SwiftNetImages
import XCTest

final class PredictCommandTests: CheckpointTestCase {
    func testPredictOnTestDigitsWrittenAsPNGAgreesWithTheNetwork() throws {
        let mnist = try MNIST.load(contentsOf: try RealMNISTFile.path())
        let network = try Network(layers: seedOneConvLayers(batch: 10, dropout: 0), miniBatchSize: 10, threads: 1, seed: 0)
        _ = try network.train(trainingData: mnist.training.prefix(10000), validationData: mnist.validation.prefix(100),
                              testData: nil, epochs: 1, eta: 0.5)
        let model = path("model.ckpt")
        try Checkpoint(network: network, hyperparameters: TrainingHyperparameters(epochs: 1, eta: 0.1, lmbda: 0, seed: 0),
                       progress: TrainingProgress(), trainingData: nil).write(to: model)

        let test = mnist.test.prefix(200)
        var files: [String] = [], preprocessed: [UInt8] = [], unchanged = 0
        for index in 0..<test.count {
            let raw = Array(test.pixels[(index * 784)..<((index + 1) * 784)])
            let file = path("digit\(index).png")
            try PNG.write(Bitmap(width: 28, height: 28, channels: 1, samples: raw), to: file)
            files.append(file)
            let view = try XCTUnwrap(DigitPreprocessing.mnistPixels(of: Bitmap(width: 28, height: 28, channels: 1, samples: raw)))
            preprocessed += view
            if view == raw { unchanged += 1 }
        }
        let result = try runCNN(["predict", "--model", model] + files, in: folder)
        XCTAssertEqual(result.status, 0, result.standardError)
        let answers = result.standardOutput.split(separator: "\n").map(String.init)
        XCTAssertEqual(answers.count, test.count, result.standardOutput)
        // "path: 7 (98.9%), 2 (0.6%), 1 (0.2%)": the digit after the path is the answer.
        let predicted = zip(files, answers).map { file, line -> Int32 in
            XCTAssertTrue(line.hasPrefix(file + ": "), line)
            XCTAssertEqual(line.components(separatedBy: "%),").count, 3, "three digits with percentages: \(line)")
            return Int32(String(line.dropFirst(file.count + 2).prefix(1))) ?? -1
        }

        let same = Dataset.valid(name: "preprocessed", channels: 1, height: 28, width: 28, pixels: preprocessed, labels: test.labels, classCount: 10)
        XCTAssertEqual(predicted, try predictions(of: network, on: same), "cnn predict and the in-process preprocessing disagree")
        XCTAssertEqual(unchanged, test.count, "test digits are in MNIST's form and are kept as they are")
        XCTAssertEqual(predicted, try predictions(of: network, on: test), "cnn predict must answer what the network does on the data set")
        let correct = zip(predicted, test.labels).filter { $0 == $1 }.count
        XCTAssertGreaterThanOrEqual(correct, 170, "a network trained on 10000 images should read most test digits")

        // The same digits inverted (dark on white) and off-centre in a 40x36
        // picture: the full preprocessing must bring them back close to MNIST's form.
        var moved: [UInt8] = []
        for index in 0..<test.count {
            var picture = try Bitmap(width: 40, height: 36, channels: 1, fill: 255)
            for row in 0..<28 {
                for column in 0..<28 {
                    picture.samples[(row + 3) * 40 + column + 9] = 255 - test.pixels[index * 784 + row * 28 + column]
                }
            }
            XCTAssertFalse(DigitPreprocessing.isAlreadyMNIST(picture))
            moved += try XCTUnwrap(DigitPreprocessing.mnistPixels(of: picture))
        }
        let movedData = Dataset.valid(name: "moved", channels: 1, height: 28, width: 28, pixels: moved, labels: test.labels, classCount: 10)
        let agreeing = zip(try predictions(of: network, on: movedData), predicted).filter { $0 == $1 }.count
        print("cnn predict on 200 test digits: all kept as they are; the same digits inverted and moved: \(agreeing) of 200 "
              + "read as the originals")
        XCTAssertGreaterThanOrEqual(agreeing, 190, "preprocessing should undo an inversion and a move")
    }

    func testPredictFailsInOneLineNamingTheFile() throws {
        let network = try Network(layers: seedOneConvLayers(batch: 10), miniBatchSize: 10, threads: 1, seed: 0)
        try Checkpoint(network: network, hyperparameters: TrainingHyperparameters(epochs: 1, eta: 0.1, lmbda: 0, seed: 0),
                       progress: TrainingProgress(), trainingData: nil).write(to: path("model.ckpt"))
        try TinyNetwork.network().checkpointForTest().write(to: path("tiny.ckpt"))
        try PNG.write(DrawnDigit.seven(width: 50, height: 50, x: 10, y: 10, size: 30), to: path("seven.png"))
        try PNG.write(Bitmap(width: 30, height: 30, channels: 1, fill: 255), to: path("blank.png"))
        let cases: [([String], String)] = [
            (["predict", "--model", "model.ckpt", "seven.png", "blank.png"], "blank.png: shows no digit"),
            (["predict", "--model", "model.ckpt", "absent.png"], "absent.png: no such file"),
            (["predict", "--model", "seven.png", "seven.png"], "seven.png"),
            (["predict", "--model", "tiny.ckpt", "seven.png"], "tiny.ckpt: its network takes inputs of"),
            (["predict", "--model", "model.ckpt", "--show", "views", "seven.png", "other/seven.pgm"], "would both be written"),
        ]
        for (arguments, expected) in cases {
            let result = try runCNN(arguments, in: folder)
            XCTAssertNotEqual(result.status, 0, "\(arguments)")
            XCTAssertEqual(result.standardOutput, "", "\(arguments): nothing is printed before the failure")
            XCTAssertEqual(result.standardError.split(separator: "\n").count, 1, "\(arguments): \(result.standardError)")
            XCTAssertTrue(result.standardError.hasPrefix("cnn: error: ") && result.standardError.contains(expected),
                          "\(arguments): \(result.standardError)")
        }

        // --show writes the 28x28 view, 10x enlarged, that the network saw.
        let shown = try runCNN(["predict", "--model", "model.ckpt", "--show", "views", "seven.png"], in: folder)
        XCTAssertEqual(shown.status, 0, shown.standardError)
        let view = try PNG.read(contentsOf: path("views/seven.seen.png"))
        XCTAssertEqual([view.width, view.height, view.channels], [280, 280, 1])
        let expected = try XCTUnwrap(DigitPreprocessing.mnistPixels(of: DrawnDigit.seven(width: 50, height: 50, x: 10, y: 10, size: 30)))
        for (row, column) in [(0, 0), (14, 14), (6, 10), (20, 9), (27, 27)] {
            XCTAssertEqual(view.samples[(row * 10 + 5) * 280 + column * 10 + 5], expected[row * 28 + column], "view pixel (\(row), \(column))")
        }
    }
}

private extension Network {
    /// A checkpoint of this untrained network.
    func checkpointForTest() throws -> Checkpoint {
        try Checkpoint(network: self, hyperparameters: TrainingHyperparameters(epochs: 1, eta: 0.1, lmbda: 0, seed: 0),
                       progress: TrainingProgress(), trainingData: nil)
    }
}
