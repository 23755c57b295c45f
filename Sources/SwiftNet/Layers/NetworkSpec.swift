// NetworkSpec.swift: a network written as one readable line.
//
//   conv 20 5x5 relu, pool 2, conv 40 5x5 relu, pool 2,
//   fc 1000 relu dropout 0.5, fc 1000 relu dropout 0.5, softmax 10 dropout 0.5
//
// Parts are separated by commas, words by spaces (case does not matter).
// The first word of a part names a layer kind through LayerRegistry; the
// kind reads the rest (LayerKind.parse), so a new kind brings its own
// words.  Today's parts:
//
//   conv N KxK [pad P] [stride S] [ACTIVATION]
//                                  N filters of KxK (or just K); valid (pad 0) and
//                                  stride 1 unless told, the optional words in any order
//   pool P | pool PxQ [stride S | stride SxT]
//                                  max-pool, non-overlapping unless a stride is given
//   batchnorm [ACTIVATION]         batch normalization, per channel or per unit
//   fc N [ACTIVATION] [dropout P]  fully connected; dropout on its input, as in the seed
//   softmax N [dropout P]          the output layer, last
//
// ACTIVATION is sigmoid, tanh, relu or linear; left out, it is the default
// the caller gives (sigmoid unless told).  Shapes flow from the input
// image, so only output sizes are written.  A conv part without pad or
// stride followed directly by a pool part without a stride of its own
// becomes the seed's ConvPoolLayer, which computes the same
// function as ConvLayer + MaxPoolLayer (max-pooling commutes with every
// activation here) and is initialised as the seed initialises it.
// `describe` writes layers back as a spec.  Every error names the part, by
// number and text, and the word that is wrong; the shape chain is then
// checked by NetworkValidator, the one validator Network and checkpoints use.

import Foundation

/// A spec that cannot be parsed or does not fit the input.
public enum NetworkSpecError: Error, CustomStringConvertible, Equatable {
    /// The spec has no parts.
    case empty
    /// A part is wrong: its number (from 1), its text, and why.
    case badPart(number: Int, text: String, reason: String)
    /// The parts parse but do not make a network (the last is not a softmax).
    case badNetwork(reason: String)

    /// The error in one line, naming what is at fault.
    public var description: String {
        switch self {
        case .empty: return "the spec is empty; write for example 'conv 20 5x5, pool 2, fc 100, softmax 10'"
        case .badPart(let number, let text, let reason): return "part \(number) '\(text)': \(reason)"
        case .badNetwork(let reason): return reason
        }
    }
}

/// The words of one spec part after its first, read left to right by a kind's `parse`.
struct SpecWords {
    private var rest: [String]
    /// The kind's word, for messages ("expected a filter size after 'conv'").
    let kindWord: String
    let usage: String

    init(_ words: [String], kindWord: String, usage: String) {
        rest = words
        self.kindWord = kindWord
        self.usage = usage
    }

    /// A failure of this part; NetworkSpec adds the part's number and text.
    struct Failure: Error { let reason: String }

    func fail(_ reason: String) -> Failure { Failure(reason: reason) }

    mutating func count(_ what: String, minimum: Int = 1, after: String? = nil) throws -> Int {
        guard let word = rest.first else { throw fail("expected \(what) after '\(after ?? kindWord)'") }
        guard let value = Int(word), value >= minimum, value <= 1 << 20 else {
            throw fail("'\(word)' is not \(what) (a whole number from \(minimum))")
        }
        rest.removeFirst()
        return value
    }

    /// The next word, not taken.
    var next: String? { rest.first }

    /// "NAME N": the number after an option word, which must come next.
    mutating func option(_ name: String, _ what: String, minimum: Int) throws -> Int {
        precondition(rest.first == name, "option(\(name)) called at '\(rest.first ?? "")'")
        rest.removeFirst()
        return try count(what, minimum: minimum, after: name)
    }

    /// Takes `word` if it comes next.
    mutating func take(_ word: String) -> Bool {
        guard rest.first == word else { return false }
        rest.removeFirst()
        return true
    }

    /// "5x5" or "5" as (height, width).
    mutating func size(_ what: String, after: String? = nil) throws -> (Int, Int) {
        guard let word = rest.first else { throw fail("expected \(what), like 5x5, after '\(after ?? kindWord)'") }
        let sides = word.split(separator: "x", omittingEmptySubsequences: false).map { Int($0) }
        guard (1...2).contains(sides.count), sides.allSatisfy({ ($0 ?? 0) >= 1 && ($0 ?? 0) <= 4096 }) else {
            throw fail("'\(word)' is not \(what) like 5x5 or 5")
        }
        rest.removeFirst()
        return (sides[0]!, sides.last!!)
    }

