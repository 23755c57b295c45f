// ConvLayer.swift: a convolution with bias and activation, no pooling.
//
// network3.py's docstring says a fuller implementation would separate the
// convolution from the pooling; this is the convolution half: a valid,
// stride-1 cross-correlation of the input with each filter, plus the
// filter's bias, through the activation: act(conv(x) + b).  Followed by a
// MaxPoolLayer it computes exactly what a ConvPoolLayer computes, because
// max-pooling commutes with every activation SwiftNet offers (each is
// non-decreasing); the layer spec (NetworkSpec) therefore builds
// "conv ..., pool ..." as the seed's ConvPoolLayer, which is faster.

/// A convolution followed by bias and activation, without pooling.
public struct ConvLayer: Layer {
    /// (filters, input channels, filter height, filter width).
    public let filterShape: (filters: Int, channels: Int, height: Int, width: Int)
    public let inputShape: SampleShape
    public let activation: Activation

    /// - Parameters:
    ///   - filterShape: (number of filters, input channels, filter height, filter width).
    ///   - inputShape: one input sample, channels x height x width.
    ///   - activation: applied to the convolution plus bias.
    public init(filterShape: (Int, Int, Int, Int), inputShape: SampleShape, activation: Activation = .sigmoid) {
        self.filterShape = filterShape
        self.inputShape = inputShape
        self.activation = activation
    }

    public var outputShape: SampleShape {
        SampleShape(channels: filterShape.filters, height: inputShape.height - filterShape.height + 1,
                    width: inputShape.width - filterShape.width + 1)
    }

    public var weightCount: Int {
        filterShape.filters * filterShape.channels * filterShape.height * filterShape.width
    }

    public var biasCount: Int { filterShape.filters }

    public var summary: String {
        "ConvLayer(\(filterShape.filters) filters \(filterShape.height)x\(filterShape.width) on \(inputShape), \(activation.rawValue))"
    }

    func validate() throws {
        let sizes = [filterShape.filters, filterShape.channels, filterShape.height, filterShape.width,
                     inputShape.channels, inputShape.height, inputShape.width]
        guard sizes.allSatisfy({ $0 > 0 }) else { throw NetworkConfigurationError("\(summary): every size must be positive") }
        guard filterShape.channels == inputShape.channels else {
            throw NetworkConfigurationError(
                "\(summary): filters have \(filterShape.channels) channels but the input has \(inputShape.channels)")
        }
        guard outputShape.height >= 1, outputShape.width >= 1 else {
            throw NetworkConfigurationError(
                "\(summary): a \(filterShape.height)x\(filterShape.width) filter does not fit in a \(inputShape.height)x\(inputShape.width) input")
        }
    }

    public func initialize(weights: UnsafeMutableBufferPointer<Float>,
                           biases: UnsafeMutableBufferPointer<Float>,
                           random: inout RandomSource) {
        // The seed's rule with no pooling: fan-out = filters * filter area.
        let fanOut = Double(filterShape.filters * filterShape.height * filterShape.width)
        weights.fillGaussian(standardDeviation: (1.0 / fanOut).squareRoot(), random: &random)
        biases.fillGaussian(standardDeviation: 1.0, random: &random)
    }
}
