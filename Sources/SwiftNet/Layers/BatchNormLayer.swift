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
// [ACTIVATION]"), its checkpoint record and tensors, and its runners.
//
// Training normalizes with the statistics of the WHOLE mini-batch.  In the
// spatial prefix each part holds some of its samples, so its runner is a
// CombiningRunner: the scheduler runs each pass in two halves a phase apart,
// as ckernels.h's batch-norm section lays out:
//
//   forward:  own per-channel sums | next phase: every part adds all
//             parts' sums in part order (so each gets the same mean and
//             variance) -> normalize own samples, scale, + beta,
//             activation; part 0 updates the running statistics.
//   backward: activation' -> own sums of dy and dy * xhat | next phase:
//             totals in part order -> own input gradient; part 0 writes
//             d gamma and d beta (the other parts' shares are in the totals).
//
// Evaluation uses the running statistics and runs whole.  After a
// dense layer the layer runs in the dense suffix as a BatchNormStage, on
// the whole mini-batch in one part: the same kernels with one set of sums.
//
// In a data-parallel group (TrainingGroup) the mini-batch is the global
// one: between the halves, one part adds every part's sums in part order
// and the group sums them over its members (shareSums), so each member
// normalizes its share with the global mini-batch's statistics and its
// backward uses the global totals.  d gamma and d beta come whole from
// those totals on every member, so the leader alone adds them to its
// gradient, which the group then sums.

import CKernels

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

    /// Batch norm over each channel of `inputShape`, then `activation`.  `momentum` weighs each
    /// mini-batch in the running statistics used at evaluation; `epsilon` is added to the variance.
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

    /// The seal of a SwiftNet layer kind.
    public var seal: LayerSeal { LayerSeal() }

    /// gamma = 1 and beta = 0, so the layer starts as a plain normalization.
    func initialize(weights: UnsafeMutableBufferPointer<Float>, biases: UnsafeMutableBufferPointer<Float>,
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

    /// What BatchNormCore, the runner or stage, and the shared reduction allocate; keep in step with their inits.
    func tallyBuffers(_ tally: inout MemoryTally, label: String, capacity: Int, parts: Int, replicas: Int) {
        let values = [capacity, inputShape.channels, inputShape.height, inputShape.width]
        // The core's normalized values, pre-activation gradient and output; the runner's output gradient or the stage's input gradient.
        tally.add("\(label)'s normalized values, output and gradients", values, copies: 4 * replicas)
        tally.add("\(label)'s mean, variance and inverse deviation", [3, channels], copies: replicas)
        tally.add("\(label)'s totals", [2, channels], elementBytes: 8, copies: replicas)
        if placement == .spatial {
            tally.add("\(label)'s per-thread sums", [2, parts, channels], elementBytes: 8, copies: 2)
        } else {
            tally.add("\(label)'s sums", [2, channels], elementBytes: 8)
            tally.add("\(label)'s gradients", [2, channels])
        }
    }
}

/// Per-part sums that every part's runner of one batch-norm layer reads.
final class BatchNormReduction {
    /// Per part: sum of x (C), then sum of x^2 (C).
    let statistics: AlignedBuffer<Double>
    /// Per part: sum of dy * xhat (C), then sum of dy (C).
    let gradients: AlignedBuffer<Double>

    private let combined: AlignedBuffer<Double>
    private let channels: Int

    init(channels: Int, parts: Int) {
        self.channels = channels
        statistics = AlignedBuffer(count: parts * 2 * channels, zeroedWith: 0)
        gradients = AlignedBuffer(count: parts * 2 * channels, zeroedWith: 0)
        combined = AlignedBuffer(count: 2 * channels, zeroedWith: 0)
    }

    /// The slots of the `filled` parts that had samples added in part order into the first,
    /// summed over the group, and the other slots of all `parts` zeroed: every part's combine
    /// then finds the group's totals.
    func share(_ slots: AlignedBuffer<Double>, filled: Int, parts: Int, group: GroupPass) {
        let width = 2 * channels
        ck_batchnorm_combine(combined.pointer, slots.pointer, Int32(max(filled, 1)), Int32(width))
        slots.pointer.update(from: combined.pointer, count: width)
        (slots.pointer + width).update(repeating: 0, count: (max(parts, 1) - 1) * width)
        group.sum(slots.pointer, count: width)
    }
}

