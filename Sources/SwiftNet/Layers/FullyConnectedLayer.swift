// FullyConnectedLayer.swift: network3.py's dense layer with dropout.
//
// During training the layer drops each INPUT value with probability
// pDropout (without rescaling) and computes act(x_dropped . W + b); at
// evaluation it computes act((1 - pDropout) * x . W + b), exactly as the
// seed does.  Weights are (nIn, nOut).

/// A fully connected layer, optionally dropping its input during training.
public struct FullyConnectedLayer: Layer {
    public let nIn: Int
    public let nOut: Int
    public let activation: Activation
    public let pDropout: Float

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

    func validate() throws {
        guard nIn > 0, nOut > 0 else {
            throw NetworkConfigurationError("\(summary): nIn and nOut must be positive")
        }
        guard pDropout >= 0, pDropout < 1 else {
            throw NetworkConfigurationError("\(summary): pDropout must lie in [0, 1)")
        }
    }

    public func initialize(weights: UnsafeMutableBufferPointer<Float>,
                           biases: UnsafeMutableBufferPointer<Float>,
                           random: inout RandomSource) {
        weights.fillGaussian(standardDeviation: (1.0 / Double(nOut)).squareRoot(), random: &random)
        biases.fillGaussian(standardDeviation: 1.0, random: &random)
    }
}
