// DenseStage.swift: one dense layer run model-parallel by the thread team.
//
// A large dense layer (the seed's 2880 x 100) is split by weight ROWS: each
// thread owns a slice of rows, multiplies its slice of the input columns,
// and, in backward, computes its columns of the input gradient and updates
// its rows in one fused pass (ck_linear_backward_update_rows).  A thread's
// slice stays in its core's cache from step to step, and no weight
// gradient is ever written to memory.  The small per-sample work (summing
// the partial products, bias, activation, softmax) is done by one thread.

import CKernels

final class DenseStage: DenseSuffixStage {
    let nIn: Int
    let nOut: Int
    let pDropout: Float
    /// nil for the softmax output layer.
    let activation: Activation?
    let weights: UnsafeMutablePointer<Float>
    let biases: UnsafeMutablePointer<Float>
    /// Momentum's velocities, laid out like `weights` and `biases`.
    private let weightVelocity: UnsafeMutablePointer<Float>
    private let biasVelocity: UnsafeMutablePointer<Float>
    /// The layer's index in the network (its dropout key's slot).
    let index: Int

    /// The layer's input for the whole mini-batch (capacity x nIn); the
    /// previous stage's output, or the gathered convolutional features.
    let input: UnsafeMutablePointer<Float>
    private let droppedBuffer: FloatBuffer
    private let maskBuffer: FloatBuffer
    private let partials: FloatBuffer
    /// Activations, or probabilities for the softmax (capacity x nOut).
    let output: FloatBuffer
    /// d cost / d pre-activation (capacity x nOut).
    let preActivationGradient: FloatBuffer
    /// d cost / d input (capacity x nIn), written slice by slice.
    let inputGradient: FloatBuffer
    private let biasGradient: FloatBuffer
    /// Each part's scratch for the linear kernels on its rows, sized once.
    private let scratch: [FloatBuffer]
    /// The reference path's scratch for the whole layer in one call, and its
    /// gradient of the dropped input; made on that path's first use, so
    /// training and evaluation never hold them.
    private lazy var wholeScratch = FloatBuffer(count: ck_linear_scratch_floats(Int32(capacity), Int32(nIn), Int32(nOut)))
    private lazy var droppedGradient = FloatBuffer(count: pDropout > 0 ? capacity * nIn : 0)
    /// Where the reference path writes this layer's gradients.
    private let gradients: (weights: UnsafeMutablePointer<Float>, biases: UnsafeMutablePointer<Float>)
    private let capacity: Int
    /// A group member's passes (its softmax gradient is then a share of the global mean), or nil.
    private var group: GroupPass?
    /// Threads that each multiply a slice of the rows; 1 for a stage thread 0 runs whole.
    private let parts: Int
    var isSplit: Bool { parts > 1 }

    /// - Parameter activation: the fully connected layer's; nil for the softmax.
    init(_ setup: DenseStageSetup, nIn: Int, nOut: Int, pDropout: Float, activation: Activation?) {
        (self.nIn, self.nOut, self.pDropout, self.activation) = (nIn, nOut, pDropout, activation)
        index = setup.index
        input = setup.input
        weights = setup.weights
        biases = setup.biases
        weightVelocity = setup.weightVelocity
        biasVelocity = setup.biasVelocity
        capacity = setup.capacity
        // Splitting a small layer costs more in barriers than it saves.
        parts = Self.parts(setup.parts, nIn: nIn, nOut: nOut)
        droppedBuffer = FloatBuffer(count: pDropout > 0 ? capacity * nIn : 0)
        maskBuffer = FloatBuffer(count: pDropout > 0 ? capacity * nIn : 0)
        partials = FloatBuffer(count: parts * capacity * nOut)
        output = FloatBuffer(count: capacity * nOut)
        preActivationGradient = FloatBuffer(count: capacity * nOut)
        inputGradient = FloatBuffer(count: capacity * nIn)
        biasGradient = FloatBuffer(count: nOut)
        let mostRows = (nIn + parts - 1) / parts
        let scratchFloats = ck_linear_scratch_floats(Int32(capacity), Int32(mostRows), Int32(nOut))
        scratch = (0..<parts).map { _ in FloatBuffer(count: scratchFloats) }
        gradients = (setup.weightGradients, setup.biasGradients)
    }

    /// Splitting a small layer costs more in barriers than it saves.
    private static func parts(_ available: Int, nIn: Int, nOut: Int) -> Int {
        available > 1 && nIn * nOut >= 16_384 ? available : 1
    }

    /// What `init` allocates (not the reference path's scratch, made on its
    /// first use by the gradient tests); keep the two in step.
    static func tally(_ tally: inout MemoryTally, label: String, nIn: Int, nOut: Int, pDropout: Float, capacity: Int,
                      parts available: Int) {
        let parts = Self.parts(available, nIn: nIn, nOut: nOut)
        tally.add("\(label)'s dropped input, its mask and input gradient", [capacity, nIn], copies: pDropout > 0 ? 3 : 1)
        tally.add("\(label)'s partial products", [parts, capacity, nOut])
        tally.add("\(label)'s output and its gradient", [capacity, nOut], copies: 2)
        tally.add("\(label)'s bias gradient", [nOut])
        let mostRows = nIn / parts + (nIn % parts == 0 ? 0 : 1)
        // The kernels size their scratch in C ints: ask them only about shapes that fit.
        guard [[capacity, nIn], [capacity, nOut], [nIn, nOut]].allSatisfy(MemoryTally.fits) else {
            tally.add("\(label)'s linear scratch", [capacity, nIn, nOut])
            return
        }
        let floats = ck_linear_scratch_floats(Int32(capacity), Int32(mostRows), Int32(nOut))
        tally.add("\(label)'s linear scratch", floats: Int(clamping: floats), copies: parts)
    }