/// The normalization itself, shared by the prefix runner and the dense stage.
final class BatchNormCore {
    let layer: BatchNormLayer
    let channels: Int, spatial: Int
    let gamma: UnsafeMutablePointer<Float>
    let beta: UnsafeMutablePointer<Float>
    let runningMean: UnsafeMutablePointer<Float>
    let runningVariance: UnsafeMutablePointer<Float>
    private let mean: FloatBuffer, variance: FloatBuffer, inverseDeviation: FloatBuffer
    private let totals: AlignedBuffer<Double>
    /// The normalized input of the last training pass, (capacity, C, S).
    let normalized: FloatBuffer
    /// d cost / d (gamma * xhat + beta), (capacity, C, S).
    let preActivationGradient: FloatBuffer
    /// Activations, (capacity, C, S).
    let output: FloatBuffer
    /// Values per channel over the whole pass of the last training forward.
    private var valuesPerChannel: Int64 = 1

    init(layer: BatchNormLayer, capacity: Int, gamma: UnsafeMutablePointer<Float>, state: UnsafeMutablePointer<Float>) {
        self.layer = layer
        (channels, spatial) = (layer.channels, layer.spatialSize)
        self.gamma = gamma
        beta = gamma + layer.channels
        runningMean = state
        runningVariance = state + layer.channels
        mean = FloatBuffer(count: channels)
        variance = FloatBuffer(count: channels)
        inverseDeviation = FloatBuffer(count: channels)
        totals = AlignedBuffer(count: 2 * channels, zeroedWith: 0)
        let values = capacity * channels * spatial
        normalized = FloatBuffer(count: values)
        preActivationGradient = FloatBuffer(count: values)
        output = FloatBuffer(count: values)
    }

    /// Adds part `part`'s sums of `input` into its slot of `slots`.
    func addStatistics(of input: UnsafePointer<Float>, batch: Int, into slots: UnsafeMutablePointer<Double>, part: Int) {
        let slot = slots + part * 2 * channels
        slot.update(repeating: 0, count: 2 * channels)
        ck_batchnorm_stats_partial(slot, slot + channels, input, Int32(batch), Int32(channels), Int32(spatial))
    }

    /// Totals of `parts` slots of 2C sums, added in part order.
    private func combine(_ slots: UnsafePointer<Double>, parts: Int) {
        ck_batchnorm_combine(totals.pointer, slots, Int32(max(parts, 1)), Int32(2 * channels))
    }

    /// Training: the batch's statistics from every part's sums; `updatesRunning` on one part only.
    func useBatchStatistics(_ slots: UnsafePointer<Double>, parts: Int, totalBatch: Int, updatesRunning: Bool) {
        combine(slots, parts: parts)
        valuesPerChannel = Int64(totalBatch * spatial)
        ck_batchnorm_stats_finish(mean.pointer, variance.pointer, inverseDeviation.pointer, totals.pointer,
                                  totals.pointer + channels, valuesPerChannel, layer.epsilon, Int32(channels))
        if updatesRunning {
            ck_batchnorm_running_update(runningMean, runningVariance, mean.pointer, variance.pointer, layer.momentum,
                                        valuesPerChannel, Int32(channels))
        }
    }

    /// Evaluation: the running statistics.
    func useRunningStatistics() {
        mean.pointer.update(from: runningMean, count: channels)
        ck_batchnorm_invstd(inverseDeviation.pointer, runningVariance, layer.epsilon, Int32(channels))
    }

    /// act(gamma * (x - mean) * invstd + beta) for `batch` samples, saving xhat when training.
    func normalize(_ input: UnsafePointer<Float>, batch: Int, training: Bool) {
        ck_batchnorm_forward(output.pointer, training ? normalized.pointer : nil, input, mean.pointer,
                             inverseDeviation.pointer, gamma, Int32(batch), Int32(channels), Int32(spatial))
        ck_bias_activation_forward(output.pointer, output.pointer, beta, Int32(batch), Int32(channels), Int32(spatial),
                                   layer.activation.kernelCode)
    }

