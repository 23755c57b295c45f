// NetworkSpec.swift: a network written as one readable line.
//
//   conv 20 5x5 relu, pool 2, conv 40 5x5 relu, pool 2,
//   fc 1000 relu dropout 0.5, fc 1000 relu dropout 0.5, softmax 10 dropout 0.5
//
// Parts are separated by commas, words by spaces (case does not matter):
//
//   conv N KxK [ACTIVATION]        N filters of KxK (or just K); valid, stride 1
//   pool P | pool PxQ              non-overlapping max-pool
//   fc N [ACTIVATION] [dropout P]  fully connected; dropout on its input, as in the seed
//   softmax N [dropout P]          the output layer, last
//
// ACTIVATION is sigmoid, tanh, relu or linear; left out, it is the default
// the caller gives (the CLI's --activation, sigmoid unless told).  Shapes
// flow from the input image, so only output sizes are written.  A conv part
// followed directly by a pool part becomes the seed's ConvPoolLayer, which
// computes the same function as ConvLayer + MaxPoolLayer (max-pooling
// commutes with every activation here) and is initialised as the seed
// initialises it; a conv or pool part on its own becomes a ConvLayer or a
// MaxPoolLayer.  `describe` writes layers back as a spec, so a checkpoint's
// network can be shown the way it was asked for.  Every error names the part,
// by number and text, and the word that is wrong.

import Foundation

/// A spec that cannot be parsed or does not fit the input.
public struct NetworkSpecError: Error, CustomStringConvertible {
    public let description: String
}

/// Parses and writes the one-line network spec.
public enum NetworkSpec {
    /// The book's best single network (chapter 6), which reaches about 99.6% with --expand.
    public static let bookBest = "conv 20 5x5 relu, pool 2, conv 40 5x5 relu, pool 2, "
        + "fc 1000 relu dropout 0.5, fc 1000 relu dropout 0.5, softmax 10 dropout 0.5"

    /// One part of a spec, before shapes are known.
    enum Part: Equatable {
        case conv(filters: Int, height: Int, width: Int, activation: Activation?)
        case pool(height: Int, width: Int)
        case fullyConnected(outputs: Int, activation: Activation?, dropout: Float)
        case softmax(classes: Int, dropout: Float)
    }

    /// Builds the layers a spec describes.
    /// - Parameters:
    ///   - spec: the spec text.
    ///   - input: one input image (channels x height x width).
    ///   - miniBatchSize: the run's mini-batch size (ConvPoolLayer records it, as in the seed).
    ///   - activation: the activation of parts that name none.
    /// - Returns: the layers, ready for `Network(layers:...)`.
    /// - Throws: `NetworkSpecError` naming the faulty part and word.
    public static func layers(from spec: String, input: SampleShape, miniBatchSize: Int,
                              activation: Activation = .sigmoid) throws -> [any Layer] {
        let parts = try parse(spec)
        var layers: [any Layer] = []
        var shape = input
        var index = 0
        while index < parts.count {
            let (part, text) = parts[index]
            let place = "part \(index + 1) '\(text)'"
            func fail(_ why: String) -> NetworkSpecError { NetworkSpecError(description: "--layers: \(place): \(why)") }
            switch part {
            case .conv(let filters, let height, let width, let named):
                guard !(layers.last is FullyConnectedLayer) else {
                    throw fail("a conv layer cannot follow a fully connected layer; conv and pool layers come first")
                }
                guard height <= shape.height, width <= shape.width else {
                    throw fail("a \(height)x\(width) filter does not fit the \(shape.height)x\(shape.width) "
                        + (layers.isEmpty ? "input image" : "output of part \(index)"))
                }
                let act = named ?? activation
                if index + 1 < parts.count, case .pool(let poolHeight, let poolWidth) = parts[index + 1].part {
                    let convolved = (shape.height - height + 1, shape.width - width + 1)
                    guard poolHeight <= convolved.0, poolWidth <= convolved.1 else {
                        throw NetworkSpecError(description: "--layers: part \(index + 2) '\(parts[index + 1].text)': a "
                            + "\(poolHeight)x\(poolWidth) pool does not fit the \(convolved.0)x\(convolved.1) output of part \(index + 1)")
                    }
                    let layer = ConvPoolLayer(filterShape: (filters, shape.channels, height, width),
                                              imageShape: (miniBatchSize, shape.channels, shape.height, shape.width),
                                              poolSize: (poolHeight, poolWidth), activation: act)
                    layers.append(layer)
                    shape = layer.outputShape
                    index += 2
                    continue
                }
                let layer = ConvLayer(filterShape: (filters, shape.channels, height, width), inputShape: shape, activation: act)
                layers.append(layer)
                shape = layer.outputShape
            case .pool(let height, let width):
                guard !(layers.last is FullyConnectedLayer) else {
                    throw fail("a pool layer cannot follow a fully connected layer; conv and pool layers come first")
                }
                guard height <= shape.height, width <= shape.width else {
                    throw fail("a \(height)x\(width) pool does not fit the \(shape.height)x\(shape.width) "
                        + (layers.isEmpty ? "input image" : "output of part \(index)"))
                }
                let layer = MaxPoolLayer(inputShape: shape, poolSize: (height, width))
                layers.append(layer)
                shape = layer.outputShape
            case .fullyConnected(let outputs, let named, let dropout):
                let layer = FullyConnectedLayer(nIn: shape.count, nOut: outputs, activation: named ?? activation, pDropout: dropout)
                layers.append(layer)
                shape = layer.outputShape
            case .softmax(let classes, let dropout):
                guard index == parts.count - 1 else { throw fail("softmax must be the last part") }
                layers.append(SoftmaxLayer(nIn: shape.count, nOut: classes, pDropout: dropout))
            }
            index += 1
        }
        guard layers.last is SoftmaxLayer else {
            throw NetworkSpecError(description: "--layers: the last part must be 'softmax N', got '\(parts.last!.text)'")
        }
        return layers
    }

