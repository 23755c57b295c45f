// NetworkSpecTests.swift: the one-line network spec of `cnn train --layers`.
//
// Good specs must build the layers and shapes they describe (a conv part
// followed by a pool part as the seed's ConvPoolLayer), `describe` must
// write them back, and every bad spec must be refused with a message that
// names the faulty part and word.

@testable import SwiftNet
import XCTest

final class NetworkSpecTests: XCTestCase {
    private let mnist = SampleShape(channels: 1, height: 28, width: 28)

    func testTheBooksBestNetworkBuildsTheBooksShapes() throws {
        let layers = try NetworkSpec.layers(from: NetworkSpec.bookBest, input: mnist, miniBatchSize: 10)
        XCTAssertEqual(layers.count, 5)
        let first = try XCTUnwrap(layers[0] as? ConvPoolLayer)
        XCTAssertEqual(first.outputShape, SampleShape(channels: 20, height: 12, width: 12))
        XCTAssertEqual(first.activation, .relu)
        XCTAssertEqual(first.imageShape.batch, 10)
        let second = try XCTUnwrap(layers[1] as? ConvPoolLayer)
        XCTAssertEqual(second.outputShape, SampleShape(channels: 40, height: 4, width: 4))
        let fc = try XCTUnwrap(layers[2] as? FullyConnectedLayer)
        XCTAssertEqual([fc.nIn, fc.nOut], [640, 1000])
        XCTAssertEqual(fc.pDropout, 0.5)
        let softmax = try XCTUnwrap(layers[4] as? SoftmaxLayer)
        XCTAssertEqual([softmax.nIn, softmax.nOut], [1000, 10])
        XCTAssertEqual(NetworkSpec.describe(layers), NetworkSpec.bookBest)
        XCTAssertNoThrow(try Network(layers: layers, miniBatchSize: 10, threads: 1))
    }

    func testTheSeedsPresetIsItsSpec() throws {
        let spec = "conv 20 5x5, pool 2, fc 100 dropout 0.3, softmax 10"
        let layers = try NetworkSpec.layers(from: spec, input: mnist, miniBatchSize: 10)
        let seed = [
            ConvPoolLayer(filterShape: (20, 1, 5, 5), imageShape: (10, 1, 28, 28), poolSize: (2, 2), activation: .sigmoid),
            FullyConnectedLayer(nIn: 2880, nOut: 100, activation: .sigmoid, pDropout: 0.3),
            SoftmaxLayer(nIn: 100, nOut: 10),
        ] as [any Layer]
        XCTAssertEqual(NetworkSpec.describe(layers), NetworkSpec.describe(seed))
        // Equal specs and seeds give equal initial parameters.
        let a = try Network(layers: layers, miniBatchSize: 10, threads: 1, seed: 3)
        let b = try Network(layers: seed, miniBatchSize: 10, threads: 1, seed: 3)
        XCTAssertEqual(Array(a.parameters), Array(b.parameters))
    }

    func testStandaloneConvAndPoolPartsBuildTheirOwnLayers() throws {
        let layers = try NetworkSpec.layers(from: "CONV 8 3 tanh, conv 4 3x2, pool 2x3, pool 2, fc 30 linear, softmax 5 dropout 0.2",
                                            input: SampleShape(channels: 3, height: 20, width: 21), miniBatchSize: 4,
                                            activation: .relu)
        let conv = try XCTUnwrap(layers[0] as? ConvLayer)
        XCTAssertEqual(conv.outputShape, SampleShape(channels: 8, height: 18, width: 19))
        XCTAssertEqual(conv.activation, .tanh)
        let fused = try XCTUnwrap(layers[1] as? ConvPoolLayer)
        XCTAssertEqual(fused.activation, .relu, "a part without an activation takes the default")
        XCTAssertEqual(fused.outputShape, SampleShape(channels: 4, height: 8, width: 6))
        let pool = try XCTUnwrap(layers[2] as? MaxPoolLayer)
        XCTAssertEqual(pool.outputShape, SampleShape(channels: 4, height: 4, width: 3))
        XCTAssertEqual((layers[3] as? FullyConnectedLayer)?.nIn, 48)
        XCTAssertEqual(NetworkSpec.describe(layers),
                       "conv 8 3x3 tanh, conv 4 3x2 relu, pool 2x3, pool 2, fc 30 linear, softmax 5 dropout 0.2")
        let network = try Network(layers: layers, miniBatchSize: 4, threads: 2)
        XCTAssertEqual(network.classCount, 5)
    }

    func testBadSpecsNameThePartAndTheWord() {
        let cases: [(String, [String])] = [
            ("", ["the spec is empty"]),
            ("conv 20 5x5, , softmax 10", ["part 2 ''", "empty"]),
            ("conv 20 5y5, pool 2, softmax 10", ["part 1 'conv 20 5y5'", "'5y5' is not a filter size"]),
            ("conv twenty 5x5, softmax 10", ["part 1", "'twenty' is not a number of filters"]),
            ("conv 20 5x5 relu, pool 2, fc 1000 relu dropuot 0.5, softmax 10", ["part 3 'fc 1000 relu dropuot 0.5'", "unexpected 'dropuot'"]),
            ("conv 20 5x5, fc 100 dropout 1.5, softmax 10", ["part 2", "dropout '1.5' is not a probability"]),
            ("conv 20 5x5, dense 100, softmax 10", ["part 2 'dense 100'", "unknown layer 'dense'"]),
            ("conv 20 30x30, softmax 10", ["part 1", "a 30x30 filter does not fit the 28x28 input image"]),
            ("conv 20 5x5, pool 30, softmax 10", ["part 2 'pool 30'", "does not fit the 24x24 output of part 1"]),
            ("fc 100, conv 20 5x5, softmax 10", ["part 2", "cannot follow a fully connected layer"]),
            ("conv 20 5x5, softmax 10, fc 10", ["part 2 'softmax 10'", "softmax must be the last part"]),
            ("conv 20 5x5, pool 2, fc 100", ["the last part must be 'softmax N'"]),
            ("conv 20 5x5, softmax 1", ["part 2", "at least 2 classes"]),
            ("conv 20, softmax 10", ["part 1", "expected a filter size"]),
        ]
        for (spec, fragments) in cases {
            XCTAssertThrowsError(try NetworkSpec.layers(from: spec, input: mnist, miniBatchSize: 10), spec) { error in
                let message = "\(error)"
                // The library names no CLI flag; `cnn train` adds "--layers: " (CommandErrorTests).
                XCTAssertFalse(message.hasPrefix("--layers"), message)
                XCTAssertTrue(error is NetworkSpecError, message)
                for fragment in fragments { XCTAssertTrue(message.contains(fragment), "'\(spec)': \(message) lacks \(fragment)") }
            }
        }
    }
}
