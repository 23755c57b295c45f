// ConvPoolRunner.swift: runs a ConvPoolLayer through the C kernels.
//
// forward:  conv (no bias) -> max-pool (saving argmax) -> act(pooled + b)
// backward: act' -> bias gradient, scatter through argmax, conv backward.

import CKernels

final class ConvPoolRunner: LayerRunner {
    private let layer: ConvPoolLayer
    private let parameters: ParameterViews
    private let convolved: FloatBuffer
    private let convolvedGradient: FloatBuffer
    private let pooledGradient: FloatBuffer
    /// Which input won each pooling window in the last forward pass.
    let argmax: AlignedBuffer<Int32>
    private let workspace: FloatBuffer
    private let activations: FloatBuffer
    let outputGradient: FloatBuffer

    init(layer: ConvPoolLayer, capacity: Int, parameters: ParameterViews) {
        self.layer = layer
        self.parameters = parameters
        let convolvedCount = capacity * layer.convolvedShape.count
        let outputCount = capacity * layer.outputShape.count
        convolved = FloatBuffer(count: convolvedCount)
        convolvedGradient = FloatBuffer(count: convolvedCount)
        pooledGradient = FloatBuffer(count: outputCount)
        argmax = AlignedBuffer(count: outputCount, zeroedWith: 0)
        activations = FloatBuffer(count: outputCount)
        outputGradient = FloatBuffer(count: outputCount)
        let input = layer.inputShape
        workspace = FloatBuffer(count: ck_conv2d_workspace_floats(
            Int32(input.channels), Int32(input.height), Int32(input.width),
            Int32(layer.filterShape.height), Int32(layer.filterShape.width)))
    }

    var output: UnsafeMutablePointer<Float> { activations.pointer }

    private var shapeArguments: (Int32, Int32, Int32, Int32, Int32, Int32) {
        let input = layer.inputShape
        return (Int32(input.channels), Int32(input.height), Int32(input.width),
                Int32(layer.filterShape.filters), Int32(layer.filterShape.height), Int32(layer.filterShape.width))
    }

    func forward(_ input: UnsafePointer<Float>, batch: Int, context: PassContext) {
        let (c, h, w, filters, kh, kw) = shapeArguments
        let convolvedShape = layer.convolvedShape
        let pooled = layer.outputShape
        ck_conv2d_forward(convolved.pointer, workspace.pointer, input, parameters.weights, nil,
                          Int32(batch), c, h, w, filters, kh, kw)
        ck_maxpool2d_forward(activations.pointer, argmax.pointer, convolved.pointer, Int32(batch), filters,
                             Int32(convolvedShape.height), Int32(convolvedShape.width),
                             Int32(layer.poolSize.height), Int32(layer.poolSize.width))
        ck_bias_activation_forward(activations.pointer, activations.pointer, parameters.biases, Int32(batch),
                                   filters, Int32(pooled.height * pooled.width), layer.activation.kernelCode)
    }

    func backward(_ input: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?, batch: Int) {
        let (c, h, w, filters, kh, kw) = shapeArguments
        let convolvedShape = layer.convolvedShape
        let pooled = layer.outputShape
        pooledGradient.zero(first: batch * pooled.count)
        ck_bias_activation_backward(pooledGradient.pointer, parameters.biasGradients, outputGradient.pointer,
                                    activations.pointer, Int32(batch), filters,
                                    Int32(pooled.height * pooled.width), layer.activation.kernelCode)
        convolvedGradient.zero(first: batch * convolvedShape.count)
        ck_maxpool2d_backward(convolvedGradient.pointer, pooledGradient.pointer, argmax.pointer, Int32(batch),
                              filters, Int32(convolvedShape.height), Int32(convolvedShape.width),
                              Int32(layer.poolSize.height), Int32(layer.poolSize.width))
        inputGradient?.update(repeating: 0, count: batch * layer.inputShape.count)
        ck_conv2d_backward(inputGradient, parameters.weightGradients, nil, workspace.pointer,
                           convolvedGradient.pointer, input, parameters.weights,
                           Int32(batch), c, h, w, filters, kh, kw)
    }
}

extension ConvPoolLayer: RunnableLayer {
    var usesDropout: Bool { false }

    func makeRunner(capacity: Int, parameters: ParameterViews, index: Int) -> LayerRunner {
        ConvPoolRunner(layer: self, capacity: capacity, parameters: parameters)
    }
}
