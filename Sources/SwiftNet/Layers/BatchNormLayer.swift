// BatchNormLayer.swift: batch normalization (Ioffe and Szegedy, 2015).
//
// After a conv layer it normalizes each channel over the mini-batch and
// every position of the image; after a dense layer, each unit over the
// mini-batch: y = act(gamma * (x - mean) / sqrt(var + eps) + beta).
// Training uses the statistics of the whole mini-batch, even when its
// samples are split across threads (the runner combines per-thread sums in
// thread order); evaluation uses running statistics, updated after each
// training forward pass as running = (1 - momentum) * running + momentum *
// batch (the batch variance made unbiased).  gamma and beta are trained
// like biases, so L2 does not decay them; the running statistics are the
// layer's state, saved in checkpoints beside the parameters.
//
// This file is the whole kind: the value, its spec words ("batchnorm
// [ACTIVATION]"), its checkpoint record and tensors, and its runner
// (BatchNormRunner.swift holds the runner's buffers and kernel calls).

/// Batch normalization per channel (after a conv layer) or per unit (after a dense layer).
///
/// ```swift
/// let layers: [any Layer] = [
///     ConvLayer(filterShape: (20, 1, 5, 5), inputShape: .init(channels: 1, height: 28, width: 28), activation: .linear),
///     BatchNormLayer(inputShape: .init(channels: 20, height: 24, width: 24), activation: .relu),
///     MaxPoolLayer(inputShape: .init(channels: 20, height: 24, width: 24)),
///     FullyConnectedLayer(nIn: 2880, nOut: 100, activation: .linear),
///     BatchNormLayer(inputShape: .flat(100), activation: .relu),
///     SoftmaxLayer(nIn: 100, nOut: 10),
/// ]
/// ```
public struct BatchNormLayer: Layer, Equatable {
    public let inputShape: SampleShape
    /// Applied after the normalization, scale and shift.
    public let activation: Activation
    /// The weight of each mini-batch's statistics in the running statistics, in (0, 1].
    public let momentum: Float
    /// Added to the variance before its square root.
    public let epsilon: Float

    /// - Parameters:
    ///   - inputShape: one input sample: channels x height x width after a conv layer, `.flat(n)` after a dense one.
    ///   - activation: applied to gamma * normalized + beta.
    ///   - momentum: the weight of each mini-batch in the running statistics (PyTorch's default 0.1).
    ///   - epsilon: added to the variance (1e-5).
    public init(inputShape: SampleShape, activation: Activation = .linear, momentum: Float = 0.1, epsilon: Float = 1e-5) {
        self.inputShape = inputShape
        self.activation = activation
        self.momentum = momentum
        self.epsilon = epsilon
    }

    public var outputShape: SampleShape { inputShape }
    /// Channels (after a conv layer) or units (after a dense one) normalized separately.
    public var channels: Int { inputShape.channels }
    /// Values of one channel in one sample (1 after a dense layer).
    var spatialSize: Int { inputShape.height * inputShape.width }
    public var weightCount: Int { 0 }
    /// gamma, then beta.
    public var biasCount: Int { 2 * channels }

    public var summary: String {
        "BatchNormLayer(\(inputShape), \(activation.rawValue))"
    }

    /// gamma = 1 and beta = 0, so the layer starts as a plain normalization.
    public func initialize(weights: UnsafeMutableBufferPointer<Float>, biases: UnsafeMutableBufferPointer<Float>,
                           random: inout RandomSource) {
        biases[0..<channels].update(repeating: 1)
        biases[channels...].update(repeating: 0)
    }
}

extension BatchNormLayer: LayerKind {
    static var recordCode: UInt8 { 6 }
    static var sinceFormatVersion: UInt32 { 2 }
    static var kindName: String { "BatchNormLayer" }
    static var specWord: String? { "batchnorm" }
    static var specUsage: String { "a batchnorm part is 'batchnorm [\(SpecWords.activations)]'" }

    static func parse(_ words: inout SpecWords, input: SampleShape, context: SpecContext) throws -> BatchNormLayer {
        let activation = words.activation() ?? context.defaultActivation
        try words.finish()
        return BatchNormLayer(inputShape: input, activation: activation)
    }

    var specText: String { "batchnorm \(activation.rawValue)" }

    func validate() throws {
        guard [inputShape.channels, inputShape.height, inputShape.width].allSatisfy({ $0 > 0 }) else {
            throw NetworkConfigurationError.badLayer(summary: summary, reason: "every size must be positive")
        }
        guard momentum.isFinite, momentum > 0, momentum <= 1 else {
            throw NetworkConfigurationError.badLayer(summary: summary, reason: "momentum \(momentum) must lie in (0, 1]")
        }
        guard epsilon.isFinite, epsilon > 0 else {
            throw NetworkConfigurationError.badLayer(summary: summary, reason: "epsilon \(epsilon) must be positive")
        }
    }

    func encodeRecord(_ out: inout CheckpointByteWriter) {
        out.sizes([inputShape.channels, inputShape.height, inputShape.width])
        out.activation(activation)
        out.f32(momentum)
        out.f32(epsilon)
    }

    static func decodeRecord(_ reader: inout LayerRecordReader) throws -> BatchNormLayer {
        let sizes = try reader.extents(["channels", "height", "width"])
        let activation = try reader.activation()
        let momentum = try reader.fraction("momentum", in: Float.leastNonzeroMagnitude...1)
        let epsilon = try reader.fraction("epsilon", in: Float.leastNonzeroMagnitude...1)
        return BatchNormLayer(inputShape: SampleShape(channels: sizes[0], height: sizes[1], width: sizes[2]),
                              activation: activation, momentum: momentum, epsilon: epsilon)
    }

    var tensors: [LayerTensor] {
        [LayerTensor(name: "gamma", role: .biases, count: channels),
         LayerTensor(name: "beta", role: .biases, count: channels),
         LayerTensor(name: "running mean", role: .state, count: channels),
         LayerTensor(name: "running variance", role: .state, count: channels)]
    }

    /// Running mean 0 and variance 1.
    func initializeState(_ state: UnsafeMutableBufferPointer<Float>) {
        state[0..<channels].update(repeating: 0)
        state[channels...].update(repeating: 1)
    }

    /// Per channel after a conv layer (runs on each thread's samples), per unit after a dense one.
    var placement: LayerPlacement { spatialSize > 1 ? .spatial : .dense }
}

extension BatchNormLayer: RunnableLayer {
    func makeRunner(capacity: Int, parameters: ParameterViews, resources: LayerResources) -> LayerRunner? {
        BatchNormRunner(layer: self, capacity: capacity, parameters: parameters, resources: resources)
    }

    func makeDenseStage(_ setup: DenseStageSetup) -> (any DenseSuffixStage)? {
        BatchNormStage(layer: self, setup: setup)
    }

    func makeShared(parts: Int) -> AnyObject? { BatchNormReduction(channels: channels, parts: parts) }
}
