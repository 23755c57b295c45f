// MaxPoolLayer.swift: non-overlapping max-pooling as a layer of its own.
//
// The pooling half of network3.py's ConvPoolLayer: each output is the
// largest value of a poolSize window, windows do not overlap, and rows or
// columns that do not fill a window are dropped (Theano's
// ignore_border=True).  It has no parameters.

/// Max-pooling over non-overlapping windows.
public struct MaxPoolLayer: Layer, Equatable {
    public let inputShape: SampleShape
    /// (pool height, pool width).
    public let poolSize: (height: Int, width: Int)

    /// Max-pooling of each map of `inputShape` over non-overlapping `poolSize` (rows, columns) windows;
    /// rows and columns the window does not divide are dropped, as in network3.py.
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

    public static func == (a: MaxPoolLayer, b: MaxPoolLayer) -> Bool {
        a.inputShape == b.inputShape && a.poolSize == b.poolSize
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
    static var kindName: String { "MaxPoolLayer" }
    static var specWord: String? { "pool" }
    static var specUsage: String { "a pool part is 'pool P' or 'pool PxQ'" }

    static func parse(_ words: inout SpecWords, input: SampleShape, context: SpecContext) throws -> MaxPoolLayer {
        let (height, width) = try words.size("a pool size")
        try words.finish()
        guard height <= input.height, width <= input.width else {
            throw words.fail("a \(height)x\(width) pool does not fit the \(input.height)x\(input.width) \(context.inputName)")
        }
        return MaxPoolLayer(inputShape: input, poolSize: (height, width))
    }

    var specText: String { "pool \(NetworkSpec.size(poolSize.height, poolSize.width))" }

    func validate() throws {
        let sizes = [inputShape.channels, inputShape.height, inputShape.width, poolSize.height, poolSize.width]
        guard sizes.allSatisfy({ $0 > 0 }) else {
            throw NetworkConfigurationError.badLayer(summary: summary, reason: "every size must be positive")
        }
        guard outputShape.height >= 1, outputShape.width >= 1 else {
            throw NetworkConfigurationError.badLayer(summary: summary, reason: "a \(poolSize.height)x\(poolSize.width) pool "
                + "does not fit in a \(inputShape.height)x\(inputShape.width) input")
        }
    }

    func encodeRecord(_ out: inout CheckpointByteWriter) {
        out.sizes([inputShape.channels, inputShape.height, inputShape.width, poolSize.height, poolSize.width])
    }

    static func decodeRecord(_ reader: inout LayerRecordReader) throws -> MaxPoolLayer {
        let sizes = try reader.extents(["input channels", "input height", "input width", "pool height", "pool width"])
        return MaxPoolLayer(inputShape: SampleShape(channels: sizes[0], height: sizes[1], width: sizes[2]),
                            poolSize: (sizes[3], sizes[4]))
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
