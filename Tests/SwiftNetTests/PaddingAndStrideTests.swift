// PaddingAndStrideTests.swift: conv layers with zero padding and a stride,
// and max-pools with a stride of their own, from spec to checkpoint.
//
// A small colour network that pads, strides and overlaps its pooling
// windows must back-propagate what finite differences of its cost say, and
// SGD must drive the cost of a fixed tiny batch down.  The spec words parse
// in any order and print back without their defaults, so existing specs
// print as before; bad values are refused naming the part and the word.
// Checkpoints of layers without padding or strides stay format version 2
// with kinds 4 and 5; the others are version 3 with kinds 7 and 8, round
// trip exactly, and are not read as a version 2 file.

@testable import SwiftNet
import XCTest

final class PaddingAndStrideTests: XCTestCase {
    private let colour = SampleShape(channels: 3, height: 11, width: 10)
    /// A padded 2x2 conv that grows the image (11x10 -> 12x11), a 3x3 conv with pad 1 and stride 2
    /// (-> 6x6; not first, so its input gradient is used), an overlapping 3x3 pool every 2 (-> 2x2),
    /// then dense layers.
    private let spec = "conv 3 2x2 pad 1, conv 4 3x3 pad 1 stride 2, pool 3 stride 2, fc 6 dropout 0.2, softmax 4"

    private func makeNetwork(activation: Activation, batch: Int, seed: UInt64 = 11) throws -> Network {
        let layers = try NetworkSpec.layers(from: spec, input: colour, miniBatchSize: batch, activation: activation)
        return try Network(layers: layers, miniBatchSize: batch, threads: 1, seed: seed)
    }

    /// Images whose class lights a colour channel in a class-dependent band, plus noise.
    private func colourImages(count: Int, seed: UInt64) -> Dataset {
        var random = RandomSource(seed: seed)
        let (h, w) = (colour.height, colour.width)
        var pixels = [UInt8](repeating: 0, count: count * colour.count)
        var labels = [Int32](repeating: 0, count: count)
        for image in 0..<count {
            let label = Int(random.next() % 4)
            labels[image] = Int32(label)
            for channel in 0..<3 {
                for row in 0..<h {
                    for column in 0..<w {
                        let lit = channel == label % 3 && row >= 2 * label && row < 2 * label + 4
                        let noise = Int(random.next() >> 58)
                        pixels[image * colour.count + (channel * h + row) * w + column] = UInt8(min(255, (lit ? 190 : 0) + noise))
                    }
                }
            }
        }
        return Dataset.valid(name: "colour", channels: 3, height: h, width: w, pixels: pixels, labels: labels, classCount: 4)
    }

    func testTheSpecBuildsPaddedStridedLayersOfTheRightShapes() throws {
        let layers = try NetworkSpec.layers(from: spec, input: colour, miniBatchSize: 3)
        let first = try XCTUnwrap(layers[0] as? ConvLayer)
        XCTAssertEqual([first.padding, first.stride], [1, 1])
        XCTAssertEqual(first.outputShape, SampleShape(channels: 3, height: 12, width: 11))
        let conv = try XCTUnwrap(layers[1] as? ConvLayer, "a padded conv is never fused into the seed's ConvPoolLayer")
        XCTAssertEqual([conv.padding, conv.stride], [1, 2])
        XCTAssertEqual(conv.outputShape, SampleShape(channels: 4, height: 6, width: 6))
        let pool = try XCTUnwrap(layers[2] as? MaxPoolLayer)
        XCTAssertTrue(pool.poolSize == (3, 3) && pool.stride == (2, 2))
        XCTAssertEqual(pool.outputShape, SampleShape(channels: 4, height: 2, width: 2))
        XCTAssertEqual((layers[3] as? FullyConnectedLayer)?.nIn, 16)
    }

