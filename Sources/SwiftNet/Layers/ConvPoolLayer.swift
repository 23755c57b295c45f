// ConvPoolLayer.swift: network3.py's convolution + max-pool layer.
//
// The seed's layer does a valid, stride-1 convolution, then a
// non-overlapping max-pool that drops ragged borders, then adds the bias and
// applies the activation: act(pool(conv(x)) + b).  The conv has no bias of
// its own, and there is no dropout in conv layers.

/// A convolution followed by max-pooling, then bias and activation.
public struct ConvPoolLayer: Layer {
    /// (filters, input channels, filter height, filter width).
    public let filterShape: (filters: Int, channels: Int, height: Int, width: Int)
    /// (mini-batch size, input channels, image height, image width), as in the seed.
    public let imageShape: (batch: Int, channels: Int, height: Int, width: Int)
    /// (pool height, pool width).
    public let poolSize: (height: Int, width: Int)
    public let activation: Activation

    /// - Parameters:
    ///   - filterShape: (number of filters, input channels, filter height, filter width).
    ///   - imageShape: (mini-batch size, input channels, image height, image width).
    ///   - poolSize: the max-pooling window, (height, width).
    ///   - activation: applied to the pooled values plus bias.
    public init(filterShape: (Int, Int, Int, Int), imageShape: (Int, Int, Int, Int),
                poolSize: (Int, Int) = (2, 2), activation: Activation = .sigmoid) {
        self.filterShape = filterShape
        self.imageShape = imageShape
        self.poolSize = poolSize
        self.activation = activation
    }

    public var inputShape: SampleShape {
        SampleShape(channels: imageShape.channels, height: imageShape.height, width: imageShape.width)
    }

    /// The convolution's output, before pooling.
    var convolvedShape: SampleShape {
        SampleShape(channels: filterShape.filters,
                    height: imageShape.height - filterShape.height + 1,
                    width: imageShape.width - filterShape.width + 1)
    }

    public var outputShape: SampleShape {
        let convolved = convolvedShape
        return SampleShape(channels: filterShape.filters,
                           height: convolved.height / max(poolSize.height, 1),
                           width: convolved.width / max(poolSize.width, 1))
    }

    public var weightCount: Int {
        filterShape.filters * filterShape.channels * filterShape.height * filterShape.width
    }

    public var biasCount: Int { filterShape.filters }

    public var summary: String {
        "ConvPoolLayer(\(filterShape.filters) filters \(filterShape.height)x\(filterShape.width) "
            + "on \(inputShape), pool \(poolSize.height)x\(poolSize.width), \(activation.rawValue))"
    }

    /// Checks the layer on its own; Network checks how layers fit together.
    func validate() throws {
        guard poolSize.height > 0, poolSize.width > 0 else {
            throw NetworkConfigurationError("\(summary): every size must be positive")
        }
        try ConvLayer.checkFilters(filterShape, on: inputShape, layer: summary)
        let convolved = convolvedShape
        guard outputShape.height >= 1, outputShape.width >= 1 else {
            throw NetworkConfigurationError(
                "\(summary): a \(poolSize.height)x\(poolSize.width) pool does not fit in the \(convolved.height)x\(convolved.width) convolution output")
        }
    }

    public func initialize(weights: UnsafeMutableBufferPointer<Float>,
                           biases: UnsafeMutableBufferPointer<Float>,
                           random: inout RandomSource) {
        ConvLayer.initializeAsTheSeed(weights: weights, biases: biases, random: &random, filterShape: filterShape,
                                      poolArea: poolSize.height * poolSize.width)
    }
}
