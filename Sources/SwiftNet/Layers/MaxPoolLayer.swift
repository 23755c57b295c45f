// MaxPoolLayer.swift: non-overlapping max-pooling as a layer of its own.
//
// The pooling half of network3.py's ConvPoolLayer: each output is the
// largest value of a poolSize window, windows do not overlap, and rows or
// columns that do not fill a window are dropped (Theano's
// ignore_border=True).  It has no parameters.

/// Max-pooling over non-overlapping windows.
public struct MaxPoolLayer: Layer {
    public let inputShape: SampleShape
    /// (pool height, pool width).
    public let poolSize: (height: Int, width: Int)

    /// - Parameters:
    ///   - inputShape: one input sample, channels x height x width.
    ///   - poolSize: the window, (height, width).
    public init(inputShape: SampleShape, poolSize: (Int, Int) = (2, 2)) {
        self.inputShape = inputShape
        self.poolSize = poolSize
    }

    public var outputShape: SampleShape {
        SampleShape(channels: inputShape.channels, height: inputShape.height / max(poolSize.height, 1),
                    width: inputShape.width / max(poolSize.width, 1))
    }

    public var weightCount: Int { 0 }
    public var biasCount: Int { 0 }

    public var summary: String {
        "MaxPoolLayer(\(poolSize.height)x\(poolSize.width) on \(inputShape))"
    }

    func validate() throws {
        let sizes = [inputShape.channels, inputShape.height, inputShape.width, poolSize.height, poolSize.width]
        guard sizes.allSatisfy({ $0 > 0 }) else { throw NetworkConfigurationError("\(summary): every size must be positive") }
        guard outputShape.height >= 1, outputShape.width >= 1 else {
            throw NetworkConfigurationError("\(summary): a \(poolSize.height)x\(poolSize.width) pool does not fit in a "
                + "\(inputShape.height)x\(inputShape.width) input")
        }
    }

    public func initialize(weights: UnsafeMutableBufferPointer<Float>,
                           biases: UnsafeMutableBufferPointer<Float>,
                           random: inout RandomSource) {}
}
