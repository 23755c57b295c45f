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
        let positive = [filterShape.filters, filterShape.channels, filterShape.height, filterShape.width,
                        imageShape.channels, imageShape.height, imageShape.width,
                        poolSize.height, poolSize.width]
        guard positive.allSatisfy({ $0 > 0 }) else {
            throw NetworkConfigurationError("\(summary): every size must be positive")
        }
        guard filterShape.channels == imageShape.channels else {
            throw NetworkConfigurationError(
                "\(summary): filters have \(filterShape.channels) channels but images have \(imageShape.channels)")
        }
        let convolved = convolvedShape
        guard convolved.height >= 1, convolved.width >= 1 else {
            throw NetworkConfigurationError(
                "\(summary): a \(filterShape.height)x\(filterShape.width) filter does not fit in a \(imageShape.height)x\(imageShape.width) image")
        }
        guard outputShape.height >= 1, outputShape.width >= 1 else {
            throw NetworkConfigurationError(
                "\(summary): a \(poolSize.height)x\(poolSize.width) pool does not fit in the \(convolved.height)x\(convolved.width) convolution output")
        }
    }

    public func initialize(weights: UnsafeMutableBufferPointer<Float>,
                           biases: UnsafeMutableBufferPointer<Float>,
                           random: inout RandomSource) {
        // The seed's fan-out: filters * filter area / pool area.
        let fanOut = Double(filterShape.filters * filterShape.height * filterShape.width)
            / Double(poolSize.height * poolSize.width)
        weights.fillGaussian(standardDeviation: (1.0 / fanOut).squareRoot(), random: &random)
        biases.fillGaussian(standardDeviation: 1.0, random: &random)
    }
}