    func testBackwardMatchesFiniteDifferences() throws {
        let batch = 3
        for activation in [Activation.tanh, .relu] {
            let network = try makeNetwork(activation: activation, batch: batch)
            var random = RandomSource(seed: 99)
            network.parameters.fillGaussian(standardDeviation: 0.7, random: &random)
            network.loadBatch(colourImages(count: batch, seed: 5), start: 0, batch: batch)
            let check = FiniteDifferenceCheck(network: network, batch: batch)
            XCTAssertTrue(check.analytic.contains { $0 != 0 }, "\(activation): all gradients are zero")
            // Both convs' weights (3 x 3 x 2 x 2, then 4 x 3 x 3 x 3; all weights come first) get gradients.
            XCTAssertTrue(check.analytic[0..<36].contains { $0 != 0 }, "\(activation): the first conv learns nothing")
            XCTAssertTrue(check.analytic[36..<144].contains { $0 != 0 }, "\(activation): the strided conv learns nothing")
            XCTAssertLessThan(check.skipped, check.analytic.count / 10, "\(activation): too many parameters sit at a pooling kink")
            XCTAssertTrue(check.failures.isEmpty, "\(activation): \(check.failures.count) of \(check.analytic.count) "
                + "gradients disagree; first: \(check.failures.prefix(5))")
        }
    }

    func testSGDReducesTheCostOfAFixedBatch() throws {
        let data = colourImages(count: 8, seed: 2)
        let layers = try NetworkSpec.layers(from: "conv 6 3x3 pad 1 stride 2 relu, pool 3 stride 2, conv 8 2x2 pad 1 relu, softmax 4",
                                            input: colour, miniBatchSize: 8)
        let network = try Network(layers: layers, miniBatchSize: 8, threads: 1, seed: 4)
        network.loadBatch(data, start: 0, batch: 8)
        let initial = network.forward(batch: 8, training: true)
        XCTAssertEqual(Double(initial), log(4.0), accuracy: 1e-4, "zero softmax weights give a uniform guess")
        for _ in 0..<150 {
            try network.trainMiniBatch(data, start: 0, eta: 0.1, weightDecay: 0)
        }
        network.loadBatch(data, start: 0, batch: 8)
        let final = network.forward(batch: 8, training: true)
        XCTAssertLessThan(final, 0.2 * initial, "cost went from \(initial) to \(final)")
    }

    func testSpecsRoundTripAndOmitTheDefaults() throws {
        let cases: [(String, String)] = [
            ("conv 32 3x3 pad 1 stride 1 relu, pool 2, softmax 10", "conv 32 3x3 pad 1 relu, pool 2, softmax 10"),
            ("conv 8 3 stride 2 pad 2 tanh, pool 3x3 stride 2, softmax 10", "conv 8 3x3 pad 2 stride 2 tanh, pool 3 stride 2, softmax 10"),
            ("conv 8 5 relu stride 3, pool 2x3 stride 1x2, softmax 10", "conv 8 5x5 stride 3 relu, pool 2x3 stride 1x2, softmax 10"),
            ("conv 8 3 pad 0 stride 1, pool 2 stride 1, softmax 10", "conv 8 3x3 sigmoid, pool 2 stride 1, softmax 10"),
        ]
        let input = SampleShape(channels: 3, height: 28, width: 28)
        for (spec, written) in cases {
            let layers = try NetworkSpec.layers(from: spec, input: input, miniBatchSize: 2)
            XCTAssertEqual(NetworkSpec.describe(layers), written, spec)
            let again = try NetworkSpec.layers(from: written, input: input, miniBatchSize: 2)
            XCTAssertEqual(NetworkSpec.describe(again), written, spec)
            XCTAssertTrue(zip(layers, again).allSatisfy { LayerRegistry.same($0, $1) }, spec)
            XCTAssertNoThrow(try Network(layers: layers, miniBatchSize: 2, threads: 1), spec)
        }
        // Defaults written out are the seed's layers: "pool 2 stride 2" still fuses with the conv before it.
        let seed = try NetworkSpec.layers(from: "conv 20 5x5 pad 0 stride 1, pool 2 stride 2, softmax 10",
                                          input: SampleShape(channels: 1, height: 28, width: 28), miniBatchSize: 10)
        XCTAssertTrue(seed[0] is ConvPoolLayer)
        XCTAssertEqual(NetworkSpec.describe(seed), "conv 20 5x5 sigmoid, pool 2, softmax 10")
        // A padded conv or a strided pool stays two layers.
        for spec in ["conv 20 5x5 pad 2, pool 2, softmax 10", "conv 20 5x5, pool 3 stride 2, softmax 10"] {
            let layers = try NetworkSpec.layers(from: spec, input: SampleShape(channels: 1, height: 28, width: 28), miniBatchSize: 10)
            XCTAssertTrue(layers[0] is ConvLayer && layers[1] is MaxPoolLayer, spec)
        }
    }

