// ConvLayer.swift: a convolution with bias and activation, no pooling.
//
// network3.py's docstring says a fuller implementation would separate the
// convolution from the pooling; this is the convolution half: a
// cross-correlation of the input with each filter, plus the filter's bias,
// through the activation: act(conv(x) + b).  As in the seed it is valid
// (no padding) with stride 1 unless told otherwise; `padding` surrounds
// the input with zeros ("same" size for a 3x3 filter with padding 1) and
// `stride` moves the filter several pixels at a time, which small colour
// images and deeper stacks want.  Without padding or stride, and followed
// by a MaxPoolLayer, it computes exactly what a ConvPoolLayer computes,
// because max-pooling commutes with every activation SwiftNet offers (each
// is non-decreasing); the layer spec (NetworkSpec) therefore builds
// "conv ..., pool ..." as the seed's ConvPoolLayer, which is faster.  A
// layer with padding or a stride has a checkpoint record of its own (kind
// 7, format version 3), so files of layers without them stay as they were.

/// A convolution followed by bias and activation, without pooling.
public struct ConvLayer: Layer, Equatable {
    /// (filters, input channels, filter height, filter width).
    public let filterShape: (filters: Int, channels: Int, height: Int, width: Int)
    public let inputShape: SampleShape
    /// The nonlinearity applied to the convolution plus bias.
    public let activation: Activation
    /// Zeros added on every side of each input map (0, the seed's valid convolution, by default).
    public let padding: Int
    /// Pixels the filter moves between outputs, across and down (1 by default).
    public let stride: Int

    /// A convolution of `filterShape` (filters, input maps, rows, columns) over one
    /// sample of `inputShape`, plus bias, then `activation`.
    /// - Parameters:
    ///   - filterShape: (number of filters, input channels, filter height, filter width).
    ///   - inputShape: one input sample, channels x height x width.
    ///   - activation: applied to the convolution plus bias.
    ///   - padding: zeros around each input map, on every side; less than the filter's sides.
    ///   - stride: the step between the filter's positions, at least 1.
    public init(filterShape: (Int, Int, Int, Int), inputShape: SampleShape, activation: Activation = .sigmoid,
                padding: Int = 0, stride: Int = 1) {
        self.filterShape = filterShape
        self.inputShape = inputShape
        self.activation = activation
        self.padding = padding
        self.stride = stride
    }

    /// (H + 2 padding - filter height) / stride + 1 rows, and the same for columns (0 when the filter does not fit).
    public var outputShape: SampleShape {
        SampleShape(channels: filterShape.filters,
                    height: Self.positions(inputShape.height, filterShape.height, padding: padding, stride: stride),
                    width: Self.positions(inputShape.width, filterShape.width, padding: padding, stride: stride))
    }

    /// How many places a window of `kernel` pixels takes over `size` pixels and their padding, `stride` apart.
    static func positions(_ size: Int, _ kernel: Int, padding: Int, stride: Int) -> Int {
        let padded = size + 2 * padding
        return padded < kernel ? 0 : (padded - kernel) / max(stride, 1) + 1
    }

    public var weightCount: Int {
        filterShape.filters * filterShape.channels * filterShape.height * filterShape.width
    }

    public var biasCount: Int { filterShape.filters }

    public var summary: String {
        "ConvLayer(\(filterShape.filters) filters \(filterShape.height)x\(filterShape.width)\(paddingAndStrideWords) "
            + "on \(inputShape), \(activation.rawValue))"
    }

    /// " pad P stride S", each only when it is not the default: how summaries and specs name them.
    var paddingAndStrideWords: String {
        (padding != 0 ? " pad \(padding)" : "") + (stride != 1 ? " stride \(stride)" : "")
    }

    public static func == (a: ConvLayer, b: ConvLayer) -> Bool {
        a.filterShape == b.filterShape && a.inputShape == b.inputShape && a.activation == b.activation
            && a.padding == b.padding && a.stride == b.stride
    }

