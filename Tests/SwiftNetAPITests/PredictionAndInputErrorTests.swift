// PredictionAndInputErrorTests.swift: the public API as a package that depends
// on SwiftNet sees it (plain `import SwiftNet`, no @testable).
//
// predict() on floats, bytes and datasets agrees with probabilities(on:);
// data that does not fit the network is a thrown NetworkInputError with a
// case to switch on, where these calls used to trap; a Dataset refuses bad
// input by throwing DatasetError.

import SwiftNet
import XCTest

final class PredictionAndInputErrorTests: XCTestCase {
    /// A tiny network on 1x6x6 images with three classes.
    private func network() throws -> Network {
        try Network(layers: [
            ConvPoolLayer(filterShape: (2, 1, 3, 3), imageShape: (4, 1, 6, 6), poolSize: (2, 2), activation: .tanh),
            FullyConnectedLayer(nIn: 8, nOut: 5, activation: .sigmoid),
            SoftmaxLayer(nIn: 5, nOut: 3),
        ], miniBatchSize: 4, threads: 2, seed: 3)
    }

    private func dataset(count: Int, side: Int = 6, names: [String]? = ["red", "green", "blue"]) throws -> Dataset {
        let pixels = (0..<(count * side * side)).map { (index: Int) -> UInt8 in UInt8((index * 37 + index / 7) % 256) }
        return try Dataset(name: "tiny", channels: 1, height: side, width: side, pixels: pixels,
                           labels: (0..<count).map { Int32($0 % 3) }, classCount: 3, classNames: names)
    }

    func testPredictAgreesWithProbabilitiesForFloatsBytesAndDatasets() throws {
        let network = try network()
        let data = try dataset(count: 9)
        // Train a little so the outputs are not uniform.
        for step in 0..<2 { try network.trainMiniBatch(data, start: step * 4, eta: 0.5, weightDecay: 0) }
        let rows = try network.probabilities(on: data)
        let floats = data.pixels.map { Float($0) / 256 }
        let fromFloats = try network.predict(images: floats)
        let fromData = try network.predict(data)
        XCTAssertEqual(fromFloats.count, 9)
        for index in 0..<9 {
            let expected = Array(rows[(index * 3)..<(index * 3 + 3)])
            XCTAssertEqual(fromFloats[index].probabilities, expected, "image \(index) as floats")
            XCTAssertEqual(fromData[index].probabilities, expected, "image \(index) in a dataset")
            XCTAssertEqual(fromData[index].className, ["red", "green", "blue"][fromData[index].predictedClass])
            XCTAssertNil(fromFloats[index].className)
            XCTAssertEqual(fromFloats[index].probabilities.reduce(0, +), 1, accuracy: 1e-5)
            let oneImage = Array(data.pixels[(index * 36)..<(index * 36 + 36)])
            XCTAssertEqual(try network.predict(oneImage).probabilities, expected, "image \(index) as bytes")
        }
        XCTAssertEqual(try network.predict(Array(floats[0..<36]), classNames: ["a", "b", "c"]).className,
                       ["a", "b", "c"][fromFloats[0].predictedClass])
    }

    func testImagesThatDoNotFitAreThrownNotTrapped() throws {
        let network = try network()
        let wrong = try dataset(count: 5, side: 7)
        let expected = NetworkInputError.wrongImageSize(data: "tiny", shape: SampleShape(channels: 1, height: 7, width: 7),
                                                        expected: SampleShape(channels: 1, height: 6, width: 6))
        XCTAssertThrowsError(try network.accuracy(on: wrong)) { XCTAssertEqual($0 as? NetworkInputError, expected) }
        XCTAssertThrowsError(try network.probabilities(on: wrong)) { XCTAssertEqual($0 as? NetworkInputError, expected) }
        XCTAssertThrowsError(try network.forEachPrediction(on: wrong) { _, _, _ in }) {
            XCTAssertEqual($0 as? NetworkInputError, expected)
        }
        XCTAssertThrowsError(try ConfusionMatrix(network: network, data: wrong)) { XCTAssertEqual($0 as? NetworkInputError, expected) }
        XCTAssertThrowsError(try network.predict(wrong)) { XCTAssertEqual($0 as? NetworkInputError, expected) }
        XCTAssertThrowsError(try network.trainMiniBatch(wrong, start: 0, eta: 0.1, weightDecay: 0)) {
            XCTAssertEqual($0 as? NetworkInputError, expected)
        }

        XCTAssertThrowsError(try network.predict([Float](repeating: 0.5, count: 35))) {
            XCTAssertEqual($0 as? NetworkInputError, .wrongValueCount(values: 35, perImage: 36))
        }
        XCTAssertThrowsError(try network.predict(images: [])) {
            XCTAssertEqual($0 as? NetworkInputError, .wrongValueCount(values: 0, perImage: 36))
        }
        var notFinite = [Float](repeating: 0.5, count: 72)
        notFinite[40] = .nan
        XCTAssertThrowsError(try network.predict(images: notFinite)) { XCTAssertEqual($0 as? NetworkInputError, .notFinite(index: 40)) }
        XCTAssertThrowsError(try network.predict([UInt8](repeating: 1, count: 2))) {
            XCTAssertEqual($0 as? NetworkInputError, .wrongValueCount(values: 2, perImage: 36))
        }
    }