    /// Through the activation, then this part's sums of dy * xhat and dy into its slot.
    func addGradientSums(outputGradient: UnsafePointer<Float>, batch: Int, into slots: UnsafeMutablePointer<Double>,
                         part: Int) {
        let count = batch * channels * spatial
        preActivationGradient.zero(first: count)
        ck_bias_activation_backward(preActivationGradient.pointer, nil, outputGradient, output.pointer, Int32(batch),
                                    Int32(channels), Int32(spatial), layer.activation.kernelCode)
        let slot = slots + part * 2 * channels
        slot.update(repeating: 0, count: 2 * channels)
        ck_batchnorm_backward_partial(slot, slot + channels, preActivationGradient.pointer, normalized.pointer,
                                      Int32(batch), Int32(channels), Int32(spatial))
    }

    /// From every part's sums: this part's input gradient (overwritten, if
    /// wanted) and, when `gradients` is given, d gamma and d beta added to it.
    func finishBackward(_ slots: UnsafePointer<Double>, parts: Int, batch: Int, inputGradient: UnsafeMutablePointer<Float>?,
                        gradients: UnsafeMutablePointer<Float>?) {
        combine(slots, parts: parts)
        if let inputGradient {
            inputGradient.update(repeating: 0, count: batch * channels * spatial)
            ck_batchnorm_backward(inputGradient, preActivationGradient.pointer, normalized.pointer, totals.pointer,
                                  totals.pointer + channels, gamma, inverseDeviation.pointer, valuesPerChannel,
                                  Int32(batch), Int32(channels), Int32(spatial))
        }
        if let gradients {
            ck_batchnorm_add_gradients(gradients, totals.pointer, Int32(2 * channels))
        }
    }
}

/// A batch-norm layer in the spatial prefix (or the single-part reference path).
/// Its training halves meet the other parts' through the shared reduction slots.
final class BatchNormRunner: CombiningRunner {
    private let core: BatchNormCore
    private let reduction: BatchNormReduction
    /// d gamma, then d beta, in this part's gradient block.
    private let gradients: UnsafeMutablePointer<Float>
    let outputGradient: FloatBuffer
    /// The part of the last training forward pass, and the parts sharing it, which its backward shares.
    private var part = 0, parts = 1
    /// False on a group's members but the leader (see the file comment).
    private var addsSharedGradients = true

    init(layer: BatchNormLayer, capacity: Int, parameters: ParameterViews, resources: LayerResources) {
        core = BatchNormCore(layer: layer, capacity: capacity, gamma: parameters.biases, state: resources.state)
        reduction = resources.shared as? BatchNormReduction ?? BatchNormReduction(channels: layer.channels, parts: 1)
        gradients = parameters.biasGradients
        outputGradient = FloatBuffer(count: capacity * layer.outputShape.count)
    }

    var output: UnsafeMutablePointer<Float> { core.output.pointer }

    func forwardSums(_ input: UnsafePointer<Float>, batch: Int, context: PassContext) {
        core.addStatistics(of: input, batch: batch, into: reduction.statistics.pointer, part: context.part)
        (part, parts) = (context.part, context.parts)
        addsSharedGradients = context.group?.addsSharedGradients ?? true
    }

    func shareSums(filled: Int, parts: Int, backward: Bool, group: GroupPass) {
        reduction.share(backward ? reduction.gradients : reduction.statistics, filled: filled, parts: parts, group: group)
    }

    /// Training: the second half, with every part's sums in place; evaluation: the running statistics.
    func forward(_ input: UnsafePointer<Float>, batch: Int, context: PassContext) {
        if context.training {
            core.useBatchStatistics(reduction.statistics.pointer, parts: context.parts, totalBatch: context.totalBatch,
                                    updatesRunning: context.part == 0)
        } else {
            core.useRunningStatistics()
        }
        core.normalize(input, batch: batch, training: context.training)
    }

    func backwardSums(batch: Int) {
        core.addGradientSums(outputGradient: outputGradient.pointer, batch: batch, into: reduction.gradients.pointer, part: part)
    }

    func backward(_ input: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?, batch: Int) {
        core.finishBackward(reduction.gradients.pointer, parts: parts, batch: batch, inputGradient: inputGradient,
                            gradients: part == 0 && addsSharedGradients ? gradients : nil)
    }
}