    func testBadPaddingAndStridesAreRefusedNamingThePartAndTheWord() {
        let mnist = SampleShape(channels: 1, height: 28, width: 28)
        let cases: [(String, [String])] = [
            ("conv 8 3x3 pad 3, softmax 10", ["part 1 'conv 8 3x3 pad 3'", "pad 3 must be less than the 3x3 filter's sides"]),
            ("conv 8 3x3 stride 0, softmax 10", ["part 1", "'0' is not a stride (a whole number from 1)"]),
            ("conv 8 3x3 pad, softmax 10", ["part 1", "expected a padding after 'pad'"]),
            ("conv 8 3x3 pad -1, softmax 10", ["part 1", "'-1' is not a padding (a whole number from 0)"]),
            ("conv 8 3x3 pad 1 relu pad 1, softmax 10", ["part 1", "'pad' is given twice"]),
            ("conv 8 3x3 relu tanh, softmax 10", ["part 1", "unexpected 'tanh'", "[pad P] [stride S]"]),
            ("conv 8 31x31 pad 1, softmax 10", ["part 1", "a 31x31 filter does not fit the 30x30 padded input image"]),
            ("conv 8 3, pool 2 stride, softmax 10", ["part 2 'pool 2 stride'", "expected a stride, like 5x5, after 'stride'"]),
            ("conv 8 3, pool 2 stride 0, softmax 10", ["part 2", "'0' is not a stride"]),
            ("conv 8 3, pool 2 stride 2 2, softmax 10", ["part 2", "unexpected '2'", "'stride S' or 'stride SxT'"]),
        ]
        for (spec, fragments) in cases {
            XCTAssertThrowsError(try NetworkSpec.layers(from: spec, input: mnist, miniBatchSize: 10), spec) { error in
                let message = "\(error)"
                XCTAssertTrue(error is NetworkSpecError, message)
                for fragment in fragments { XCTAssertTrue(message.contains(fragment), "'\(spec)': \(message) lacks \(fragment)") }
            }
        }
    }

    /// Layers built in code are checked once, by the validator, with one line naming the layer.
    func testImpossiblePaddingAndStridesAreRejected() {
        let input = SampleShape(channels: 2, height: 6, width: 6)
        let cases: [(any Layer, String)] = [
            (ConvLayer(filterShape: (3, 2, 3, 3), inputShape: input, padding: 3), "padding 3 must be at least 0 and less than"),
            (ConvLayer(filterShape: (3, 2, 3, 3), inputShape: input, padding: -1), "padding -1"),
            (ConvLayer(filterShape: (3, 2, 3, 3), inputShape: input, stride: 0), "the stride is 0; it must be at least 1"),
            (ConvLayer(filterShape: (3, 2, 9, 9), inputShape: input, padding: 1), "a 9x9 filter does not fit in a 8x8 padded image"),
            (MaxPoolLayer(inputShape: input, poolSize: (2, 2), stride: (0, 2)), "the stride is 0x2"),
        ]
        for (layer, fragment) in cases {
            XCTAssertThrowsError(try Network(layers: [layer, SoftmaxLayer(nIn: max(layer.outputShape.count, 1), nOut: 3)],
                                             miniBatchSize: 2, threads: 1)) { error in
                let message = "\(error)"
                XCTAssertTrue(error is NetworkConfigurationError, message)
                XCTAssertTrue(message.contains(fragment), "\(message) lacks \(fragment)")
                XCTAssertTrue(message.contains(layer.summary), "\(message) does not name \(layer.summary)")
                XCTAssertFalse(message.contains("\n"), message)
            }
        }
    }

