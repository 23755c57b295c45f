// ConvPoolRunner.swift: runs a ConvPoolLayer, or a ConvLayer, through the C kernels.
//
// forward:  conv (no bias) -> max-pool (saving argmax) -> act(pooled + b)
// backward: act' -> bias gradient, scatter through argmax, conv backward.
// A ConvLayer is the same without the pool: act(conv + b), and may pad
// its input and stride its filters (a ConvPoolLayer does neither).

import CKernels

final class ConvPoolRunner: LayerRunner {
    /// What the runner needs of either layer kind.
    struct Geometry {
        let input: SampleShape
        let filters: Int, kernelHeight: Int, kernelWidth: Int
        /// Zeros around the input, and the filter's step (0 and 1 for a ConvPoolLayer).
        let padding: Int, stride: Int
        /// nil for a ConvLayer.
        let pool: (height: Int, width: Int)?
        let activation: Activation

        /// From a layer's (filters, channels, height, width) filter shape.
        init(input: SampleShape, filterShape: (filters: Int, channels: Int, height: Int, width: Int),
             padding: Int = 0, stride: Int = 1, pool: (height: Int, width: Int)?, activation: Activation) {
            self.input = input
            (filters, kernelHeight, kernelWidth) = (filterShape.filters, filterShape.height, filterShape.width)
            (self.padding, self.stride) = (padding, stride)
            self.pool = pool
            self.activation = activation
        }

        var convolved: SampleShape {
            SampleShape(channels: filters,
                        height: ConvLayer.positions(input.height, kernelHeight, padding: padding, stride: stride),
                        width: ConvLayer.positions(input.width, kernelWidth, padding: padding, stride: stride))
        }

        var output: SampleShape {
            guard let pool else { return convolved }
            return SampleShape(channels: filters, height: convolved.height / pool.height, width: convolved.width / pool.width)
        }
    }

    private let geometry: Geometry
    private let parameters: ParameterViews
    private let convolved: FloatBuffer
    private let convolvedGradient: FloatBuffer
    private let pooledGradient: FloatBuffer
    /// Which input won each pooling window in the last forward pass.
    let argmax: AlignedBuffer<Int32>
    /// im2col columns and GEMM packing for the conv kernels, sized once.
    private let workspace: FloatBuffer
    private let activations: FloatBuffer
    let outputGradient: FloatBuffer

    init(geometry: Geometry, capacity: Int, parameters: ParameterViews) {
        self.geometry = geometry
        self.parameters = parameters
        let convolvedCount = capacity * geometry.convolved.count
        let outputCount = capacity * geometry.output.count
        let pooled = geometry.pool != nil
        convolved = FloatBuffer(count: pooled ? convolvedCount : 0)
        convolvedGradient = FloatBuffer(count: convolvedCount)
        pooledGradient = FloatBuffer(count: pooled ? outputCount : 0)
        argmax = AlignedBuffer(count: pooled ? outputCount : 0, zeroedWith: 0)
        activations = FloatBuffer(count: outputCount)
        outputGradient = FloatBuffer(count: outputCount)
        let input = geometry.input
        workspace = FloatBuffer(count: ck_conv2d_workspace_floats_ex(
            Int32(input.channels), Int32(input.height), Int32(input.width), Int32(geometry.filters),
            Int32(geometry.kernelHeight), Int32(geometry.kernelWidth), Int32(geometry.padding), Int32(geometry.stride)))
    }

    /// What `init` allocates, added to `tally` `copies` times; keep the two in step.
    static func tally(_ tally: inout MemoryTally, label: String, geometry: Geometry, capacity: Int, copies: Int) {
        let convolved = [capacity, geometry.convolved.channels, geometry.convolved.height, geometry.convolved.width]
        let output = [capacity, geometry.output.channels, geometry.output.height, geometry.output.width]
        let pooled = geometry.pool != nil
        tally.add("\(label)'s convolution output and its gradient", convolved, copies: copies * (pooled ? 2 : 1))
        tally.add("\(label)'s output, its gradient and argmax", output, copies: copies * (pooled ? 4 : 2))
        let input = geometry.input
        // The kernel sizes its im2col columns in C ints: ask it only about shapes that fit them.
        let columns = [input.channels, geometry.kernelHeight, geometry.kernelWidth, geometry.convolved.height, geometry.convolved.width]
        let weights = [geometry.filters, input.channels, geometry.kernelHeight, geometry.kernelWidth]
        guard MemoryTally.fits(columns), MemoryTally.fits(weights) else {
            tally.add("\(label)'s im2col workspace", columns, copies: copies)
            return
        }
        let floats = ck_conv2d_workspace_floats(
            Int32(input.channels), Int32(input.height), Int32(input.width), Int32(geometry.filters),
            Int32(geometry.kernelHeight), Int32(geometry.kernelWidth))
        tally.add("\(label)'s im2col workspace", floats: Int(clamping: floats), copies: copies)
    }

