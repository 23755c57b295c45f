// Network.swift: a feed-forward network of layers, as in network3.py.
//
// Building a Network checks that each layer's output fits the next layer's
// input, lays every parameter out in one 64-byte-aligned block (all weights
// first, then all biases, so the L2-regularised part is one contiguous run),
// and creates a runner per layer with buffers for `capacity` samples.  The
// last layer must be a SoftmaxLayer; its negative log-likelihood is the
// cost.  Training itself lives in Training/StochasticGradientDescent.swift.

import CKernels

/// A trainable network: layers, their parameters, and the buffers to run them.
public final class Network {
    /// The layers, first to last.
    public let layers: [any Layer]
    /// The mini-batch size used for training.
    public let miniBatchSize: Int
    /// Samples per forward pass when only evaluating (larger is faster).
    public let evaluationBatchSize: Int

    let parameterBlock: FloatBuffer
    let gradientBlock: FloatBuffer
    /// Weights occupy parameterBlock[0..<weightCount]; biases follow.
    public let weightCount: Int
    public let biasCount: Int
    let runners: [LayerRunner]
    let softmax: DenseRunner
    let input: FloatBuffer
    let labels: AlignedBuffer<Int32>
    let predictions: AlignedBuffer<Int32>

    /// Every random choice after construction (dropout masks) comes from here.
    public internal(set) var random: RandomSource

    /// Builds and initialises a network.
    /// - Parameters:
    ///   - layers: the layers in order; the last must be a `SoftmaxLayer`.
    ///   - miniBatchSize: samples per training step.
    ///   - evaluationBatchSize: samples per evaluation pass (default 100).
    ///   - seed: the seed of initial weights and dropout masks.
    /// - Throws: `NetworkConfigurationError` naming the layers and shapes that do not fit.
    public init(layers: [any Layer], miniBatchSize: Int, evaluationBatchSize: Int = 100, seed: UInt64 = 0) throws {
        guard miniBatchSize > 0 else {
            throw NetworkConfigurationError("mini-batch size must be positive, got \(miniBatchSize)")
        }
        guard evaluationBatchSize > 0 else {
            throw NetworkConfigurationError("evaluation batch size must be positive, got \(evaluationBatchSize)")
        }
        guard !layers.isEmpty else { throw NetworkConfigurationError("a network needs at least one layer") }
        var runnable: [any RunnableLayer] = []
        for (index, layer) in layers.enumerated() {
            guard let known = layer as? any RunnableLayer else {
                throw NetworkConfigurationError("layer \(index + 1), \(layer.summary), is not a layer SwiftNet can run")
            }
            try known.validate()
            if let conv = layer as? ConvPoolLayer, conv.imageShape.batch != miniBatchSize {
                throw NetworkConfigurationError(
                    "layer \(index + 1), \(conv.summary): imageShape's mini-batch size \(conv.imageShape.batch) differs from the network's \(miniBatchSize)")
            }
            if index > 0 {
                let previous = layers[index - 1]
                guard previous.outputShape.count == layer.inputShape.count,
                      previous.outputShape == layer.inputShape || layer.inputShape.height * layer.inputShape.width == 1
                else {
                    throw NetworkConfigurationError(
                        "layer \(index), \(previous.summary), outputs \(previous.outputShape) (\(previous.outputShape.count) values) "
                            + "but layer \(index + 1), \(layer.summary), expects \(layer.inputShape) (\(layer.inputShape.count) values)")
                }
            }
            runnable.append(known)
        }
        guard layers.last is SoftmaxLayer else {
            throw NetworkConfigurationError("the last layer must be a SoftmaxLayer, got \(layers.last!.summary)")
        }

        self.layers = layers
        self.miniBatchSize = miniBatchSize
        self.evaluationBatchSize = evaluationBatchSize
        weightCount = layers.reduce(0) { $0 + $1.weightCount }
        biasCount = layers.reduce(0) { $0 + $1.biasCount }
        parameterBlock = FloatBuffer(count: weightCount + biasCount)
        gradientBlock = FloatBuffer(count: weightCount + biasCount)

        let capacity = max(miniBatchSize, evaluationBatchSize)
        var weightOffset = 0
        var biasOffset = weightCount
        var runners: [LayerRunner] = []
        var initRandom = RandomSource(seed: seed)
        for layer in runnable {
            let views = ParameterViews(
                weights: parameterBlock.pointer + weightOffset, biases: parameterBlock.pointer + biasOffset,
                weightGradients: gradientBlock.pointer + weightOffset, biasGradients: gradientBlock.pointer + biasOffset)
            layer.initialize(weights: UnsafeMutableBufferPointer(start: views.weights, count: layer.weightCount),
                             biases: UnsafeMutableBufferPointer(start: views.biases, count: layer.biasCount),
                             random: &initRandom)
            runners.append(layer.makeRunner(capacity: capacity, parameters: views))
            weightOffset += layer.weightCount
            biasOffset += layer.biasCount
        }
        self.runners = runners
        softmax = runners.last as! DenseRunner
        input = FloatBuffer(count: capacity * layers[0].inputShape.count)
        labels = AlignedBuffer(count: capacity, zeroedWith: 0)
        predictions = AlignedBuffer(count: capacity, zeroedWith: 0)
        // A stream of its own, so that changing the architecture's size
        // does not shift the dropout masks' starting point arbitrarily.
        random = RandomSource(seed: seed ^ 0x5DEE_CE66_D1CE_5EED)
    }

