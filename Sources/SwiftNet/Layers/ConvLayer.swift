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
        try Self.checkFilters(filterShape, on: inputShape, layer: summary)
    }

    /// The checks a convolution's shapes need, for ConvLayer and ConvPoolLayer alike.
    static func checkFilters(_ filterShape: (filters: Int, channels: Int, height: Int, width: Int), on input: SampleShape,
                             layer summary: String) throws {
        let sizes = [filterShape.filters, filterShape.channels, filterShape.height, filterShape.width,
                     input.channels, input.height, input.width]
        guard sizes.allSatisfy({ $0 > 0 }) else { throw NetworkConfigurationError("\(summary): every size must be positive") }
        guard filterShape.channels == input.channels else {
            throw NetworkConfigurationError(
                "\(summary): filters have \(filterShape.channels) channels but images have \(input.channels)")
        }
        guard filterShape.height <= input.height, filterShape.width <= input.width else {
            throw NetworkConfigurationError(
                "\(summary): a \(filterShape.height)x\(filterShape.width) filter does not fit in a \(input.height)x\(input.width) image")
        }
    }

    public func initialize(weights: UnsafeMutableBufferPointer<Float>,
                           biases: UnsafeMutableBufferPointer<Float>,
                           random: inout RandomSource) {
        Self.initializeAsTheSeed(weights: weights, biases: biases, random: &random, filterShape: filterShape, poolArea: 1)
    }

    /// network3.py's initialisation of a conv layer: weights N(0, 1/fan-out)
    /// with fan-out = filters * filter area / pool area, biases N(0, 1).
    static func initializeAsTheSeed(weights: UnsafeMutableBufferPointer<Float>, biases: UnsafeMutableBufferPointer<Float>,
                                    random: inout RandomSource,
                                    filterShape: (filters: Int, channels: Int, height: Int, width: Int), poolArea: Int) {
        let fanOut = Double(filterShape.filters * filterShape.height * filterShape.width) / Double(poolArea)
        weights.fillGaussian(standardDeviation: (1.0 / fanOut).squareRoot(), random: &random)
        biases.fillGaussian(standardDeviation: 1.0, random: &random)
    }
}
