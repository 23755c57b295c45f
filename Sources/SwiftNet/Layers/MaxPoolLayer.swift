// MaxPoolLayer.swift: max-pooling as a layer of its own.
//
// The pooling half of network3.py's ConvPoolLayer: each output is the
// largest value of a poolSize window, and rows or columns that do not fill
// a window are dropped (Theano's ignore_border=True).  As in the seed the
// windows tile the input without overlapping, unless a `stride` other than
// the pool size is given: then a window starts every stride rows and
// columns, and windows overlap when the stride is smaller (AlexNet's 3x3
// pool with stride 2); the backward pass adds the gradients of every
// window an input wins.  A layer with such a stride has a checkpoint record
// of its own (kind 8, format version 3), so files of layers without one
// stay as they were.  It has no parameters.

/// Max-pooling over windows, non-overlapping unless a stride says otherwise.
public struct MaxPoolLayer: Layer, Equatable {
    public let inputShape: SampleShape
    /// (pool height, pool width).
    public let poolSize: (height: Int, width: Int)
    /// (rows, columns) between the starts of neighbouring windows; the pool size unless told.
    public let stride: (height: Int, width: Int)

    /// Max-pooling of each map of `inputShape` over `poolSize` (rows, columns) windows, one every
    /// `stride` (rows, columns); rows and columns no window reaches are dropped, as in network3.py.
    /// - Parameters:
    ///   - inputShape: one input sample, channels x height x width.
    ///   - poolSize: the window, (height, width).
    ///   - stride: the step between windows, (down, across); nil (the default) is the pool size,
    ///     the seed's non-overlapping windows.
    public init(inputShape: SampleShape, poolSize: (Int, Int) = (2, 2), stride: (Int, Int)? = nil) {
        self.inputShape = inputShape
        self.poolSize = poolSize
        self.stride = stride ?? poolSize
    }

    /// (H - pool height) / stride height + 1 rows, and the same for columns (0 when the pool does not fit).
    public var outputShape: SampleShape {
        SampleShape(channels: inputShape.channels,
                    height: ConvLayer.positions(inputShape.height, poolSize.height, padding: 0, stride: stride.height),
                    width: ConvLayer.positions(inputShape.width, poolSize.width, padding: 0, stride: stride.width))
    }

    public var weightCount: Int { 0 }
    public var biasCount: Int { 0 }

    public var summary: String {
        "MaxPoolLayer(\(poolSize.height)x\(poolSize.width)\(strideWords) on \(inputShape))"
    }

    /// Whether the stride is the pool size (the seed's tiling, and the kind 5 record).
    var stridesByPoolSize: Bool { stride == poolSize }

    /// " stride S" (or SxT) when the stride is not the pool size.
    private var strideWords: String {
        stridesByPoolSize ? "" : " stride \(NetworkSpec.size(stride.height, stride.width))"
    }

    public static func == (a: MaxPoolLayer, b: MaxPoolLayer) -> Bool {
        a.inputShape == b.inputShape && a.poolSize == b.poolSize && a.stride == b.stride
    }

    /// The seal of a SwiftNet layer kind.
    public var seal: LayerSeal { LayerSeal() }

    func initialize(weights: UnsafeMutableBufferPointer<Float>,
                           biases: UnsafeMutableBufferPointer<Float>,
                           random: inout RandomSource) {}
}

extension MaxPoolLayer: LayerKind {
    static var recordCode: UInt8 { 5 }
    static var sinceFormatVersion: UInt32 { 2 }
    static var extendedRecord: (code: UInt8, sinceFormatVersion: UInt32)? { (8, 3) }
    static var kindName: String { "MaxPoolLayer" }
    static var specWord: String? { "pool" }
    static var specUsage: String { "a pool part is 'pool P' or 'pool PxQ', then optionally 'stride S' or 'stride SxT'" }

    static func parse(_ words: inout SpecWords, input: SampleShape, context: SpecContext) throws -> MaxPoolLayer {
        let (height, width) = try words.size("a pool size")
        var stride = (height, width)
        if words.take("stride") { stride = try words.size("a stride", after: "stride") }
        try words.finish()
        guard height <= input.height, width <= input.width else {
            throw words.fail("a \(height)x\(width) pool does not fit the \(input.height)x\(input.width) \(context.inputName)")
        }
        return MaxPoolLayer(inputShape: input, poolSize: (height, width), stride: stride)
    }

    var specText: String { "pool \(NetworkSpec.size(poolSize.height, poolSize.width))\(strideWords)" }

    func validate() throws {
        let sizes = [inputShape.channels, inputShape.height, inputShape.width, poolSize.height, poolSize.width]
        guard sizes.allSatisfy({ $0 > 0 }) else {
            throw NetworkConfigurationError.badLayer(summary: summary, reason: "every size must be positive")
        }
        guard stride.height >= 1, stride.width >= 1 else {
            throw NetworkConfigurationError.badLayer(summary: summary, reason:
                "the stride is \(stride.height)x\(stride.width); both sides must be at least 1")
        }
        guard outputShape.height >= 1, outputShape.width >= 1 else {
            throw NetworkConfigurationError.badLayer(summary: summary, reason: "a \(poolSize.height)x\(poolSize.width) pool "
                + "does not fit in a \(inputShape.height)x\(inputShape.width) input")
        }
    }

    var usesExtendedRecord: Bool { !stridesByPoolSize }

    /// Kind 5, or kind 8 (the same fields, then the stride) when the stride is not the pool size.
    func encodeRecord(_ out: inout CheckpointByteWriter) {
        out.sizes([inputShape.channels, inputShape.height, inputShape.width, poolSize.height, poolSize.width])
        if usesExtendedRecord { out.sizes([stride.height, stride.width]) }
    }

    static func decodeRecord(_ reader: inout LayerRecordReader) throws -> MaxPoolLayer {
        let sizes = try reader.extents(["input channels", "input height", "input width", "pool height", "pool width"])
        // A kind 5 record, written before strides existed, tiles by the pool size.
        var stride = [sizes[3], sizes[4]]
        if reader.extended { stride = try reader.extents(["stride height", "stride width"]) }
        return MaxPoolLayer(inputShape: SampleShape(channels: sizes[0], height: sizes[1], width: sizes[2]),
                            poolSize: (sizes[3], sizes[4]), stride: (stride[0], stride[1]))
    }

    var placement: LayerPlacement { .spatial }
    static var needsImageInput: Bool { true }
}

extension MaxPoolLayer: RunnableLayer {

    func makeRunner(capacity: Int, parameters: ParameterViews, resources: LayerResources) -> LayerRunner? {
        MaxPoolRunner(layer: self, capacity: capacity)
    }

    func tallyBuffers(_ tally: inout MemoryTally, label: String, capacity: Int, parts: Int, replicas: Int) {
        MaxPoolRunner.tally(&tally, label: label, layer: self, capacity: capacity, copies: replicas)
    }
}

extension MaxPoolLayer {
    /// MaxPool; ONNX's default floor rounding drops ragged borders as SwiftNet does.
    func appendONNX(to graph: inout ONNXGraphBuilder, values: ONNXLayerValues) throws {
        graph.apply("MaxPool", attributes: [.ints("kernel_shape", [poolSize.height, poolSize.width]),
                                            .ints("strides", [stride.height, stride.width])])
    }
}