    /// Values per input sample.
    public var inputShape: SampleShape { layers[0].inputShape }

    /// Classes the softmax layer distinguishes.
    public var classCount: Int { layers.last!.outputShape.count }

    /// All parameters, weights first, then biases.
    public var parameters: UnsafeMutableBufferPointer<Float> { parameterBlock.buffer }

    /// Gradients of the last training step, laid out like `parameters`.
    public var gradients: UnsafeMutableBufferPointer<Float> { gradientBlock.buffer }

    /// Loads `batch` samples starting at `start` into the input buffer.
    func loadBatch(_ data: Dataset, start: Int, batch: Int) {
        precondition(data.imageSize == inputShape.count,
                     "dataset \(data.name) has \(data.imageSize) values per image, network expects \(inputShape.count)")
        data.pixels.withUnsafeBufferPointer { pixels in
            ck_u8_to_float(input.pointer, pixels.baseAddress! + start * data.imageSize, 1.0 / 256.0, batch * data.imageSize)
        }
        data.labels.withUnsafeBufferPointer { source in
            labels.pointer.update(from: source.baseAddress! + start, count: batch)
        }
    }

    /// Runs every layer forward on the loaded input; returns the mean NLL.
    @discardableResult
    func forward(batch: Int, training: Bool) -> Float {
        softmax.labels = UnsafePointer(labels.pointer)
        var current = UnsafePointer(input.pointer)
        for runner in runners {
            runner.forward(current, batch: batch, training: training, random: &random)
            current = UnsafePointer(runner.output)
        }
        return softmax.cost
    }

    /// Backpropagates the cost of the last training forward pass,
    /// overwriting `gradients` with d(mean NLL)/d(parameters).
    func backward(batch: Int) {
        gradientBlock.zeroAll()
        for index in runners.indices.reversed() {
            let layerInput = index == 0 ? UnsafePointer(input.pointer) : UnsafePointer(runners[index - 1].output)
            let inputGradient = index == 0 ? nil : runners[index - 1].outputGradient.pointer
            runners[index].backward(layerInput, inputGradient: inputGradient, batch: batch)
        }
    }

    /// One SGD step on `miniBatchSize` samples of `data` starting at
    /// `start`: forward with dropout, backward, update.  Returns the
    /// mini-batch's mean NLL; a non-finite cost is returned WITHOUT
    /// updating, so the parameters stay those of the last good step.
    /// - Parameters:
    ///   - eta: the learning rate.
    ///   - weightDecay: lmbda / (number of training mini-batches), the seed's L2 term.
    public func trainMiniBatch(_ data: Dataset, start: Int, eta: Float, weightDecay: Float) -> Float {
        loadBatch(data, start: start, batch: miniBatchSize)
        let cost = forward(batch: miniBatchSize, training: true)
        guard cost.isFinite else { return cost }
        backward(batch: miniBatchSize)
        step(eta: eta, weightDecay: weightDecay)
        return cost
    }

    /// The fraction of `data` the network classifies correctly (dropout
    /// layers scaled by their keep probability, as in the seed).
    public func accuracy(on data: Dataset) -> Double {
        guard data.count > 0 else { return 0 }
        ck_flush_denormals_on_this_thread()
        var correct = 0
        forEachPrediction(on: data) { _, predicted, label in
            if predicted == label { correct += 1 }
        }
        return Double(correct) / Double(data.count)
    }

    /// Calls `body(index, predicted, label)` for every sample of `data`, in order.
    public func forEachPrediction(on data: Dataset, _ body: (Int, Int32, Int32) -> Void) {
        var start = 0
        while start < data.count {
            let batch = min(evaluationBatchSize, data.count - start)
            loadBatch(data, start: start, batch: batch)
            forward(batch: batch, training: false)
            ck_argmax_rows(predictions.pointer, softmax.output, Int32(batch), Int32(classCount))
            for offset in 0..<batch {
                body(start + offset, predictions.pointer[offset], labels.pointer[offset])
            }
            start += batch
        }
    }
}