    /// Splits and reads the parts, without shapes.
    static func parse(_ spec: String) throws -> [(part: Part, text: String)] {
        let texts = spec.split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        guard !(texts.count == 1 && texts[0].isEmpty) else {
            throw NetworkSpecError(description: "--layers: the spec is empty; write for example 'conv 20 5x5, pool 2, fc 100, softmax 10'")
        }
        return try texts.enumerated().map { offset, text in
            (try parsePart(text, number: offset + 1), text)
        }
    }

    private static func parsePart(_ text: String, number: Int) throws -> Part {
        let words = text.lowercased().split(separator: " ").map(String.init)
        func fail(_ why: String) -> NetworkSpecError {
            NetworkSpecError(description: "--layers: part \(number) '\(text)': \(why)")
        }
        guard let kind = words.first else { throw fail("the part is empty (two commas in a row?)") }
        var rest = Array(words.dropFirst())
        func count(_ what: String) throws -> Int {
            guard let word = rest.first else { throw fail("expected \(what) after '\(kind)'") }
            guard let value = Int(word), value >= 1, value <= 1 << 20 else {
                throw fail("'\(word)' is not \(what) (a whole number from 1)")
            }
            rest.removeFirst()
            return value
        }
        func size(_ what: String) throws -> (Int, Int) {
            guard let word = rest.first else { throw fail("expected \(what), like 5x5, after '\(kind)'") }
            let sides = word.split(separator: "x", omittingEmptySubsequences: false).map { Int($0) }
            guard (1...2).contains(sides.count), sides.allSatisfy({ ($0 ?? 0) >= 1 && ($0 ?? 0) <= 4096 }) else {
                throw fail("'\(word)' is not \(what) like 5x5 or 5")
            }
            rest.removeFirst()
            return (sides[0]!, sides.last!!)
        }
        func activation() -> Activation? {
            guard let word = rest.first, let value = Activation(rawValue: word) else { return nil }
            rest.removeFirst()
            return value
        }
        func dropout() throws -> Float {
            guard rest.first == "dropout" else { return 0 }
            rest.removeFirst()
            guard let word = rest.first else { throw fail("expected a probability after 'dropout'") }
            guard let value = Float(word), value.isFinite, value >= 0, value < 1 else {
                throw fail("dropout '\(word)' is not a probability in [0, 1)")
            }
            rest.removeFirst()
            return value
        }
        func finish(_ part: Part, expecting: String) throws -> Part {
            if let extra = rest.first { throw fail("unexpected '\(extra)'; \(expecting)") }
            return part
        }
        let activations = Activation.allCases.map(\.rawValue).joined(separator: ", ")
        switch kind {
        case "conv":
            let filters = try count("a number of filters")
            let (height, width) = try size("a filter size")
            let act = activation()
            return try finish(.conv(filters: filters, height: height, width: width, activation: act),
                              expecting: "a conv part is 'conv N KxK [\(activations)]'")
        case "pool":
            let (height, width) = try size("a pool size")
            return try finish(.pool(height: height, width: width), expecting: "a pool part is 'pool P' or 'pool PxQ'")
        case "fc":
            let outputs = try count("a number of neurons")
            let act = activation()
            let p = try dropout()
            return try finish(.fullyConnected(outputs: outputs, activation: act, dropout: p),
                              expecting: "an fc part is 'fc N [\(activations)] [dropout P]'")
        case "softmax":
            let classes = try count("a number of classes")
            guard classes >= 2 else { throw fail("a softmax needs at least 2 classes") }
            let p = try dropout()
            return try finish(.softmax(classes: classes, dropout: p), expecting: "a softmax part is 'softmax N [dropout P]'")
        default:
            throw fail("unknown layer '\(kind)'; parts start with conv, pool, fc or softmax")
        }
    }

    /// The spec of `layers`: what `layers(from:...)` turns back into the same layers.
    public static func describe(_ layers: [any Layer]) -> String {
        func size(_ height: Int, _ width: Int) -> String { height == width ? "\(height)" : "\(height)x\(width)" }
        func dropout(_ p: Float) -> String { p > 0 ? " dropout \(p)" : "" }
        return layers.map { layer -> String in
            switch layer {
            case let conv as ConvPoolLayer:
                return "conv \(conv.filterShape.filters) \(conv.filterShape.height)x\(conv.filterShape.width) "
                    + "\(conv.activation.rawValue), pool \(size(conv.poolSize.height, conv.poolSize.width))"
            case let conv as ConvLayer:
                return "conv \(conv.filterShape.filters) \(conv.filterShape.height)x\(conv.filterShape.width) \(conv.activation.rawValue)"
            case let pool as MaxPoolLayer:
                return "pool \(size(pool.poolSize.height, pool.poolSize.width))"
            case let dense as FullyConnectedLayer:
                return "fc \(dense.nOut) \(dense.activation.rawValue)\(dropout(dense.pDropout))"
            case let softmax as SoftmaxLayer:
                return "softmax \(softmax.nOut)\(dropout(softmax.pDropout))"
            default:
                return layer.summary
            }
        }.joined(separator: ", ")
    }
}