    /// The checks a convolution's shapes need, for ConvLayer and ConvPoolLayer alike.
    static func checkFilters(_ filterShape: (filters: Int, channels: Int, height: Int, width: Int), on input: SampleShape,
                             padding: Int = 0, stride: Int = 1, layer summary: String) throws {
        let sizes = [filterShape.filters, filterShape.channels, filterShape.height, filterShape.width,
                     input.channels, input.height, input.width]
        guard sizes.allSatisfy({ $0 > 0 }) else { throw NetworkConfigurationError.badLayer(summary: summary, reason: "every size must be positive") }
        guard filterShape.channels == input.channels else {
            throw NetworkConfigurationError.badLayer(
                summary: summary, reason: "filters have \(filterShape.channels) channels but images have \(input.channels)")
        }
        guard stride >= 1 else { throw NetworkConfigurationError.badLayer(summary: summary, reason: "the stride is \(stride); it must be at least 1") }
        guard padding >= 0, padding < filterShape.height, padding < filterShape.width else {
            throw NetworkConfigurationError.badLayer(summary: summary, reason:
                "padding \(padding) must be at least 0 and less than the \(filterShape.height)x\(filterShape.width) filter's sides")
        }
        let (height, width) = (input.height + 2 * padding, input.width + 2 * padding)
        guard filterShape.height <= height, filterShape.width <= width else {
            throw NetworkConfigurationError.badLayer(
                summary: summary, reason: "a \(filterShape.height)x\(filterShape.width) filter does not fit in a \(height)x\(width) "
                    + (padding > 0 ? "padded image" : "image"))
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
    static var extendedRecord: (code: UInt8, sinceFormatVersion: UInt32)? { (7, 3) }
    static var kindName: String { "ConvLayer" }
    static var specWord: String? { "conv" }
    static var specUsage: String { "a conv part is 'conv N KxK [pad P] [stride S] [\(SpecWords.activations)]'" }

    static func parse(_ words: inout SpecWords, input: SampleShape, context: SpecContext) throws -> ConvLayer {
        let filters = try words.count("a number of filters")
        let (height, width) = try words.size("a filter size")
        var padding = 0, stride = 1
        var activation: Activation?
        // The optional words come in any order, each at most once.
        var seen: Set<String> = []
        while let word = words.next {
            if word == "pad" || word == "stride" {
                guard seen.insert(word).inserted else { throw words.fail("'\(word)' is given twice") }
                if word == "pad" {
                    padding = try words.option("pad", "a padding", minimum: 0)
                } else {
                    stride = try words.option("stride", "a stride", minimum: 1)
                }
            } else if activation == nil, let value = words.activation() {
                activation = value
            } else {
                break
            }
        }
        try words.finish()
        guard padding < height, padding < width else {
            throw words.fail("pad \(padding) must be less than the \(height)x\(width) filter's sides")
        }
        let (paddedHeight, paddedWidth) = (input.height + 2 * padding, input.width + 2 * padding)
        guard height <= paddedHeight, width <= paddedWidth else {
            throw words.fail("a \(height)x\(width) filter does not fit the \(paddedHeight)x\(paddedWidth) "
                + (padding > 0 ? "padded " : "") + context.inputName)
        }
        return ConvLayer(filterShape: (filters, input.channels, height, width), inputShape: input,
                         activation: activation ?? context.defaultActivation, padding: padding, stride: stride)
    }

    var specText: String {
        "conv \(filterShape.filters) \(filterShape.height)x\(filterShape.width)\(paddingAndStrideWords) \(activation.rawValue)"
    }

    func validate() throws { try Self.checkFilters(filterShape, on: inputShape, padding: padding, stride: stride, layer: summary) }

    var workspaceValuesPerSample: Int {
        Checkpoint.product([filterShape.channels, filterShape.height, filterShape.width, outputShape.height, outputShape.width])
    }

    var usesExtendedRecord: Bool { padding != 0 || stride != 1 }

    /// Kind 4, or kind 7 (the same fields, then padding and stride) when either is not the default.
    func encodeRecord(_ out: inout CheckpointByteWriter) {
        out.sizes([filterShape.filters, filterShape.channels, filterShape.height, filterShape.width,
                   inputShape.channels, inputShape.height, inputShape.width])
        out.activation(activation)
        if usesExtendedRecord { out.sizes([padding, stride]) }
    }

    static func decodeRecord(_ reader: inout LayerRecordReader) throws -> ConvLayer {
        let sizes = try reader.extents(["filters", "filter channels", "filter height", "filter width",
                                        "input channels", "input height", "input width"])
        let activation = try reader.activation()
        // A kind 4 record, written before padding and stride existed, is a valid stride-1 convolution.
        var (padding, stride) = (0, 1)
        if reader.extended { (padding, stride) = (try reader.extent("padding", minimum: 0), try reader.extent("stride")) }
        return ConvLayer(filterShape: (sizes[0], sizes[1], sizes[2], sizes[3]),
                         inputShape: SampleShape(channels: sizes[4], height: sizes[5], width: sizes[6]),
                         activation: activation, padding: padding, stride: stride)
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
        ConvPoolRunner(geometry: .init(input: inputShape, filterShape: filterShape, padding: padding, stride: stride,
                                       pool: nil, activation: activation),
                       capacity: capacity, parameters: parameters)
    }

    func tallyBuffers(_ tally: inout MemoryTally, label: String, capacity: Int, parts: Int, replicas: Int) {
        ConvPoolRunner.tally(&tally, label: label, geometry: .init(input: inputShape, filterShape: filterShape, pool: nil,
                                                                   activation: activation), capacity: capacity, copies: replicas)
    }
}

extension ConvLayer {
    /// Conv with its bias, padding and stride, then the activation.
    func appendONNX(to graph: inout ONNXGraphBuilder, values: ONNXLayerValues) throws {
        graph.convolution(filterShape, values: values, withBiases: true, padding: padding, stride: stride)
        graph.activation(activation)
    }
}