    func testAMiniBatchPastTheDataOrALabelPastTheClassesIsThrown() throws {
        let network = try network()
        let data = try dataset(count: 6)
        XCTAssertThrowsError(try network.trainMiniBatch(data, start: 3, eta: 0.1, weightDecay: 0)) {
            XCTAssertEqual($0 as? NetworkInputError, .outOfRange(data: "tiny", start: 3, miniBatchSize: 4, samples: 6))
        }
        XCTAssertThrowsError(try network.trainMiniBatch(data, start: -1, eta: 0.1, weightDecay: 0))
        let fiveClasses = try Dataset(name: "five", channels: 1, height: 6, width: 6, pixels: data.pixels.prefix(4 * 36).map { $0 },
                                      labels: [0, 4, 1, 2], classCount: 5)
        XCTAssertThrowsError(try network.trainMiniBatch(fiveClasses, start: 0, eta: 0.1, weightDecay: 0)) {
            XCTAssertEqual($0 as? NetworkInputError, .labelOutOfRange(data: "five", label: 4, classCount: 3))
        }
    }

    func testADatasetRefusesBadInputByThrowing() {
        XCTAssertThrowsError(try Dataset(name: "short", channels: 1, height: 6, width: 6, pixels: [1, 2, 3], labels: [0],
                                         classCount: 3)) { XCTAssertTrue($0 is DatasetError, "\($0)") }
        XCTAssertThrowsError(try Dataset(name: "label", channels: 1, height: 1, width: 1, pixels: [1], labels: [7],
                                         classCount: 3)) { XCTAssertTrue($0 is DatasetError, "\($0)") }
    }

    func testADatasetFromFloatsKeepsMultiplesOf256thsAndRefusesValuesOutsideZeroToOne() throws {
        let bytes: [UInt8] = [0, 1, 128, 255]
        let values = bytes.map { Float($0) / 256 }
        let data = try Dataset(name: "floats", channels: 1, height: 2, width: 2, values: values, labels: [1], classCount: 2)
        XCTAssertEqual(data.pixels, bytes)
        let rounded = try Dataset(name: "floats", channels: 1, height: 1, width: 2, values: [1.0, 0.3], labels: [0], classCount: 2)
        XCTAssertEqual(rounded.pixels, [255, 77], "1.0 becomes 255/256, 0.3 the nearest 256th")
        for bad: Float in [-0.1, 1.5, .nan, .infinity] {
            XCTAssertThrowsError(try Dataset(name: "bad", channels: 1, height: 1, width: 2, values: [0.5, bad], labels: [0],
                                             classCount: 2)) {
                guard case .valueOutOfRange(split: "bad", index: 1, value: _)? = $0 as? DatasetError else {
                    return XCTFail("\($0)")
                }
            }
        }
    }

    func testParametersAreReadAsCopiesAndReplacedOnlyWhole() throws {
        let network = try network()
        let values = network.parameterValues
        XCTAssertEqual(values.count, network.weightCount + network.biasCount)
        XCTAssertTrue(network.stateValues.isEmpty)
        XCTAssertEqual(network.velocityValues, [Float](repeating: 0, count: values.count))
        let changed = values.indices.map { Float($0 % 7) * 0.01 }
        try network.setParameterValues(changed)
        XCTAssertEqual(network.parameterValues, changed)
        XCTAssertThrowsError(try network.setParameterValues(Array(changed.dropLast()))) {
            XCTAssertEqual($0 as? NetworkInputError, .wrongParameterCount(values: changed.count - 1, expected: changed.count))
        }
        var withNaN = changed
        withNaN[3] = .nan
        XCTAssertThrowsError(try network.setParameterValues(withNaN)) {
            XCTAssertEqual($0 as? NetworkInputError, .notFinite(index: 3))
        }
        XCTAssertEqual(network.parameterValues, changed, "a refused replacement changes nothing")
        network.withUnsafeMutableParameters { $0[0] = 0.5 }
        XCTAssertEqual(network.parameterValues[0], 0.5)
    }
}