    mutating func activation() -> Activation? {
        guard let word = rest.first, let value = Activation(rawValue: word) else { return nil }
        rest.removeFirst()
        return value
    }

    mutating func dropout() throws -> Float {
        guard rest.first == "dropout" else { return 0 }
        rest.removeFirst()
        guard let word = rest.first else { throw fail("expected a probability after 'dropout'") }
        guard let value = Float(word), value.isFinite, value >= 0, value < 1 else {
            throw fail("dropout '\(word)' is not a probability in [0, 1)")
        }
        rest.removeFirst()
        return value
    }

    /// Throws if words are left over.
    func finish() throws {
        if let extra = rest.first { throw fail("unexpected '\(extra)'; \(usage)") }
    }

    static let activations = Activation.allCases.map(\.rawValue).joined(separator: ", ")
}

/// What a kind's `parse` knows beyond its words.
struct SpecContext {
    /// The activation of parts that name none.
    let defaultActivation: Activation
    /// "input image" for the first part, "output of part N" after it.
    let inputName: String
}

/// Parses and writes the one-line network spec.
public enum NetworkSpec {
    /// The book's best single network (chapter 6), which reaches about 99.6% with --expand.
    public static let bookBest = "conv 20 5x5 relu, pool 2, conv 40 5x5 relu, pool 2, "
        + "fc 1000 relu dropout 0.5, fc 1000 relu dropout 0.5, softmax 10 dropout 0.5"

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
        let texts = spec.split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        guard !(texts.count == 1 && texts[0].isEmpty) else { throw NetworkSpecError.empty }
        var layers: [any LayerKind] = []
        var shape = input
        for (offset, text) in texts.enumerated() {
            let number = offset + 1
            let layer: any LayerKind
            if let previous = layers.last, previous.isCostLayer {
                throw NetworkSpecError.badPart(number: offset, text: texts[offset - 1],
                                               reason: "\(previous.specText.split(separator: " ")[0]) must be the last part")
            }
            do {
                layer = try parsePart(text, after: layers.last, input: shape, context: SpecContext(
                    defaultActivation: activation,
                    inputName: offset == 0 ? "input image" : "output of part \(offset)"))
            } catch let failure as SpecWords.Failure {
                throw NetworkSpecError.badPart(number: number, text: text, reason: failure.reason)
            }
            // A conv part followed by a pool part is the seed's ConvPoolLayer.
            if let fused = ConvPoolLayer.fusing(layers.last, layer, miniBatchSize: miniBatchSize) {
                layers[layers.count - 1] = fused
            } else {
                layers.append(layer)
            }
            shape = layer.outputShape
        }
        guard let last = layers.last, last.isCostLayer else {
            throw NetworkSpecError.badNetwork(reason: "the last part must be 'softmax N', got '\(texts.last!)'")
        }
        return layers
    }

    /// One part, read by the kind its first word names.
    private static func parsePart(_ text: String, after previous: (any LayerKind)?, input: SampleShape,
                                  context: SpecContext) throws -> any LayerKind {
        let words = text.lowercased().split(separator: " ").map(String.init)
        guard let word = words.first else { throw SpecWords.Failure(reason: "the part is empty (two commas in a row?)") }
        guard let kind = LayerRegistry.kind(specWord: word) else {
            let known = LayerRegistry.kinds.compactMap { $0.specWord }
            throw SpecWords.Failure(reason: "unknown layer '\(word)'; parts start with "
                + known.dropLast().joined(separator: ", ") + " or " + known.last!)
        }
        if kind.needsImageInput, let previous, previous.placement == .dense {
            throw SpecWords.Failure(reason: "a \(word) layer cannot follow a fully connected layer; conv and pool layers come first")
        }
        var rest = SpecWords(Array(words.dropFirst()), kindWord: word, usage: kind.specUsage)
        return try kind.parseLayer(&rest, input: input, context: context)
    }

    /// The spec of `layers`: what `layers(from:...)` turns back into the same layers.
    public static func describe(_ layers: [any Layer]) -> String {
        layers.map { ($0 as? any LayerKind)?.specText ?? $0.summary }.joined(separator: ", ")
    }

    /// "5" for a square size, "5x3" otherwise.
    static func size(_ height: Int, _ width: Int) -> String { height == width ? "\(height)" : "\(height)x\(width)" }
    /// " dropout P" when P > 0.
    static func dropout(_ p: Float) -> String { p > 0 ? " dropout \(p)" : "" }
}