    var output: UnsafeMutablePointer<Float> { activations.pointer }

    private var shapeArguments: (Int32, Int32, Int32, Int32, Int32, Int32) {
        let input = geometry.input
        return (Int32(input.channels), Int32(input.height), Int32(input.width),
                Int32(geometry.filters), Int32(geometry.kernelHeight), Int32(geometry.kernelWidth))
    }

    /// (padding, stride) as the _ex kernels take them; (0, 1) computes what the plain kernels do, bit for bit.
    private var paddingAndStride: (Int32, Int32) { (Int32(geometry.padding), Int32(geometry.stride)) }

    func forward(_ input: UnsafePointer<Float>, batch: Int, context: PassContext) {
        let (c, h, w, filters, kh, kw) = shapeArguments
        let (pad, stride) = paddingAndStride
        let convolvedShape = geometry.convolved
        let outputArea = Int32(geometry.output.height * geometry.output.width)
        guard let pool = geometry.pool else {
            ck_conv2d_forward_ex(activations.pointer, workspace.pointer, input, parameters.weights, nil,
                                 Int32(batch), c, h, w, filters, kh, kw, pad, stride)
            ck_bias_activation_forward(activations.pointer, activations.pointer, parameters.biases, Int32(batch),
                                       filters, outputArea, geometry.activation.kernelCode)
            return
        }
        ck_conv2d_forward_ex(convolved.pointer, workspace.pointer, input, parameters.weights, nil,
                             Int32(batch), c, h, w, filters, kh, kw, pad, stride)
        // Only a training pass has a backward to follow, and so needs argmax.
        ck_maxpool2d_forward(activations.pointer, context.training ? argmax.pointer : nil, convolved.pointer,
                             Int32(batch), filters,
                             Int32(convolvedShape.height), Int32(convolvedShape.width),
                             Int32(pool.height), Int32(pool.width))
        ck_bias_activation_forward(activations.pointer, activations.pointer, parameters.biases, Int32(batch),
                                   filters, outputArea, geometry.activation.kernelCode)
    }

    func backward(_ input: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?, batch: Int) {
        let (c, h, w, filters, kh, kw) = shapeArguments
        let (pad, stride) = paddingAndStride
        let convolvedShape = geometry.convolved
        let output = geometry.output
        convolvedGradient.zero(first: batch * convolvedShape.count)
        // d cost / d (pooled + b), or / d (conv + b) without a pool.
        let activationGradient = geometry.pool == nil ? convolvedGradient : pooledGradient
        if geometry.pool != nil { pooledGradient.zero(first: batch * output.count) }
        ck_bias_activation_backward(activationGradient.pointer, parameters.biasGradients, outputGradient.pointer,
                                    activations.pointer, Int32(batch), filters,
                                    Int32(output.height * output.width), geometry.activation.kernelCode)
        if let pool = geometry.pool {
            ck_maxpool2d_backward(convolvedGradient.pointer, pooledGradient.pointer, argmax.pointer, Int32(batch),
                                  filters, Int32(convolvedShape.height), Int32(convolvedShape.width),
                                  Int32(pool.height), Int32(pool.width))
        }
        inputGradient?.update(repeating: 0, count: batch * geometry.input.count)
        ck_conv2d_backward_ex(inputGradient, parameters.weightGradients, nil, workspace.pointer,
                              convolvedGradient.pointer, input, parameters.weights,
                              Int32(batch), c, h, w, filters, kh, kw, pad, stride)
    }
}