    func testCheckpointsKeepVersionTwoWithoutPaddingAndRoundTripWithIt() throws {
        func header(_ bytes: [UInt8]) -> UInt32 { (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[8 + $1]) << (8 * UInt32($1)) } }
        func kinds(_ checkpoint: Checkpoint) -> [UInt8] { checkpoint.layers.map { LayerRegistry.record(of: $0)[0] } }
        let input = SampleShape(channels: 3, height: 11, width: 10)

        // Without padding or strides: kinds 4 and 5, version 2, as before.
        let plain = try NetworkSpec.layers(from: "pool 2, conv 3 2x2 relu, fc 5, softmax 3", input: input, miniBatchSize: 2)
        let plainModel = try Checkpoint(model: Network(layers: plain, miniBatchSize: 2, threads: 1, seed: 3))
        let plainBytes = try plainModel.encoded()
        XCTAssertEqual(header(plainBytes), 2)
        XCTAssertEqual(kinds(plainModel), [5, 4, 2, 3])
        let plainDecoded = try Checkpoint(decoding: plainBytes, source: "plain")
        XCTAssertTrue(try XCTUnwrap(plainDecoded.layers[0] as? MaxPoolLayer).stride == (2, 2), "a kind 5 record tiles by the pool")
        let conv = try XCTUnwrap(plainDecoded.layers[1] as? ConvLayer)
        XCTAssertEqual([conv.padding, conv.stride], [0, 1], "a kind 4 record is a valid stride-1 convolution")

        // Each network has one encoding: the same layers under version 3 are refused.
        var claimingNewer = plainBytes
        claimingNewer[8] = 3
        XCTAssertThrowsError(try Checkpoint(decoding: repairCRCs(claimingNewer), source: "v3.ckpt")) { error in
            XCTAssertTrue("\(error)".contains("is of format version 3, but its layers need version 2"), "\(error)")
        }

        // With them: kinds 7 and 8, version 3, exactly back.
        let network = try makeNetwork(activation: .relu, batch: 2, seed: 8)
        let checkpoint = try Checkpoint(model: network)
        let bytes = try checkpoint.encoded()
        XCTAssertEqual(header(bytes), 3)
        XCTAssertEqual(kinds(checkpoint), [7, 7, 8, 2, 3])
        let decoded = try Checkpoint(decoding: bytes, source: "memory")
        XCTAssertNil(decoded.architectureDifference(from: network.layers))
        XCTAssertEqual(NetworkSpec.describe(decoded.layers), NetworkSpec.describe(network.layers))
        XCTAssertEqual(try decoded.encoded(), bytes, "the encoding is canonical")
        let rebuilt = try decoded.makeNetwork()
        let data = colourImages(count: 6, seed: 9)
        XCTAssertEqual(try rebuilt.probabilities(on: data).map(\.bitPattern), try network.probabilities(on: data).map(\.bitPattern))

        // The same bytes claiming version 2 are refused: kind 7 came with version 3.
        var older = bytes
        older[8] = 2
        XCTAssertThrowsError(try Checkpoint(decoding: repairCRCs(older), source: "older.ckpt")) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("layer 1 is of kind 7; known kinds are"), message)
            XCTAssertTrue(message.contains("7 (ConvLayer with new fields, from format version 3)"), message)
        }
    }
}
