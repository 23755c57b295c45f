// EmbeddingTests.swift: principal components on LAPACKE, a network's
// penultimate activations, and the embedding picture, through the public API.
//
// The components are checked on rows whose covariance is known exactly (six
// points at ±3, ±2 and ±1 along three orthogonal, rotated axes), the
// activations by recomputing the softmax from them by hand, and the picture
// by looking where a dot must be.

import Foundation
import SwiftNet
import SwiftNetImages
import XCTest

final class EmbeddingTests: XCTestCase {
    /// Three orthonormal axes: the identity rotated about z by 30 degrees, then about x by 45.
    private let axes: [[Float]] = {
        let (c, s) = (Float(cos(Double.pi / 6)), Float(sin(Double.pi / 6)))
        let r = Float(0.5.squareRoot())
        return [[c, s * r, s * r], [-s, c * r, c * r], [0, -r, r]]
    }()

    func testComponentsAndVariancesOfRowsWithAKnownCovariance() throws {
        let offset: [Float] = [5, -2, 7]
        var rows: [Float] = []
        for (axis, length) in zip(axes, [Float(3), 2, 1]) {
            for sign in [Float(1), -1] { rows += (0..<3).map { offset[$0] + sign * length * axis[$0] } }
        }
        let pca = try PrincipalComponents(rows: rows, dimensions: 3, count: 3)
        // Covariance along each axis: 2 * length^2 / (6 - 1).
        let expected: [Float] = [18.0 / 5, 8.0 / 5, 2.0 / 5]
        for index in 0..<3 {
            XCTAssertEqual(pca.variances[index], expected[index], accuracy: 1e-4, "component \(index)")
            let dot = zip(pca.components[index], axes[index]).reduce(Float(0)) { $0 + $1.0 * $1.1 }
            XCTAssertEqual(abs(dot), 1, accuracy: 1e-4, "component \(index) lies along axis \(index)")
            let largest = pca.components[index].max { abs($0) < abs($1) }!
            XCTAssertGreaterThan(largest, 0, "the sign is fixed: the largest entry is positive")
        }
        for (got, want) in zip(pca.mean, offset) { XCTAssertEqual(got, want, accuracy: 1e-5) }
        for (got, want) in zip(pca.explainedVariance, expected.map { $0 / 5.6 }) { XCTAssertEqual(got, want, accuracy: 1e-4) }
        // The first point, +3 along the first axis, projects to (±3, 0, 0).
        let first = pca.project(Array(rows.prefix(3)))
        XCTAssertEqual(abs(first[0]), 3, accuracy: 1e-4)
        XCTAssertEqual(first[1], 0, accuracy: 1e-4)
        XCTAssertEqual(first[2], 0, accuracy: 1e-4)
    }

    func testImpossibleInputsAreThrown() {
        XCTAssertThrowsError(try PrincipalComponents(rows: [1, 2, 3], dimensions: 2)) {
            XCTAssertEqual($0 as? PrincipalComponentsError, .badShape(values: 3, dimensions: 2))
        }
        XCTAssertThrowsError(try PrincipalComponents(rows: [1, 2], dimensions: 2)) {
            XCTAssertEqual($0 as? PrincipalComponentsError, .tooFewRows(1))
        }
        XCTAssertThrowsError(try PrincipalComponents(rows: [1, 2, 3, 4], dimensions: 2, count: 3)) {
            XCTAssertEqual($0 as? PrincipalComponentsError, .tooManyComponents(3, dimensions: 2))
        }
        XCTAssertThrowsError(try PrincipalComponents(rows: [1, .nan, 3, 4], dimensions: 2)) {
            XCTAssertEqual($0 as? PrincipalComponentsError, .notFinite(index: 1))
        }
    }

    func testThePenultimateActivationsAreWhatTheSoftmaxReads() throws {
        let network = try Network(layers: [
            FullyConnectedLayer(nIn: 12, nOut: 5, activation: .tanh, pDropout: 0.2),
            SoftmaxLayer(nIn: 5, nOut: 3),
        ], miniBatchSize: 4, evaluationBatchSize: 3, threads: 2, seed: 11)
        var random = RandomSource(seed: 4)
        try network.setParameterValues(network.parameterValues.indices.map { _ in Float(random.nextGaussian(standardDeviation: 0.8)) })
        let pixels: [UInt8] = (0..<(7 * 12)).map { (index: Int) -> UInt8 in UInt8((index * 53 + 7) % 256) }
        let data = try Dataset(name: "tiny", channels: 1, height: 3, width: 4, pixels: pixels, labels: [0, 1, 2, 0, 1, 2, 0], classCount: 3)
        XCTAssertEqual(network.penultimateWidth, 5)
        let features = try network.penultimateActivations(on: data)
        XCTAssertEqual(features.count, 7 * 5)
        let probabilities = try network.probabilities(on: data)
        // The softmax's weights (5x3) follow the dense layer's (12x5); its biases follow the dense biases.
        let values = network.parameterValues
        let weights = Array(values[60..<75]), biases = Array(values[(75 + 5)..<(75 + 8)])
        for image in 0..<7 {
            let a = Array(features[(image * 5)..<(image * 5 + 5)])
            XCTAssertTrue(a.allSatisfy { abs($0) <= 1 }, "tanh activations")
            var z = [Float](repeating: 0, count: 3)
            for k in 0..<3 {
                z[k] = biases[k]
                for j in 0..<5 { z[k] += a[j] * weights[j * 3 + k] }
            }
            let top = z.max()!
            let exps: [Float] = z.map { Float(exp(Double($0 - top))) }
            let sum = exps.reduce(0, +)
            for k in 0..<3 { XCTAssertEqual(probabilities[image * 3 + k], exps[k] / sum, accuracy: 1e-5, "image \(image), class \(k)") }
        }
        XCTAssertThrowsError(try network.penultimateActivations(on: try Dataset(name: "wrong", channels: 1, height: 2, width: 2,
                                                                               pixels: [0, 0, 0, 0], labels: [0], classCount: 3)))
    }

    func testTheEmbeddingPlotPutsEachDotInItsClassColour() throws {
        let points: [Float] = [0, 0, 10, 10, 5, 5]
        let picture = try EmbeddingPlot.draw(points: points, labels: [0, 1, 2], classNames: ["a", "b", "c"], title: "T")
        XCTAssertEqual(picture.channels, 3)
        // The middle point (5, 5) lies at the centre of the plot area's value range.
        let panelLeft = EmbeddingPlot.margin + EmbeddingPlot.labelSpace
        var found = false
        for y in 0..<picture.height {
            for x in panelLeft..<(panelLeft + EmbeddingPlot.plotSide) {
                if (0..<3).map({ picture[x: x, y: y, channel: $0] }) == TrainingCurves.color(ofRun: 2) { found = true }
            }
        }
        XCTAssertTrue(found, "class 2's dot is drawn in its colour")
        XCTAssertThrowsError(try EmbeddingPlot.draw(points: [1, 2, 3], labels: [0, 1], classNames: [], title: "T"))
    }
}
