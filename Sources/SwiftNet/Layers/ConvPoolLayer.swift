// ConvPoolLayer.swift: network3.py's convolution + max-pool layer.
//
// The seed's layer does a valid, stride-1 convolution, then a
// non-overlapping max-pool that drops ragged borders, then adds the bias and
// applies the activation: act(pool(conv(x)) + b).  The conv has no bias of
// its own, and there is no dropout in conv layers.

/// A convolution followed by max-pooling, then bias and activation.
public struct ConvPoolLayer: Layer, Equatable {
    /// (filters, input channels, filter height, filter width).
    public let filterShape: (filters: Int, channels: Int, height: Int, width: Int)
    /// (mini-batch size, input channels, image height, image width), as in the seed.
    public let imageShape: (batch: Int, channels: Int, height: Int, width: Int)
    /// (pool height, pool width).
    public let poolSize: (height: Int, width: Int)
    /// The nonlinearity applied to the pooled maps plus bias, as the seed orders them.
    public let activation: Activation

    /// The seed's conv-pool layer: `filterShape` is (filters, input maps, rows, columns), `imageShape`
    /// (mini-batch size, input maps, rows, columns), as network3.py writes them; the valid convolution is
    /// max-pooled by `poolSize`, then the bias is added and `activation` applied.
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

    public static func == (a: ConvPoolLayer, b: ConvPoolLayer) -> Bool {
        a.filterShape == b.filterShape && a.imageShape == b.imageShape && a.poolSize == b.poolSize
            && a.activation == b.activation
    }

    /// The seal of a SwiftNet layer kind.
    public var seal: LayerSeal { LayerSeal() }

    func initialize(weights: UnsafeMutableBufferPointer<Float>,
                           biases: UnsafeMutableBufferPointer<Float>,
                           random: inout RandomSource) {
        ConvLayer.initializeAsTheSeed(weights: weights, biases: biases, random: &random, filterShape: filterShape,
                                      poolArea: poolSize.height * poolSize.width)
    }
}

extension ConvPoolLayer: LayerKind {
    static var recordCode: UInt8 { 1 }
    static var kindName: String { "ConvPoolLayer" }
    /// Built from a conv part followed by a pool part (see `fusing`).
    static var specWord: String? { nil }
    static var specUsage: String { ConvLayer.specUsage }

    static func parse(_ words: inout SpecWords, input: SampleShape, context: SpecContext) throws -> ConvPoolLayer {
        throw words.fail("a ConvPoolLayer is written as a conv part followed by a pool part")
    }

    /// The seed's layer for a conv part directly followed by a pool part, or nil.
    static func fusing(_ first: (any Layer)?, _ second: any Layer, miniBatchSize: Int) -> ConvPoolLayer? {
        // The seed's layer has neither padding nor strides of its own.
        guard let conv = first as? ConvLayer, let pool = second as? MaxPoolLayer,
              conv.padding == 0, conv.stride == 1, pool.stridesByPoolSize else { return nil }
        let input = conv.inputShape
        return ConvPoolLayer(filterShape: conv.filterShape, imageShape: (miniBatchSize, input.channels, input.height, input.width),
                             poolSize: pool.poolSize, activation: conv.activation)
    }

    var specText: String {
        "conv \(filterShape.filters) \(filterShape.height)x\(filterShape.width) \(activation.rawValue), "
            + "pool \(NetworkSpec.size(poolSize.height, poolSize.width))"
    }

    /// Checks the layer on its own; the validator checks how layers fit together.
    func validate() throws {
        guard poolSize.height > 0, poolSize.width > 0 else {
            throw NetworkConfigurationError.badLayer(summary: summary, reason: "every size must be positive")
        }
        try ConvLayer.checkFilters(filterShape, on: inputShape, layer: summary)
        let convolved = convolvedShape
        guard outputShape.height >= 1, outputShape.width >= 1 else {
            throw NetworkConfigurationError.badLayer(summary: summary, reason:
                "a \(poolSize.height)x\(poolSize.width) pool does not fit in the \(convolved.height)x\(convolved.width) convolution output")
        }
    }

    func validate(miniBatchSize: Int) throws {
        guard imageShape.batch == miniBatchSize else {
            throw NetworkConfigurationError.badLayer(summary: summary, reason:
                "its images come in mini-batches of \(imageShape.batch), but the run's mini-batch size is \(miniBatchSize) "
                    + "(imageShape's mini-batch size \(imageShape.batch) must equal it)")
        }
    }

    var workspaceValuesPerSample: Int {
        Checkpoint.product([filterShape.channels, filterShape.height, filterShape.width,
                            convolvedShape.height, convolvedShape.width])
    }

    func encodeRecord(_ out: inout CheckpointByteWriter) {
        out.sizes([filterShape.filters, filterShape.channels, filterShape.height, filterShape.width,
                   imageShape.batch, imageShape.channels, imageShape.height, imageShape.width,
                   poolSize.height, poolSize.width])
        out.activation(activation)
    }

    static func decodeRecord(_ reader: inout LayerRecordReader) throws -> ConvPoolLayer {
        let sizes = try reader.extents(["filters", "filter channels", "filter height", "filter width", "image batch",
                                        "image channels", "image height", "image width", "pool height", "pool width"])
        return ConvPoolLayer(filterShape: (sizes[0], sizes[1], sizes[2], sizes[3]),
                             imageShape: (sizes[4], sizes[5], sizes[6], sizes[7]),
                             poolSize: (sizes[8], sizes[9]), activation: try reader.activation())
    }

    var placement: LayerPlacement { .spatial }
    static var needsImageInput: Bool { true }

    var network3Shapes: (weights: [Int], biases: [Int])? {
        ([filterShape.filters, filterShape.channels, filterShape.height, filterShape.width], [filterShape.filters])
    }
}

extension ConvPoolLayer: FilteredLayer {}

extension ConvPoolLayer: RunnableLayer {

    func makeRunner(capacity: Int, parameters: ParameterViews, resources: LayerResources) -> LayerRunner? {
        ConvPoolRunner(geometry: .init(input: inputShape, filterShape: filterShape, pool: poolSize, activation: activation),
                       capacity: capacity, parameters: parameters)
    }

    func tallyBuffers(_ tally: inout MemoryTally, label: String, capacity: Int, parts: Int, replicas: Int) {
        ConvPoolRunner.tally(&tally, label: label, geometry: .init(input: inputShape, filterShape: filterShape, pool: poolSize,
                                                                   activation: activation), capacity: capacity, copies: replicas)
    }
}

extension ConvPoolLayer {
    /// The seed's order: Conv without bias, MaxPool over the pool size, Add(bias), activation.
    func appendONNX(to graph: inout ONNXGraphBuilder, values: ONNXLayerValues) throws {
        graph.convolution(filterShape, values: values, withBiases: false)
        graph.apply("MaxPool", attributes: [.ints("kernel_shape", [poolSize.height, poolSize.width]),
                                            .ints("strides", [poolSize.height, poolSize.width])])
        let biases = graph.constant("biases", dims: [filterShape.filters, 1, 1], values: values["biases"])
        graph.apply("Add", [biases])
        graph.activation(activation)
    }
}
