// MaxPoolRunner.swift: runs a MaxPoolLayer through the C kernels.
//
// forward saves which input won each window (argmax); backward scatters
// the output gradient back to those inputs, as darknet's maxpool layer does,
// adding where overlapping windows share a winner.

import CKernels

final class MaxPoolRunner: LayerRunner {
    private let layer: MaxPoolLayer
    /// Which input won each window in the last forward pass.
    let argmax: AlignedBuffer<Int32>
    private let pooled: FloatBuffer
    let outputGradient: FloatBuffer

    init(layer: MaxPoolLayer, capacity: Int) {
        self.layer = layer
        let outputCount = capacity * layer.outputShape.count
        argmax = AlignedBuffer(count: outputCount, zeroedWith: 0)
        pooled = FloatBuffer(count: outputCount)
        outputGradient = FloatBuffer(count: outputCount)
    }

    /// What `init` allocates, added to `tally` `copies` times; keep the two in step.
    static func tally(_ tally: inout MemoryTally, label: String, layer: MaxPoolLayer, capacity: Int, copies: Int) {
        let output = layer.outputShape
        tally.add("\(label)'s output, its gradient and argmax", [capacity, output.channels, output.height, output.width],
                  copies: copies * 3)
    }

    var output: UnsafeMutablePointer<Float> { pooled.pointer }

    func forward(_ input: UnsafePointer<Float>, batch: Int, context: PassContext) {
        let shape = layer.inputShape
        // Only a training pass has a backward to follow, and so needs argmax.
        ck_maxpool2d_forward_ex(pooled.pointer, context.training ? argmax.pointer : nil, input, Int32(batch),
                                Int32(shape.channels), Int32(shape.height), Int32(shape.width),
                                Int32(layer.poolSize.height), Int32(layer.poolSize.width),
                                Int32(layer.stride.height), Int32(layer.stride.width))
    }

    func backward(_ input: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?, batch: Int) {
        guard let inputGradient else { return }
        let shape = layer.inputShape
        inputGradient.update(repeating: 0, count: batch * shape.count)
        ck_maxpool2d_backward_ex(inputGradient, outputGradient.pointer, argmax.pointer, Int32(batch), Int32(shape.channels),
                                 Int32(shape.height), Int32(shape.width), Int32(layer.poolSize.height), Int32(layer.poolSize.width),
                                 Int32(layer.stride.height), Int32(layer.stride.width))
    }
}
