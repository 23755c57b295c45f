// Layer.swift: what every layer of a network has in common.
//
// A layer is a small value that describes itself: the shape of one sample
// coming in and going out, how many weights and biases it owns, and how to
// initialise them.  Network reads these descriptions, checks that
// consecutive shapes agree, lays all parameters out in one block, and builds
// the internal runners that call the C kernels.

/// The shape of one sample: channels x height x width (NCHW without the N).
/// A flat vector of n values is `(n, 1, 1)`.
public struct SampleShape: Equatable, Sendable, CustomStringConvertible {
    /// Feature maps (1 for a gray image, 3 for RGB).
    public var channels: Int
    /// Rows.
    public var height: Int
    /// Columns.
    public var width: Int

    /// A shape of `channels` maps of `height` rows and `width` columns.
    public init(channels: Int, height: Int, width: Int) {
        self.channels = channels
        self.height = height
        self.width = width
    }

    /// A flat vector of `count` values.
    public static func flat(_ count: Int) -> SampleShape {
        SampleShape(channels: count, height: 1, width: 1)
    }

    /// Values per sample.
    public var count: Int { channels * height * width }

    /// A short readable form, as messages and the CLI print it.
    public var description: String {
        height == 1 && width == 1 ? "\(channels)" : "\(channels)x\(height)x\(width)"
    }
}

/// A layer of a feed-forward network, as network3.py defines them: what a
/// network's layers have in common, to read them through `Network.layers`.
///
/// SwiftNet's own kinds conform: ``ConvPoolLayer``, ``ConvLayer``,
/// ``MaxPoolLayer``, ``BatchNormLayer``, ``FullyConnectedLayer`` and
/// ``SoftmaxLayer``.  The protocol is sealed: a kind needs C kernels, a
/// checkpoint record and a spec word inside the library, so a type outside
/// SwiftNet cannot conform (it could not make a ``LayerSeal``).  The README's
/// "How to add a layer kind" says how to add one to SwiftNet itself.
///
/// ```swift
/// for layer in network.layers {
///     print(layer.summary, layer.inputShape, "->", layer.outputShape)
/// }
/// ```
public protocol Layer: Sendable {
    /// One sample entering the layer.
    var inputShape: SampleShape { get }
    /// One sample leaving the layer.
    var outputShape: SampleShape { get }
    /// Weights this layer owns (regularised by L2).
    var weightCount: Int { get }
    /// Biases this layer owns (not regularised).
    var biasCount: Int { get }
    /// A short name for messages, e.g. `ConvPoolLayer(20x5x5, pool 2x2, sigmoid)`.
    var summary: String { get }
    /// The proof that the kind is SwiftNet's own; only the library can make one.
    var seal: LayerSeal { get }
}

/// What seals ``Layer``: its initialiser is internal to SwiftNet, so only the
/// library's own layer kinds can conform.
public struct LayerSeal: Sendable {
    init() {}
}

extension UnsafeMutableBufferPointer where Element == Float {
    /// Fills with N(0, standardDeviation) draws, in index order.
    func fillGaussian(standardDeviation: Double, random: inout RandomSource) {
        for index in indices {
            self[index] = Float(random.nextGaussian(standardDeviation: standardDeviation))
        }
    }
}
