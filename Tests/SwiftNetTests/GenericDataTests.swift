// GenericDataTests.swift: a data set that is not MNIST, through the public API.
//
// Nothing in the library may assume 28x28 gray digits in ten classes.  These
// tests build colour images of 3x32x32 in four named classes (a red, a green
// and a blue field, and gray horizontal stripes, each under heavy noise),
// train a small convnet on them with the same calls a user of the library
// makes, and check that it learns them far beyond chance (25%), that the
// class names travel with the data into the confusion matrix, and that the
// error sheet draws colour tiles.  Only `import SwiftNet`, no @testable.

import SwiftNet
import SwiftNetImages
import XCTest

final class GenericDataTests: XCTestCase {
    static let names = ["red", "green", "blue", "stripes"]
    static let (channels, side) = (3, 32)

    /// `count` images of the four classes in turn, each a class pattern plus noise.
    static func colourSplit(_ name: String, count: Int, seed: UInt64) throws -> Dataset {
        var random = RandomSource(seed: seed)
        let plane = side * side
        var pixels = [UInt8](repeating: 0, count: count * channels * plane)
        var labels = [Int32](repeating: 0, count: count)
        for image in 0..<count {
            let label = Int(random.next() % 4)
            labels[image] = Int32(label)
            for channel in 0..<channels {
                for position in 0..<plane {
                    let row = position / side
                    let base: Int
                    switch label {
                    case 3: base = row % 4 < 2 ? 170 : 60
                    default: base = channel == label ? 170 : 70
                    }
                    let noise = Int(random.next() % 81) - 40
                    pixels[(image * channels + channel) * plane + position] = UInt8(max(0, min(255, base + noise)))
                }
            }
        }
        return try Dataset(name: name, channels: channels, height: side, width: side, pixels: pixels, labels: labels,
                           classCount: names.count, classNames: names)
    }

    static func splits() throws -> DataSplits {
        try DataSplits(training: colourSplit("training", count: 400, seed: 1),
                       validation: colourSplit("validation", count: 100, seed: 2),
                       test: colourSplit("test", count: 100, seed: 3))
    }

    func testFourNamedColourClassesTrainAndEvaluate() throws {
        let data = try Self.splits()
        XCTAssertEqual([data.channels, data.height, data.width, data.classCount], [3, 32, 32, 4])
        XCTAssertEqual(data.classNames, Self.names)
        let network = try Network(layers: [
            ConvPoolLayer(filterShape: (8, 3, 5, 5), imageShape: (10, 3, 32, 32), poolSize: (2, 2), activation: .relu),
            FullyConnectedLayer(nIn: 8 * 14 * 14, nOut: 30, activation: .relu),
            SoftmaxLayer(nIn: 30, nOut: 4),
        ], miniBatchSize: 10, threads: 2, seed: 5)
        let outcome = try network.train(trainingData: data.training, validationData: data.validation, testData: data.test,
                                        epochs: 3, eta: 0.03)
        guard case .finished(let summary) = outcome else { return XCTFail("the run stopped: \(outcome)") }
        XCTAssertGreaterThan(summary.bestValidationAccuracy, 0.9, "chance is 0.25")
        XCTAssertGreaterThan(try XCTUnwrap(summary.testAccuracy), 0.9, "chance is 0.25")
        XCTAssertGreaterThan(try network.accuracy(on: data.test), 0.9)

        let matrix = try ConfusionMatrix(network: network, data: data.test)
        XCTAssertEqual(matrix.classes, 4)
        XCTAssertEqual(matrix.total, 100)
        XCTAssertEqual(matrix.classNames, Self.names)
        let header = try XCTUnwrap(matrix.table.split(separator: "\n").dropFirst().first)
        for name in Self.names { XCTAssertTrue(header.contains(name), "the table's header names \(name): \(header)") }
        XCTAssertEqual(matrix.heatMap().width, matrix.heatMapSize.width)

        var errors: [Misclassification] = []
        try network.forEachPrediction(on: data.test) { index, predicted, label in
            if predicted != label { errors.append(Misclassification(index: index, label: Int(label), predicted: Int(predicted))) }
        }
        let errorsToDraw = errors.isEmpty ? [Misclassification(index: 0, label: 0, predicted: 1)] : errors
        let panel = try ErrorSheet.panel(data: data.test, errors: errorsToDraw, title: "COLOURS")
        let size = ErrorSheet.panelSize(shown: errorsToDraw.count, imageWidth: 32, imageHeight: 32)
        XCTAssertEqual([panel.width, panel.height, panel.channels], [size.width, size.height, 3])
    }

    func testClassNamesSurviveEverySplitAndPrefix() throws {
        let data = try Self.splits()
        for split in [data.training, data.validation, data.test, data.training.prefix(7)] {
            XCTAssertEqual(split.classNames, Self.names, split.name)
            XCTAssertEqual(split.classCount, 4, split.name)
            XCTAssertEqual(split.className(of: 3), "stripes")
        }
        XCTAssertEqual(data.training.prefix(7).count, 7)
        XCTAssertEqual(data.training.prefix(-3).count, 0, "prefix is total: a negative count keeps no images")
        XCTAssertEqual(data.training.prefix(10_000).count, 400)
    }

    func testANetworkForDigitsRefusesColourImagesWithAThrownError() throws {
        let data = try Self.splits()
        let digits = try Network(layers: [
            ConvPoolLayer(filterShape: (4, 1, 5, 5), imageShape: (10, 1, 28, 28), poolSize: (2, 2)),
            SoftmaxLayer(nIn: 4 * 12 * 12, nOut: 10),
        ], miniBatchSize: 10, threads: 1)
        XCTAssertThrowsError(try digits.train(trainingData: data.training, validationData: data.validation,
                                              epochs: 1, eta: 0.1)) { error in
            XCTAssertTrue(error is TrainingError, "\(error)")
        }
    }
}
