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
public struct ConvLayer: Layer, Equatable {
    /// (filters, input channels, filter height, filter width).
    public let filterShape: (filters: Int, channels: Int, height: Int, width: Int)
    public let inputShape: SampleShape
    /// The nonlinearity applied to the convolution plus bias.
    public let activation: Activation

    /// A valid convolution of `filterShape` (filters, input maps, rows, columns) over one
    /// sample of `inputShape`, plus bias, then `activation`.
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

    public static func == (a: ConvLayer, b: ConvLayer) -> Bool {
        a.filterShape == b.filterShape && a.inputShape == b.inputShape && a.activation == b.activation
    }

    /// The checks a convolution's shapes need, for ConvLayer and ConvPoolLayer alike.
    static func checkFilters(_ filterShape: (filters: Int, channels: Int, height: Int, width: Int), on input: SampleShape,
                             layer summary: String) throws {
        let sizes = [filterShape.filters, filterShape.channels, filterShape.height, filterShape.width,
                     input.channels, input.height, input.width]
        guard sizes.allSatisfy({ $0 > 0 }) else { throw NetworkConfigurationError.badLayer(summary: summary, reason: "every size must be positive") }
        guard filterShape.channels == input.channels else {
            throw NetworkConfigurationError.badLayer(
                summary: summary, reason: "filters have \(filterShape.channels) channels but images have \(input.channels)")
        }
        guard filterShape.height <= input.height, filterShape.width <= input.width else {
            throw NetworkConfigurationError.badLayer(
                summary: summary, reason: "a \(filterShape.height)x\(filterShape.width) filter does not fit in a \(input.height)x\(input.width) image")
        }
    }

    /// The seal of a SwiftNet layer kind.
    public var seal: LayerSeal { LayerSeal() }

    func initialize(weights: UnsafeMutableBufferPointer<Float>,
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

extension ConvLayer: LayerKind {
    static var recordCode: UInt8 { 4 }
    static var sinceFormatVersion: UInt32 { 2 }
    static var kindName: String { "ConvLayer" }
    static var specWord: String? { "conv" }
    static var specUsage: String { "a conv part is 'conv N KxK [\(SpecWords.activations)]'" }

    static func parse(_ words: inout SpecWords, input: SampleShape, context: SpecContext) throws -> ConvLayer {
        let filters = try words.count("a number of filters")
        let (height, width) = try words.size("a filter size")
        let activation = words.activation() ?? context.defaultActivation
        try words.finish()
        guard height <= input.height, width <= input.width else {
            throw words.fail("a \(height)x\(width) filter does not fit the \(input.height)x\(input.width) \(context.inputName)")
        }
        return ConvLayer(filterShape: (filters, input.channels, height, width), inputShape: input, activation: activation)
    }

    var specText: String {
        "conv \(filterShape.filters) \(filterShape.height)x\(filterShape.width) \(activation.rawValue)"
    }

    func validate() throws { try Self.checkFilters(filterShape, on: inputShape, layer: summary) }

    var workspaceValuesPerSample: Int {
        Checkpoint.product([filterShape.channels, filterShape.height, filterShape.width, outputShape.height, outputShape.width])
    }

    func encodeRecord(_ out: inout CheckpointByteWriter) {
        out.sizes([filterShape.filters, filterShape.channels, filterShape.height, filterShape.width,
                   inputShape.channels, inputShape.height, inputShape.width])
        out.activation(activation)
    }

    static func decodeRecord(_ reader: inout LayerRecordReader) throws -> ConvLayer {
        let sizes = try reader.extents(["filters", "filter channels", "filter height", "filter width",
                                        "input channels", "input height", "input width"])
        return ConvLayer(filterShape: (sizes[0], sizes[1], sizes[2], sizes[3]),
                         inputShape: SampleShape(channels: sizes[4], height: sizes[5], width: sizes[6]),
                         activation: try reader.activation())
    }

    var placement: LayerPlacement { .spatial }
    static var needsImageInput: Bool { true }
}

/// A layer with convolution filters, which `cnn filters` can draw.
public protocol FilteredLayer: Layer {
    /// (filters, input channels, filter height, filter width).
    var filterShape: (filters: Int, channels: Int, height: Int, width: Int) { get }
}

extension ConvLayer: FilteredLayer {}

extension ConvLayer: RunnableLayer {

    func makeRunner(capacity: Int, parameters: ParameterViews, resources: LayerResources) -> LayerRunner? {
        ConvPoolRunner(geometry: .init(input: inputShape, filterShape: filterShape, pool: nil, activation: activation),
                       capacity: capacity, parameters: parameters)
    }

    func tallyBuffers(_ tally: inout MemoryTally, label: String, capacity: Int, parts: Int, replicas: Int) {
        ConvPoolRunner.tally(&tally, label: label, geometry: .init(input: inputShape, filterShape: filterShape, pool: nil,
                                                                   activation: activation), capacity: capacity, copies: replicas)
    }
}