    /// What the forward pass multiplied: the dropped input while training.
    private func multiplied(training: Bool) -> UnsafeMutablePointer<Float> {
        training && pDropout > 0 ? droppedBuffer.pointer : input
    }

    /// This part's rows: dropout on its input columns, then its partial product.
    func forwardPartial(part: Int, rows: Range<Int>, batch: Int, firstSample: Int, training: Bool, key: UInt64) {
        let x = multiplied(training: training)
        let scale: Float = training || pDropout == 0 ? 1 : 1 - pDropout
        let destination = partials.pointer + part * capacity * nOut
        guard !rows.isEmpty else {
            destination.update(repeating: 0, count: batch * nOut)
            return
        }
        if training && pDropout > 0 {
            for sample in 0..<batch {
                let at = sample * nIn + rows.lowerBound
                // The mask of a sample's value is keyed by its place in the global mini-batch.
                let position = (firstSample + sample) * nIn + rows.lowerBound
                ck_dropout_forward_keyed(droppedBuffer.pointer + at, maskBuffer.pointer + at, input + at, key, position,
                                         pDropout, Int32(rows.count))
            }
        }
        ck_linear_forward_rows(destination, scratch[part].pointer, x + rows.lowerBound, Int32(nIn), weights + rows.lowerBound * nOut, scale,
                               Int32(batch), Int32(rows.count), Int32(nOut))
    }

    /// One thread: sums the partial products and applies bias and
    /// activation (or the softmax, returning the mean NLL over `batch`).
    func finishForward(batch: Int, labels: UnsafePointer<Int32>?) -> Float {
        ck_sum_partials(output.pointer, partials.pointer, Int32(parts), capacity * nOut, batch * nOut)
        if let activation {
            ck_bias_activation_forward(output.pointer, output.pointer, biases, Int32(batch), Int32(nOut), 1,
                                       activation.kernelCode)
            return 0
        }
        ck_bias_activation_forward(partials.pointer, output.pointer, biases, Int32(batch), Int32(nOut), 1, CK_ACT_LINEAR)
        return ck_softmax_loglik_forward(output.pointer, partials.pointer, labels, Int32(batch), Int32(nOut))
    }

    /// One thread: the pre-activation gradient for the whole batch (from
    /// the labels for the softmax, else from `outputGradient`), and the
    /// bias update (or, without a rule, the bias gradient).
    func startBackward(batch: Int, labels: UnsafePointer<Int32>, outputGradient: UnsafePointer<Float>?,
                       rule: UpdateRule?) {
        preActivationGradient.zero(first: batch * nOut)
        if let activation {
            ck_bias_activation_backward(preActivationGradient.pointer, nil, outputGradient!, output.pointer,
                                        Int32(batch), Int32(nOut), 1, activation.kernelCode)
        } else {
            ck_softmax_loglik_backward(preActivationGradient.pointer, output.pointer, labels, Int32(batch), Int32(nOut))
            if let group, group.globalBatch != batch {
                // A mean over this member's share, made its part of the global mini-batch's mean.
                let share = Float(batch) / Float(group.globalBatch)
                for index in 0..<(batch * nOut) { preActivationGradient.pointer[index] *= share }
            }
        }
        biasGradient.zeroAll()
        ck_bias_activation_backward(nil, biasGradient.pointer, preActivationGradient.pointer, output.pointer,
                                    Int32(batch), Int32(nOut), 1, CK_ACT_LINEAR)
        guard let rule else {
            gradients.biases.update(from: biasGradient.pointer, count: nOut)
            return
        }
        rule.update(biases, gradients: biasGradient.pointer, velocity: biasVelocity, count: nOut, decayed: false)
    }

    func use(_ group: GroupPass?) { self.group = group }

    /// This part's rows: input-gradient columns (if wanted) and the update.
    func backwardAndUpdate(part: Int, rows: Range<Int>, batch: Int, wantInputGradient: Bool, rule: UpdateRule) {
        guard !rows.isEmpty else { return }
        if wantInputGradient {
            for sample in 0..<batch {
                (inputGradient.pointer + sample * nIn + rows.lowerBound).update(repeating: 0, count: rows.count)
            }
        }
        ck_linear_backward_update_rows(wantInputGradient ? inputGradient.pointer : nil, weights, scratch[part].pointer,
                                       preActivationGradient.pointer, multiplied(training: true),
                                       pDropout > 0 ? maskBuffer.pointer : nil, Int32(batch), Int32(nIn), Int32(nOut),
                                       Int32(rows.lowerBound), Int32(rows.upperBound), rule.eta, rule.weightDecay,
                                       rule.velocity(weightVelocity), rule.momentum, rule.nesterovFlag)
    }

    /// The reference path: d cost / d weights into the gradient block, and
    /// the input gradient (through the dropout mask), without updating.
    func backwardGradients(batch: Int, wantInputGradient: Bool) {
        let target = pDropout > 0 ? droppedGradient.pointer : inputGradient.pointer
        if wantInputGradient { target.update(repeating: 0, count: batch * nIn) }
        gradients.weights.update(repeating: 0, count: nIn * nOut)
        ck_linear_backward(wantInputGradient ? target : nil, gradients.weights, wholeScratch.pointer,
                           preActivationGradient.pointer, multiplied(training: true), weights,
                           Int32(batch), Int32(nIn), Int32(nOut))
        if wantInputGradient, pDropout > 0 {
            inputGradient.zero(first: batch * nIn)
            ck_dropout_backward(inputGradient.pointer, droppedGradient.pointer, maskBuffer.pointer, Int32(batch * nIn))
        }
    }
}
