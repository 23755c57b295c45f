// BatchNormRunner.swift: runs a BatchNormLayer through the C kernels.
//
// Training normalizes with the statistics of the WHOLE mini-batch.  In the
// spatial prefix each part (thread) holds some of its samples, so a pass
// goes in phases around a barrier, as ckernels.h's batch-norm section lays
// out:
//
//   forward:  own per-channel sums -> barrier -> every part adds all parts'
//             sums in part order (so each gets the same mean and variance)
//             -> normalize own samples, scale, + beta, activation;
//             part 0 updates the running statistics.
//   backward: activation' -> own sums of dy and dy * xhat -> barrier ->
//             totals in part order -> own input gradient; part 0 writes
//             d gamma and d beta (the other parts' shares are in the totals).
//
// Evaluation uses the running statistics and needs no barrier.  After a
// dense layer the layer runs in the dense suffix as a BatchNormStage, on
// the whole mini-batch in one part: the same kernels with one set of sums.

import CKernels

/// Per-part sums that every part's runner of one batch-norm layer reads.
final class BatchNormReduction {
    /// Per part: sum of x (C), then sum of x^2 (C).
    let statistics: AlignedBuffer<Double>
    /// Per part: sum of dy * xhat (C), then sum of dy (C).
    let gradients: AlignedBuffer<Double>

    init(channels: Int, parts: Int) {
        statistics = AlignedBuffer(count: parts * 2 * channels, zeroedWith: 0)
        gradients = AlignedBuffer(count: parts * 2 * channels, zeroedWith: 0)
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
        totals.pointer.update(from: slots, count: 2 * channels)
        for part in 1..<max(parts, 1) {
            let slot = slots + part * 2 * channels
            for index in 0..<(2 * channels) { totals.pointer[index] += slot[index] }
        }
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
            for index in 0..<(2 * channels) { gradients[index] += Float(totals.pointer[index]) }
        }
    }
}

/// A batch-norm layer in the spatial prefix (or the single-part reference path).
final class BatchNormRunner: LayerRunner {
    private let core: BatchNormCore
    private let reduction: BatchNormReduction
    /// d gamma, then d beta, in this part's gradient block.
    private let gradients: UnsafeMutablePointer<Float>
    let outputGradient: FloatBuffer
    /// The parts of the last training forward pass, which its backward shares.
    private var context: PassContext?

    init(layer: BatchNormLayer, capacity: Int, parameters: ParameterViews, resources: LayerResources) {
        core = BatchNormCore(layer: layer, capacity: capacity, gamma: parameters.biases, state: resources.state)
        reduction = resources.shared as? BatchNormReduction ?? BatchNormReduction(channels: layer.channels, parts: 1)
        gradients = parameters.biasGradients
        outputGradient = FloatBuffer(count: capacity * layer.outputShape.count)
    }

    var output: UnsafeMutablePointer<Float> { core.output.pointer }

    func forward(_ input: UnsafePointer<Float>, batch: Int, context: PassContext) {
        if context.training {
            core.addStatistics(of: input, batch: batch, into: reduction.statistics.pointer, part: context.part)
            context.barrier()
            core.useBatchStatistics(reduction.statistics.pointer, parts: context.parts, totalBatch: context.totalBatch,
                                    updatesRunning: context.part == 0)
            self.context = context
        } else {
            core.useRunningStatistics()
        }
        core.normalize(input, batch: batch, training: context.training)
    }

    func backward(_ input: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?, batch: Int) {
        let part = context?.part ?? 0
        core.addGradientSums(outputGradient: outputGradient.pointer, batch: batch, into: reduction.gradients.pointer, part: part)
        context?.barrier()
        core.finishBackward(reduction.gradients.pointer, parts: context?.parts ?? 1, batch: batch, inputGradient: inputGradient,
                            gradients: part == 0 ? gradients : nil)
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

    func forwardPartial(part: Int, rows: Range<Int>, batch: Int, training: Bool, key: UInt64) {
        self.training = training
    }

    func finishForward(batch: Int, labels: UnsafePointer<Int32>?) -> Float {
        if training {
            core.addStatistics(of: input, batch: batch, into: slots.pointer, part: 0)
            core.useBatchStatistics(slots.pointer, parts: 1, totalBatch: batch, updatesRunning: true)
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
        gradients.zeroAll()
        core.finishBackward(slots.pointer, parts: 1, batch: batch, inputGradient: inputGradient.pointer,
                            gradients: gradients.pointer)
        guard let rule else {
            referenceGradients.update(from: gradients.pointer, count: 2 * core.channels)
            return
        }
        rule.update(core.gamma, gradients: gradients.pointer, velocity: velocity, count: 2 * core.channels, decayed: false)
    }

    func backwardAndUpdate(part: Int, rows: Range<Int>, batch: Int, wantInputGradient: Bool, rule: UpdateRule) {}
    func backwardGradients(batch: Int, wantInputGradient: Bool) {}
}
