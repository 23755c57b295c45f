// DenseRunner.swift: runs FullyConnectedLayer and SoftmaxLayer.
//
// Both are "drop the input, multiply by W, add b, apply a function"; they
// differ only in the function.  A fully connected layer applies its
// activation; the softmax layer applies the softmax fused with the
// negative log-likelihood, so it also needs the labels and yields the cost.

import CKernels

final class DenseRunner: LayerRunner {
    enum Head {
        case activation(Activation)
        case softmax
    }

    private let nIn: Int
    private let nOut: Int
    private let index: Int
    private let head: Head
    private let parameters: ParameterViews
    private let dropout: InputDropout
    private let preActivation: FloatBuffer
    private let preActivationGradient: FloatBuffer
    private let activations: FloatBuffer
    /// The linear kernels' scratch (packing), sized once for `capacity`.
    private let scratch: FloatBuffer
    let outputGradient: FloatBuffer

    /// For a softmax head: the labels of the mini-batch, set before forward.
    var labels: UnsafePointer<Int32>?
    /// For a softmax head: the mean negative log-likelihood of the last forward pass.
    private(set) var cost: Float = 0

    init(nIn: Int, nOut: Int, pDropout: Float, head: Head, capacity: Int, parameters: ParameterViews, index: Int) {
        self.index = index
        self.nIn = nIn
        self.nOut = nOut
        self.head = head
        self.parameters = parameters
        dropout = InputDropout(probability: pDropout, width: nIn, capacity: capacity)
        preActivation = FloatBuffer(count: capacity * nOut)
        preActivationGradient = FloatBuffer(count: capacity * nOut)
        activations = FloatBuffer(count: capacity * nOut)
        outputGradient = FloatBuffer(count: capacity * nOut)
        scratch = FloatBuffer(count: ck_linear_scratch_floats(Int32(capacity), Int32(nIn), Int32(nOut)))
    }

    var output: UnsafeMutablePointer<Float> { activations.pointer }

    func forward(_ input: UnsafePointer<Float>, batch: Int, context: PassContext) {
        let (multiplied, scale) = dropout.apply(input, batch: batch, key: context.dropoutKeys[index],
                                                firstSample: context.firstSample, training: context.training)
        ck_linear_forward(preActivation.pointer, scratch.pointer, multiplied, parameters.weights, scale,
                          Int32(batch), Int32(nIn), Int32(nOut))
        switch head {
        case .activation(let activation):
            ck_bias_activation_forward(activations.pointer, preActivation.pointer, parameters.biases,
                                       Int32(batch), Int32(nOut), 1, activation.kernelCode)
        case .softmax:
            ck_bias_activation_forward(preActivation.pointer, preActivation.pointer, parameters.biases,
                                       Int32(batch), Int32(nOut), 1, CK_ACT_LINEAR)
            cost = ck_softmax_loglik_forward(activations.pointer, preActivation.pointer, labels,
                                             Int32(batch), Int32(nOut))
        }
    }

    func backward(_ input: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?, batch: Int) {
        let count = batch * nOut
        preActivationGradient.zero(first: count)
        switch head {
        case .activation(let activation):
            ck_bias_activation_backward(preActivationGradient.pointer, parameters.biasGradients,
                                        outputGradient.pointer, activations.pointer,
                                        Int32(batch), Int32(nOut), 1, activation.kernelCode)
        case .softmax:
            guard let labels else { preconditionFailure("softmax backward needs the labels of its forward pass") }
            ck_softmax_loglik_backward(preActivationGradient.pointer, activations.pointer, labels,
                                       Int32(batch), Int32(nOut))
            ck_bias_activation_backward(nil, parameters.biasGradients, preActivationGradient.pointer,
                                        activations.pointer, Int32(batch), Int32(nOut), 1, CK_ACT_LINEAR)
        }
        let target = dropout.gradientTarget(for: inputGradient, batch: batch)
        ck_linear_backward(target, parameters.weightGradients, scratch.pointer, preActivationGradient.pointer,
                           dropout.trainingInput(input), parameters.weights,
                           Int32(batch), Int32(nIn), Int32(nOut))
        dropout.finishGradient(inputGradient, batch: batch)
    }
}

extension FullyConnectedLayer: RunnableLayer {

    func makeRunner(capacity: Int, parameters: ParameterViews, resources: LayerResources) -> LayerRunner {
        DenseRunner(nIn: nIn, nOut: nOut, pDropout: pDropout, head: .activation(activation),
                    capacity: capacity, parameters: parameters, index: resources.index)
    }

    func makeDenseStage(_ setup: DenseStageSetup) -> (any DenseSuffixStage)? {
        DenseStage(setup, nIn: nIn, nOut: nOut, pDropout: pDropout, activation: activation)
    }
}

extension SoftmaxLayer: RunnableLayer {

    func makeRunner(capacity: Int, parameters: ParameterViews, resources: LayerResources) -> LayerRunner {
        DenseRunner(nIn: nIn, nOut: nOut, pDropout: pDropout, head: .softmax,
                    capacity: capacity, parameters: parameters, index: resources.index)
    }

    func makeDenseStage(_ setup: DenseStageSetup) -> (any DenseSuffixStage)? {
        DenseStage(setup, nIn: nIn, nOut: nOut, pDropout: pDropout, activation: nil)
    }
}
