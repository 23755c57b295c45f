// FullyConnectedLayer.swift: network3.py's dense layer with dropout.
//
// During training the layer drops each INPUT value with probability
// pDropout (without rescaling) and computes act(x_dropped . W + b); at
// evaluation it computes act((1 - pDropout) * x . W + b), exactly as the
// seed does.  Weights are (nIn, nOut).

/// A fully connected layer, optionally dropping its input during training.
public struct FullyConnectedLayer: Layer, Equatable {
    /// Inputs per sample.
    public let nIn: Int
    /// Outputs (neurons) per sample.
    public let nOut: Int
    /// The nonlinearity applied to W·x + b.
    public let activation: Activation
    /// The probability of dropping each input in training (the seed's dropout; 0 for none).
    public let pDropout: Float

    /// A dense layer of `nOut` neurons over `nIn` inputs, `activation`(W·x + b), its inputs dropped
    /// with probability `pDropout` in training.
    /// - Parameters:
    ///   - nIn: inputs per sample.
    ///   - nOut: outputs (neurons).
    ///   - activation: applied to x . W + b.
    ///   - pDropout: probability of dropping each input while training, in [0, 1).
    public init(nIn: Int, nOut: Int, activation: Activation = .sigmoid, pDropout: Float = 0) {
        self.nIn = nIn
        self.nOut = nOut
        self.activation = activation
        self.pDropout = pDropout
    }

    public var inputShape: SampleShape { .flat(nIn) }
    public var outputShape: SampleShape { .flat(nOut) }
    public var weightCount: Int { nIn * nOut }
    public var biasCount: Int { nOut }

    public var summary: String {
        "FullyConnectedLayer(\(nIn) -> \(nOut), \(activation.rawValue), dropout \(pDropout))"
    }

    /// The seal of a SwiftNet layer kind.
    public var seal: LayerSeal { LayerSeal() }

    func initialize(weights: UnsafeMutableBufferPointer<Float>,
                           biases: UnsafeMutableBufferPointer<Float>,
                           random: inout RandomSource) {
        weights.fillGaussian(standardDeviation: (1.0 / Double(nOut)).squareRoot(), random: &random)
        biases.fillGaussian(standardDeviation: 1.0, random: &random)
    }
}

extension FullyConnectedLayer: LayerKind {
    static var recordCode: UInt8 { 2 }
    static var kindName: String { "FullyConnectedLayer" }
    static var specWord: String? { "fc" }
    static var specUsage: String { "an fc part is 'fc N [\(SpecWords.activations)] [dropout P]'" }

    static func parse(_ words: inout SpecWords, input: SampleShape, context: SpecContext) throws -> FullyConnectedLayer {
        let outputs = try words.count("a number of neurons")
        let activation = words.activation() ?? context.defaultActivation
        let dropout = try words.dropout()
        try words.finish()
        return FullyConnectedLayer(nIn: input.count, nOut: outputs, activation: activation, pDropout: dropout)
    }

    var specText: String { "fc \(nOut) \(activation.rawValue)\(NetworkSpec.dropout(pDropout))" }

    func validate() throws {
        guard nIn > 0, nOut > 0 else {
            throw NetworkConfigurationError.badLayer(summary: summary, reason: "nIn and nOut must be positive")
        }
        guard pDropout >= 0, pDropout < 1 else {
            throw NetworkConfigurationError.badLayer(summary: summary, reason: "pDropout must lie in [0, 1)")
        }
    }

    func encodeRecord(_ out: inout CheckpointByteWriter) {
        out.sizes([nIn, nOut])
        out.activation(activation)
        out.f32(pDropout)
    }

    static func decodeRecord(_ reader: inout LayerRecordReader) throws -> FullyConnectedLayer {
        let nIn = try reader.width("input count")
        let nOut = try reader.width("output count")
        return FullyConnectedLayer(nIn: nIn, nOut: nOut, activation: try reader.activation(), pDropout: try reader.dropout())
    }

    var placement: LayerPlacement { .dense }
    var usesDropout: Bool { pDropout > 0 }
    var network3Shapes: (weights: [Int], biases: [Int])? { ([nIn, nOut], [nOut]) }
}

extension FullyConnectedLayer: RunnableLayer {
    func makeDenseStage(_ setup: DenseStageSetup) -> (any DenseSuffixStage)? {
        DenseStage(setup, nIn: nIn, nOut: nOut, pDropout: pDropout, activation: activation)
    }

    func tallyBuffers(_ tally: inout MemoryTally, label: String, capacity: Int, parts: Int, replicas: Int) {
        DenseStage.tally(&tally, label: label, nIn: nIn, nOut: nOut, pDropout: pDropout, capacity: capacity, parts: parts)
    }
}

extension FullyConnectedLayer {
    /// Gemm with the evaluation rule's (1 - p) folded into W, then the activation.
    func appendONNX(to graph: inout ONNXGraphBuilder, values: ONNXLayerValues) throws {
        graph.denseProduct(nIn: nIn, nOut: nOut, pDropout: pDropout, values: values)
        graph.activation(activation)
    }
}
