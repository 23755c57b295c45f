// NetworkValidator.swift: the architecture rules, written once.
//
// A network is a chain of registered layer kinds: each layer valid on its
// own, each layer's input the previous layer's output (a dense layer takes
// any output of the same size, flattened), every spatial layer before every
// dense one, and one cost layer (the softmax), last.  Network's init,
// checkpoint decoding and anything else that builds a network call
// `validate`, so the rules and their messages live here and nowhere else.

/// Errors found when a network is put together.
public enum NetworkConfigurationError: Error, CustomStringConvertible, Equatable {
    /// A setting of the network itself (mini-batch size, threads) is out of range.
    case badSetting(String)
    /// A layer is wrong on its own: its summary and why.
    case badLayer(summary: String, reason: String)
    /// A layer at `position` (from 1) is of a type SwiftNet cannot run.
    case unsupportedLayer(position: Int, summary: String)
    /// Layer `position`'s input does not take the previous layer's output.
    case shapeMismatch(position: Int, previous: String, outputs: SampleShape, layer: String, expects: SampleShape)
    /// A layer stands where it cannot run (a conv after a dense layer, no cost layer last).
    case misplacedLayer(String)
    /// The network's threads or memory could not be had.
    case resources(String)

    /// The error in one line, naming what is at fault.
    public var description: String {
        switch self {
        case .badSetting(let message), .misplacedLayer(let message), .resources(let message): return message
        case .badLayer(let summary, let reason): return "\(summary): \(reason)"
        case .unsupportedLayer(let position, let summary):
            return "layer \(position), \(summary), is not a layer SwiftNet can run"
        case .shapeMismatch(let position, let previous, let outputs, let layer, let expects):
            return "layer \(position - 1), \(previous), outputs \(outputs) but layer \(position), \(layer), expects \(expects)"
        }
    }
}

enum NetworkValidator {
    /// Checks every layer and every pair of neighbours.
    /// - Parameters:
    ///   - layers: the layers, first to last.
    ///   - miniBatchSize: the run's mini-batch size, which some layers record.
    /// - Returns: the layers as the engine sees them.
    /// - Throws: `NetworkConfigurationError` for the first rule broken.
    static func validate(_ layers: [any Layer], miniBatchSize: Int) throws -> [any LayerKind] {
        guard !layers.isEmpty else { throw NetworkConfigurationError.badSetting("a network needs at least one layer") }
        var known: [any LayerKind] = []
        for (index, layer) in layers.enumerated() {
            let kind = try LayerRegistry.known(layer, position: index + 1)
            try kind.validate()
            try checkSampleSizes(kind)
            try kind.validate(miniBatchSize: miniBatchSize)
            if let previous = known.last {
                if kind.placement == .spatial, previous.placement == .dense {
                    throw NetworkConfigurationError.misplacedLayer(
                        "layer \(index + 1), \(layer.summary), follows a dense layer; conv and pool layers must come first")
                }
                if previous.isCostLayer {
                    throw NetworkConfigurationError.misplacedLayer(
                        "layer \(index), \(previous.summary), computes the cost and must be last")
                }
                let output = previous.outputShape, input = kind.inputShape
                guard output.count == input.count, output == input || input.height * input.width == 1 else {
                    throw NetworkConfigurationError.shapeMismatch(position: index + 1, previous: previous.summary, outputs: output,
                                                                  layer: layer.summary, expects: input)
                }
            }
            known.append(kind)
        }
        guard let last = known.last, last.isCostLayer else {
            let costKinds = LayerRegistry.kinds.filter { $0.isCostKind }.map { $0.kindName }.joined(separator: " or ")
            throw NetworkConfigurationError.misplacedLayer("the last layer is \(layers.last!.summary); it must be a \(costKinds)")
        }
        return known
    }

    /// Every sample a layer reads or writes must be one the kernels index with a
    /// C int; checked before anything multiplies the layer's sizes (counts of
    /// weights and buffers), so those products cannot overflow.
    private static func checkSampleSizes(_ kind: any LayerKind) throws {
        for shape in [kind.inputShape, kind.outputShape]
        where !MemoryTally.fits([shape.channels, shape.height, shape.width]) {
            throw NetworkConfigurationError.badLayer(summary: kind.summary, reason: "a sample of \(shape.channels)x\(shape.height)x"
                + "\(shape.width) values is more than the \(MemoryTally.maximumBufferValues) the kernels index")
        }
    }
}
