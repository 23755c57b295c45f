// SoftmaxLayer.swift: network3.py's output layer.
//
// softmax(x . W + b) with the same input dropout as FullyConnectedLayer, and
// the cost is the mean negative log-likelihood of the true labels.  As in
// the seed its weights and biases start at zero.

/// The softmax output layer, trained on the negative log-likelihood.
public struct SoftmaxLayer: Layer {
    public let nIn: Int
    public let nOut: Int
    public let pDropout: Float

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

    func validate() throws {
        guard nIn > 0, nOut > 1 else {
            throw NetworkConfigurationError("\(summary): needs nIn > 0 and at least 2 classes")
        }
        guard pDropout >= 0, pDropout < 1 else {
            throw NetworkConfigurationError("\(summary): pDropout must lie in [0, 1)")
        }
    }

    public func initialize(weights: UnsafeMutableBufferPointer<Float>,
                           biases: UnsafeMutableBufferPointer<Float>,
                           random: inout RandomSource) {
        weights.update(repeating: 0)
        biases.update(repeating: 0)
    }
}
