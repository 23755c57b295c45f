// InputDropout.swift: the seed's dropout on a dense layer's input.
//
// FullyConnectedLayer and SoftmaxLayer both drop their input while training
// and scale the product by (1 - p) at evaluation.  This helper owns the mask
// and the dropped copy of the input, so both runners share one
// implementation.

import CKernels

final class InputDropout {
    let probability: Float
    let width: Int
    private let mask: FloatBuffer
    private let dropped: FloatBuffer
    private let droppedGradient: FloatBuffer

    init(probability: Float, width: Int, capacity: Int) {
        self.probability = probability
        self.width = width
        let size = probability > 0 ? capacity * width : 0
        mask = FloatBuffer(count: size)
        dropped = FloatBuffer(count: size)
        droppedGradient = FloatBuffer(count: size)
    }

    var isActive: Bool { probability > 0 }

    /// The input the layer should multiply, and the scale to apply to the product.
    func apply(_ input: UnsafePointer<Float>, batch: Int, key: UInt64, firstSample: Int,
               training: Bool) -> (UnsafePointer<Float>, Float) {
        guard isActive else { return (input, 1) }
        guard training else { return (input, 1 - probability) }
        ck_dropout_forward_keyed(dropped.pointer, mask.pointer, input, key, firstSample * width,
                                 probability, Int32(batch * width))
        return (UnsafePointer(dropped.pointer), 1)
    }

    /// The input the last training forward pass multiplied.
    func trainingInput(_ input: UnsafePointer<Float>) -> UnsafePointer<Float> {
        isActive ? UnsafePointer(dropped.pointer) : input
    }

    /// Where the layer should put d cost / d (dropped input), zeroed; nil if
    /// no input gradient is wanted.
    func gradientTarget(for inputGradient: UnsafeMutablePointer<Float>?, batch: Int) -> UnsafeMutablePointer<Float>? {
        guard let inputGradient else { return nil }
        let target = isActive ? droppedGradient.pointer : inputGradient
        target.update(repeating: 0, count: batch * width)
        return target
    }

    /// Routes the dropped input's gradient back through the mask.
    func finishGradient(_ inputGradient: UnsafeMutablePointer<Float>?, batch: Int) {
        guard isActive, let inputGradient else { return }
        inputGradient.update(repeating: 0, count: batch * width)
        ck_dropout_backward(inputGradient, droppedGradient.pointer, mask.pointer, Int32(batch * width))
    }
}
