// SoftmaxLayer.swift: network3.py's output layer.
//
// softmax(x . W + b) with the same input dropout as FullyConnectedLayer, and
// the cost is the mean negative log-likelihood of the true labels.  As in
// the seed its weights and biases start at zero.

/// The softmax output layer, trained on the negative log-likelihood.
public struct SoftmaxLayer: Layer, Equatable {
    /// Inputs per sample.
    public let nIn: Int
    /// Classes: outputs per sample.
    public let nOut: Int
    /// The probability of dropping each input in training (the seed's dropout; 0 for none).
    public let pDropout: Float

    /// The seed's softmax output layer: `nIn` inputs, `nOut` classes, its inputs dropped with
    /// probability `pDropout` in training.  Its weights and biases start at zero, as in network3.py.
    /// - Parameters:
    ///   - nIn: inputs per sample.
    ///   - nOut: classes.
    ///   - pDropout: probability of dropping each input while training, in [0, 1).
    public init(nIn: Int, nOut: Int, pDropout: Float = 0) {
        self.nIn = nIn
        self.nOut = nOut
        self.pDropout = pDropout
    }

    public var inputShape: SampleShape { .flat(nIn) }
    public var outputShape: SampleShape { .flat(nOut) }
    public var weightCount: Int { nIn * nOut }
    public var biasCount: Int { nOut }

    public var summary: String { "SoftmaxLayer(\(nIn) -> \(nOut), dropout \(pDropout))" }

    /// The seal of a SwiftNet layer kind.
    public var seal: LayerSeal { LayerSeal() }

    func initialize(weights: UnsafeMutableBufferPointer<Float>,
                           biases: UnsafeMutableBufferPointer<Float>,
                           random: inout RandomSource) {
        weights.update(repeating: 0)
        biases.update(repeating: 0)
    }
}

extension SoftmaxLayer: LayerKind {
    static var recordCode: UInt8 { 3 }
    static var kindName: String { "SoftmaxLayer" }
    static var specWord: String? { "softmax" }
    static var specUsage: String { "a softmax part is 'softmax N [dropout P]'" }

    static func parse(_ words: inout SpecWords, input: SampleShape, context: SpecContext) throws -> SoftmaxLayer {
        let classes = try words.count("a number of classes")
        guard classes >= 2 else { throw words.fail("a softmax needs at least 2 classes") }
        let dropout = try words.dropout()
        try words.finish()
        return SoftmaxLayer(nIn: input.count, nOut: classes, pDropout: dropout)
    }

    var specText: String { "softmax \(nOut)\(NetworkSpec.dropout(pDropout))" }

    func validate() throws {
        guard nIn > 0, nOut > 1 else {
            throw NetworkConfigurationError.badLayer(summary: summary, reason: "needs nIn > 0 and at least 2 classes")
        }
        guard pDropout >= 0, pDropout < 1 else {
            throw NetworkConfigurationError.badLayer(summary: summary, reason: "pDropout must lie in [0, 1)")
        }
    }

    func encodeRecord(_ out: inout CheckpointByteWriter) {
        out.sizes([nIn, nOut])
        out.f32(pDropout)
    }

    static func decodeRecord(_ reader: inout LayerRecordReader) throws -> SoftmaxLayer {
        let nIn = try reader.width("input count")
        let nOut = try reader.width("class count", minimum: 2)
        return SoftmaxLayer(nIn: nIn, nOut: nOut, pDropout: try reader.dropout())
    }

    var placement: LayerPlacement { .dense }
    var usesDropout: Bool { pDropout > 0 }
    static var isCostKind: Bool { true }
    var network3Shapes: (weights: [Int], biases: [Int])? { ([nIn, nOut], [nOut]) }
}

extension SoftmaxLayer: RunnableLayer {
    func makeDenseStage(_ setup: DenseStageSetup) -> (any DenseSuffixStage)? {
        DenseStage(setup, nIn: nIn, nOut: nOut, pDropout: pDropout, activation: nil)
    }

    func tallyBuffers(_ tally: inout MemoryTally, label: String, capacity: Int, parts: Int, replicas: Int) {
        DenseStage.tally(&tally, label: label, nIn: nIn, nOut: nOut, pDropout: pDropout, capacity: capacity, parts: parts)
    }
}

extension SoftmaxLayer {
    /// Gemm with the evaluation rule's (1 - p) folded into W, then Softmax over the classes.
    func appendONNX(to graph: inout ONNXGraphBuilder, values: ONNXLayerValues) throws {
        graph.denseProduct(nIn: nIn, nOut: nOut, pDropout: pDropout, values: values)
        graph.apply("Softmax", attributes: [.int("axis", 1)])
    }
}