/// A batch-norm layer in the dense suffix: the whole mini-batch on part 0.
final class BatchNormStage: DenseSuffixStage {
    private let core: BatchNormCore
    private let input: UnsafeMutablePointer<Float>
    private let velocity: UnsafeMutablePointer<Float>
    private let slots: AlignedBuffer<Double>
    /// d gamma, then d beta, of the last backward pass.
    private let gradients: FloatBuffer
    /// Where the reference path writes d gamma and d beta.
    private let referenceGradients: UnsafeMutablePointer<Float>
    let index: Int
    let inputGradient: FloatBuffer
    private var training = false
    /// A group member's passes: sums over the group, and the global mini-batch.
    private var group: GroupPass?

    init(layer: BatchNormLayer, setup: DenseStageSetup) {
        core = BatchNormCore(layer: layer, capacity: setup.capacity, gamma: setup.biases, state: setup.resources.state)
        input = setup.input
        velocity = setup.biasVelocity
        slots = AlignedBuffer(count: 2 * layer.channels, zeroedWith: 0)
        gradients = FloatBuffer(count: 2 * layer.channels)
        referenceGradients = setup.biasGradients
        index = setup.index
        inputGradient = FloatBuffer(count: setup.capacity * layer.inputShape.count)
    }

    var nIn: Int { core.channels * core.spatial }
    var nOut: Int { nIn }
    var isSplit: Bool { false }
    var output: FloatBuffer { core.output }

    func forwardPartial(part: Int, rows: Range<Int>, batch: Int, firstSample: Int, training: Bool, key: UInt64) {
        self.training = training
    }

    func use(_ group: GroupPass?) { self.group = group }

    func finishForward(batch: Int, labels: UnsafePointer<Int32>?) -> Float {
        if training {
            core.addStatistics(of: input, batch: batch, into: slots.pointer, part: 0)
            group?.sum(slots.pointer, count: 2 * core.channels)
            core.useBatchStatistics(slots.pointer, parts: 1, totalBatch: group?.globalBatch ?? batch, updatesRunning: true)
        } else {
            core.useRunningStatistics()
        }
        core.normalize(input, batch: batch, training: training)
        return 0
    }

    /// The input gradient with the step's gamma, then the update of gamma and beta.
    func startBackward(batch: Int, labels: UnsafePointer<Int32>, outputGradient: UnsafePointer<Float>?, rule: UpdateRule?) {
        guard let outputGradient else { preconditionFailure("a batch-norm stage is never the last layer") }
        core.addGradientSums(outputGradient: outputGradient, batch: batch, into: slots.pointer, part: 0)
        group?.sum(slots.pointer, count: 2 * core.channels)
        gradients.zeroAll()
        core.finishBackward(slots.pointer, parts: 1, batch: batch, inputGradient: inputGradient.pointer,
                            gradients: group?.addsSharedGradients ?? true ? gradients.pointer : nil)
        guard let rule else {
            referenceGradients.update(from: gradients.pointer, count: 2 * core.channels)
            return
        }
        rule.update(core.gamma, gradients: gradients.pointer, velocity: velocity, count: 2 * core.channels, decayed: false)
    }

    func backwardAndUpdate(part: Int, rows: Range<Int>, batch: Int, wantInputGradient: Bool, rule: UpdateRule) {}
    func backwardGradients(batch: Int, wantInputGradient: Bool) {}
}

extension BatchNormLayer {
    /// BatchNormalization in inference mode on the running statistics, then the activation.  It
    /// takes [batch, C, H, W] after a conv layer and [batch, C] after a dense one, as ONNX allows.
    func appendONNX(to graph: inout ONNXGraphBuilder, values: ONNXLayerValues) throws {
        let gamma = graph.constant("gamma", dims: [channels], values: values["gamma"])
        let beta = graph.constant("beta", dims: [channels], values: values["beta"])
        let mean = graph.constant("running_mean", dims: [channels], values: values["running mean"])
        let variance = graph.constant("running_variance", dims: [channels], values: values["running variance"])
        graph.apply("BatchNormalization", [gamma, beta, mean, variance], attributes: [.float("epsilon", epsilon)])
        graph.activation(activation)
    }
}
