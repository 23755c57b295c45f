// Network.swift: a feed-forward network of layers, as in network3.py.
//
// Building a Network checks the layers once (NetworkValidator), lays every
// parameter out in one 64-byte-aligned block (all weights first, then all
// biases, so the L2-regularised part is one contiguous run) and every
// layer's state (batch norm's running statistics) in another, and creates
// the network's own thread team, one Replica per thread (that thread's
// buffers for its share of the spatial layers) and the StepScheduler that
// runs a step's phases on them, so networks used at once never share
// threads or scratch.  Before allocating any of it, init adds up every
// block and buffer (Runners/MemoryTally.swift), overflow-checked, and
// refuses a network past its MemoryBudget in one line.  Spatial layers
// (conv, pool, batch norm after them) come first, then dense layers; the
// last is a SoftmaxLayer, whose negative log-likelihood is the cost.  The training loop lives in
// Training/StochasticGradientDescent.swift.
//
// Threads: dropout masks depend only on a per-mini-batch key and the
// sample's position in the whole batch, so every thread count draws the
// same masks, and every sum over threads is taken in thread order.  The same
// seed and thread count therefore repeat a run bit for bit; different thread
// counts differ only by float rounding.  `loadBatch`, `forward` and
// `backward` below are the reference path the tests check gradients on: the
// same layers and stages, run on the calling thread, writing gradients
// instead of updating.

import CKernels
import Dispatch
import Foundation

/// A trainable network: layers, their parameters, and the buffers to run them.
public final class Network {
    /// The layers, first to last.
    public let layers: [any Layer]
    /// The mini-batch size used for training.
    public let miniBatchSize: Int
    /// Samples per forward pass when only evaluating (larger is faster).
    public let evaluationBatchSize: Int
    /// Threads that share each mini-batch.
    public let threads: Int
    /// The seed the network was built with; shuffling draws from it too.
    public let seed: UInt64

    let parameterBlock: FloatBuffer
    /// Every layer's state (batch norm's running statistics), in layer order.
    let stateBlock: FloatBuffer
    /// Momentum's velocity of every parameter, laid out like parameterBlock.
    let velocityBlock: FloatBuffer
    /// Weights occupy parameterBlock[0..<weightCount]; biases follow.
    public let weightCount: Int
    /// All layers' biases (not regularised); they follow the weights in `parameterValues`.
    public let biasCount: Int
    let replicas: [Replica]
    /// Each layer's state and shared scratch, which its runners in every replica use.
    let layerResources: [LayerResources]
    private let dropoutLayers: [Bool]
    private let dropoutKeys: AlignedBuffer<UInt64>
    /// This network's own threads, which the StepScheduler runs on.
    private let team: OpaquePointer
    /// The threaded training step and evaluation pass.
    let scheduler: StepScheduler
    /// A data-parallel step's gradient, cost and stop request as the group sums them
    /// (Network+DataParallel.swift); made on the first such step.
    lazy var groupExchange = FloatBuffer(count: parameterBlock.count + 2)
    /// The last data-parallel step's pass, reused by the next step of the same group.
    var groupPass: GroupPass?
    let evaluationPredictions: AlignedBuffer<Int32>

    /// Every random choice after construction (dropout masks) comes from here.
    public internal(set) var random: RandomSource

    /// Builds and initialises a network.
    /// - Parameters:
    ///   - layers: the layers in order; the last must be a `SoftmaxLayer`.
    ///   - miniBatchSize: samples per training step.
    ///   - evaluationBatchSize: samples per evaluation pass (default 100).
    ///   - threads: threads sharing each mini-batch, at most 1024 (and no more
    ///     than `miniBatchSize` are used); nil means every core.
    ///   - seed: the seed of initial weights and dropout masks.
    ///   - memoryBudget: the most bytes the network may allocate, all its buffers
    ///     counted before any is (default: `MemoryBudget.default`).
    /// - Throws: `NetworkConfigurationError` naming the layers and shapes that do not fit,
    ///   or the thread count when it is out of range or its threads cannot be started;
    ///   `MemoryBudgetError` if the network needs more memory than `memoryBudget`.
    public init(layers: [any Layer], miniBatchSize: Int, evaluationBatchSize: Int = 100,
                threads: Int? = nil, seed: UInt64 = 0, memoryBudget: MemoryBudget = .default) throws {
        guard miniBatchSize > 0 else {
            throw NetworkConfigurationError.badSetting("mini-batch size must be positive, got \(miniBatchSize)")
        }
        guard evaluationBatchSize > 0 else {
            throw NetworkConfigurationError.badSetting("evaluation batch size must be positive, got \(evaluationBatchSize)")
        }
        let threads = threads ?? min(ProcessInfo.processInfo.activeProcessorCount, Self.maximumThreads)
        guard threads >= 1 else { throw NetworkConfigurationError.badSetting("threads must be at least 1, got \(threads)") }
        guard threads <= Self.maximumThreads else {
            throw NetworkConfigurationError.badSetting("threads must be at most \(Self.maximumThreads), got \(threads)")
        }
        let runnable = try Self.validate(layers, miniBatchSize: miniBatchSize)
        let replicaCount = min(threads, miniBatchSize)
        let tally = Self.memoryTally(runnable, miniBatchSize: miniBatchSize, evaluationBatchSize: evaluationBatchSize,
                                     replicas: replicaCount)
        // The budget first: "needs 4 TiB" says more than which buffer is past a C int.
        try memoryBudget.check(tally.total, for: "the network (\(layers.count) layer\(layers.count == 1 ? "" : "s"), "
            + "mini-batch \(miniBatchSize), evaluation batch \(evaluationBatchSize), \(replicaCount) thread\(replicaCount == 1 ? "" : "s")"
            + (tally.largest.map { "; most for \($0.what)" } ?? "") + ")")
        if let (what, values) = tally.oversized {
            throw NetworkConfigurationError.resources("\(what) would hold " + (values.map(String.init) ?? "more than \(Int.max)")
                + " values, more than the \(MemoryTally.maximumBufferValues) the kernels index")
        }

        self.layers = layers
        self.miniBatchSize = miniBatchSize
        self.seed = seed
        self.evaluationBatchSize = evaluationBatchSize
        // More threads than samples would leave some idle.
        self.threads = min(threads, miniBatchSize)
        weightCount = layers.reduce(0) { $0 + $1.weightCount }
        biasCount = layers.reduce(0) { $0 + $1.biasCount }
        parameterBlock = FloatBuffer(count: weightCount + biasCount)
        velocityBlock = FloatBuffer(count: weightCount + biasCount)
        stateBlock = FloatBuffer(count: runnable.reduce(0) { $0 + $1.stateCount })

        var initRandom = RandomSource(seed: seed)
        var weightOffset = 0
        var biasOffset = weightCount
        for layer in runnable {
            layer.initialize(weights: UnsafeMutableBufferPointer(start: parameterBlock.pointer + weightOffset, count: layer.weightCount),
                             biases: UnsafeMutableBufferPointer(start: parameterBlock.pointer + biasOffset, count: layer.biasCount),
                             random: &initRandom)
            weightOffset += layer.weightCount
            biasOffset += layer.biasCount
        }
        var stateOffset = 0
        var resources: [LayerResources] = []
        for (index, layer) in runnable.enumerated() {
            let state = stateBlock.pointer + stateOffset
            layer.initializeState(UnsafeMutableBufferPointer(start: state, count: layer.stateCount))
            resources.append(LayerResources(index: index, state: state, parts: replicaCount,
                                            shared: layer.makeShared(parts: replicaCount)))
            stateOffset += layer.stateCount
        }
        layerResources = resources
        // Not (total + parts - 1) / parts, which overflows near Int.max.
        let share = { (total: Int) in total / replicaCount + (total % replicaCount == 0 ? 0 : 1) }
        let capacity = max(share(miniBatchSize), share(evaluationBatchSize))
        let block = parameterBlock, weights = weightCount
        let spatial = Array(runnable.prefix { $0.isSpatial }), sampleSize = layers[0].inputShape.count
        let replicas = (0..<replicaCount).map { _ in
            Replica(layers: spatial, sampleSize: sampleSize, capacity: capacity, parameterBlock: block, weightCount: weights,
                    resources: resources)
        }
        self.replicas = replicas
        dropoutLayers = runnable.map(\.usesDropout)
        dropoutKeys = AlignedBuffer(count: layers.count, zeroedWith: 0)
        evaluationPredictions = AlignedBuffer(count: max(miniBatchSize, evaluationBatchSize), zeroedWith: 0)
        // A stream of its own, so that the architecture's size does not
        // decide where the dropout masks start.
        random = RandomSource(seed: seed ^ 0x5DEE_CE66_D1CE_5EED)
        guard let team = ck_team_create(Int32(replicaCount)) else {
            throw NetworkConfigurationError.resources("cannot start \(replicaCount) threads for this network")
        }
        self.team = team
        let blocks = SchedulerBlocks(parameters: parameterBlock.pointer, velocities: velocityBlock.pointer,
                                     weightCount: weightCount, dropoutKeys: UnsafePointer(dropoutKeys.pointer),
                                     replicas: replicas, resources: resources)
        scheduler = StepScheduler(layers: runnable, blocks: blocks, miniBatchSize: miniBatchSize,
                                  capacity: max(miniBatchSize, evaluationBatchSize), team: team)
    }

    deinit { ck_team_destroy(team) }

    /// The most threads a network accepts; more is surely a mistake.
    static let maximumThreads = 1024

    /// The dropout keys of the current mini-batch, one slot per layer.
    var dropoutKeyPointer: UnsafePointer<UInt64> { UnsafePointer(dropoutKeys.pointer) }

    /// The one validator's checks, then the engine's view of each layer.
    private static func validate(_ layers: [any Layer], miniBatchSize: Int) throws -> [any RunnableLayer] {
        try NetworkValidator.validate(layers, miniBatchSize: miniBatchSize).enumerated().map { index, kind in
            guard let runnable = kind as? any RunnableLayer else {
                throw NetworkConfigurationError.unsupportedLayer(position: index + 1, summary: kind.summary)
            }
            return runnable
        }
    }

    /// Values per input sample.
    public var inputShape: SampleShape { layers[0].inputShape }

    /// The classes' names, one per class, or nil when they are only numbered (MNIST's
    /// digits).  A `Trainer` takes them from its data; checkpoints and model files keep
    /// them, and `predict` reports them.  Set them with `setClassNames(_:)`.
    public private(set) var classNames: [String]?

    /// Names the classes (or, with nil, numbers them again).
    /// - Throws: `NetworkConfigurationError.badSetting` unless there is one name per class,
    ///   each 1 to 256 bytes on one line, no two alike.
    public func setClassNames(_ names: [String]?) throws {
        if let names, let problem = CheckpointLimits.classNamesProblem(names, classes: classCount) {
            throw NetworkConfigurationError.badSetting("the class names do not fit the network: \(problem)")
        }
        classNames = names
    }

    /// Classes the softmax layer distinguishes.
    public var classCount: Int { layers.last!.outputShape.count }

    /// The parameter block itself, weights first, then biases (the engine's and
    /// the tests' view; users read `parameterValues` or borrow it with
    /// `withUnsafeMutableParameters`, so that no pointer outlives the network).
    var parameters: UnsafeMutableBufferPointer<Float> { parameterBlock.buffer }

    /// The state block itself: every layer's state that is not trained by SGD
    /// (batch norm's running statistics), layer by layer; empty for the seed's networks.
    var state: UnsafeMutableBufferPointer<Float> { stateBlock.buffer }

    /// A copy of every parameter: all weights, layer by layer, then all biases,
    /// layer by layer, in the order `layers` lists them (a checkpoint's order).
    public var parameterValues: [Float] { Array(parameterBlock.buffer) }

    /// A copy of every layer's state that SGD does not train (batch norm's running
    /// mean and variance, layer by layer); empty for the seed's networks.
    public var stateValues: [Float] { Array(stateBlock.buffer) }

    /// A copy of momentum's velocity of every parameter, laid out like `parameterValues`;
    /// zeros until a step with momentum.
    public var velocityValues: [Float] { Array(velocityBlock.buffer) }

    /// Replaces every parameter, laid out as `parameterValues`.
    /// - Throws: `NetworkInputError.wrongParameterCount` unless there is exactly one value per
    ///   parameter, or `.notFinite` for a NaN or infinity; the network is then unchanged.
    public func setParameterValues(_ values: [Float]) throws {
        guard values.count == parameterBlock.count else {
            throw NetworkInputError.wrongParameterCount(values: values.count, expected: parameterBlock.count)
        }
        if let index = values.firstIndex(where: { !$0.isFinite }) { throw NetworkInputError.notFinite(index: index) }
        _ = parameterBlock.buffer.update(fromContentsOf: values)
    }

    /// Calls `body` with the parameter block itself (laid out as `parameterValues`), to
    /// read or change parameters in place without copying.  The buffer is valid only
    /// inside `body`: do not keep it.
    public func withUnsafeMutableParameters<Result>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> Result) rethrows -> Result {
        try body(parameterBlock.buffer)
    }

    /// The momentum of `trainMiniBatch`'s steps: 0 (the default) is the seed's
    /// plain SGD.  `train` sets it from its options (`TrainingOptions.momentum`).
    var momentum: Float = 0
    /// Whether the momentum is Nesterov's (`TrainingOptions.nesterov`).
    var nesterov = false
    /// Momentum's velocity block itself, laid out like `parameters`;
    /// zero until a step with momentum, and part of a run's state.
    var velocities: UnsafeMutableBufferPointer<Float> { velocityBlock.buffer }

    /// The first thread's gradients of its last backward pass, laid out like
    /// `parameters` (the whole mini-batch's when there is one thread).
    var gradients: UnsafeMutableBufferPointer<Float> { replicas[0].gradientBlock.buffer }

    /// One dropout key per dropout layer, drawn in layer order.
    func drawDropoutKeys() {
        for (index, usesDropout) in dropoutLayers.enumerated() {
            dropoutKeys.pointer[index] = usesDropout ? random.next() : 0
        }
    }

    /// One SGD step on `miniBatchSize` samples of `data` starting at
    /// `start`: forward with dropout, backward, update.  Returns the
    /// mini-batch's mean NLL; a non-finite cost is returned WITHOUT
    /// updating, so the parameters stay those of the last good step.
    /// `momentum` and `nesterov` choose the update rule.
    /// - Parameters:
    ///   - data: the training images.
    ///   - start: the first sample of the mini-batch.
    ///   - eta: the learning rate.
    ///   - weightDecay: lmbda / (number of training mini-batches), the seed's L2 term.
    /// - Throws: `NetworkInputError` if the images do not fit the network, the
    ///   mini-batch runs past the data, or a label is not one of its classes.
    @discardableResult
    public func trainMiniBatch(_ data: Dataset, start: Int, eta: Float, weightDecay: Float) throws -> Float {
        try trainMiniBatch(data, start: start, eta: eta, weightDecay: weightDecay, plan: nil)
    }

    /// `trainMiniBatch` over positions of `plan` (the epoch's order and
    /// expansion), as `sgd` and `cnn bench` call it.
    @discardableResult
    package func trainMiniBatch(_ data: Dataset, start: Int, eta: Float, weightDecay: Float,
                                plan: EpochPlan?) throws -> Float {
        try checkFits(data)
        let samples = plan?.count ?? data.count
        guard start >= 0, start <= samples - miniBatchSize, plan.map({ $0.count == $0.copies * data.count }) ?? true else {
            throw NetworkInputError.outOfRange(data: data.name, start: start, miniBatchSize: miniBatchSize, samples: samples)
        }
        if plan == nil, let label = data.labels[start..<(start + miniBatchSize)].first(where: { $0 < 0 || Int($0) >= classCount }) {
            throw NetworkInputError.labelOutOfRange(data: data.name, label: Int(label), classCount: classCount)
        }
        drawDropoutKeys()
        return scheduler.train(data, start: start, plan: plan,
                                  rule: UpdateRule(eta: eta, weightDecay: weightDecay, momentum: momentum, nesterov: nesterov))
    }

    /// Loads `batch` samples into the first replica (single-thread paths and tests).
    func loadBatch(_ data: Dataset, start: Int, batch: Int) {
        replicas[0].load(data, start: start, batch: batch)
    }

    /// The reference path (tests): every layer forward on the input
    /// `loadBatch` loaded, on this thread, with a fresh dropout key per
    /// layer; returns the mean NLL.
    @discardableResult
    func forward(batch: Int, training: Bool) -> Float {
        drawDropoutKeys()
        return scheduler.referenceForward(batch: batch, training: training)
    }

    /// The reference backward of the last `forward`, overwriting `gradients`.
    func backward(batch: Int) { scheduler.referenceBackward(batch: batch) }

    /// The fraction of `data` the network classifies correctly (dropout
    /// layers scaled by their keep probability, as in the seed).
    /// - Throws: `NetworkInputError` if the images do not fit the network's input.
    public func accuracy(on data: Dataset) throws -> Double {
        guard data.count > 0 else { return 0 }
        var correct = 0
        try forEachPrediction(on: data) { _, predicted, label in
            if predicted == label { correct += 1 }
        }
        return Double(correct) / Double(data.count)
    }

    /// The softmax output for every sample of `data`: `data.count` rows of
    /// `classCount` probabilities, row-major (dropout layers scaled by their
    /// keep probability, as in evaluation).
    /// - Throws: `NetworkInputError` if the images do not fit the network's input.
    public func probabilities(on data: Dataset) throws -> [Float] {
        try evaluationRows(on: data, width: classCount) { scheduler.lastOutput }
    }

    /// `width` values per sample of `data`, copied after each evaluation pass from
    /// what `source` points at (the pass's rows, in sample order).
    func evaluationRows(on data: Dataset, width: Int, from source: () -> UnsafePointer<Float>) throws -> [Float] {
        try checkFits(data)
        var result = [Float](repeating: 0, count: data.count * width)
        result.withUnsafeMutableBufferPointer { rows in
            forEachEvaluationPass(count: data.count, run: { start, chunk in
                scheduler.evaluate(data, start: start, batch: chunk, predictions: evaluationPredictions.pointer)
            }) { start, chunk in
                (rows.baseAddress! + start * width).update(from: source(), count: chunk * width)
            }
        }
        return result
    }

    /// Calls `body(index, predicted, label)` for every sample of `data`, in order.
    /// - Throws: `NetworkInputError` if the images do not fit the network's input.
    public func forEachPrediction(on data: Dataset, _ body: (Int, Int32, Int32) -> Void) throws {
        try checkFits(data)
        forEachEvaluationPass(count: data.count, run: { start, chunk in
            scheduler.evaluate(data, start: start, batch: chunk, predictions: evaluationPredictions.pointer)
        }) { start, chunk in
            for index in 0..<chunk {
                body(start + index, evaluationPredictions.pointer[index], scheduler.lastLabels[index])
            }
        }
    }

    /// The softmax output of samples given as floats: `values.count /
    /// inputShape.count` rows of `classCount` probabilities.
    func probabilities(values: UnsafeBufferPointer<Float>) -> [Float] {
        let count = values.count / inputShape.count
        var result = [Float](repeating: 0, count: count * classCount)
        result.withUnsafeMutableBufferPointer { rows in
            forEachEvaluationPass(count: count, run: { start, chunk in
                scheduler.evaluate(values: values.baseAddress!, start: start, batch: chunk, predictions: evaluationPredictions.pointer)
            }) { start, chunk in
                (rows.baseAddress! + start * classCount).update(from: scheduler.lastOutput, count: chunk * classCount)
            }
        }
        return result
    }

    /// Throws unless `data`'s images fit the network's input.
    func checkFits(_ data: Dataset) throws {
        guard data.imageSize == inputShape.count else {
            throw NetworkInputError.wrongImageSize(data: data.name, shape: SampleShape(channels: data.channels, height: data.height,
                                                                                      width: data.width), expected: inputShape)
        }
    }

    /// Runs evaluation passes of up to `evaluationBatchSize` of `count`
    /// samples, calling `afterPass(start, count)` after each while its
    /// predictions and outputs are in place.
    func forEachEvaluationPass(count: Int, run: (Int, Int) -> Void, _ afterPass: (Int, Int) -> Void) {
        ck_flush_denormals_on_this_thread()
        var start = 0
        while start < count {
            let chunk = min(evaluationBatchSize, count - start)
            run(start, chunk)
            afterPass(start, chunk)
            start += chunk
        }
    }
}

extension Network {
    /// Saves the network as a model file (architecture, parameters, state;
    /// no training run), atomically: for prediction and evaluation.
    ///
    /// ```swift
    /// try network.saveModel(to: "digits.model")
    /// let again = try Network.loadModel(contentsOf: "digits.model")
    /// ```
    /// - Throws: `FileError` if the file cannot be written (`path` is then untouched).
    public func saveModel(to path: String) throws {
        try Checkpoint(model: self).write(to: path)
    }

    /// The network in a model file or a training checkpoint.
    /// - Parameters:
    ///   - path: a file `saveModel(to:)`, `Checkpoint.write(to:)` or `cnn train --save` wrote.
    ///   - threads: threads sharing each pass; nil means the file's (every core if it fixes none).
    /// - Throws: `FileError` or `CheckpointError` naming the file and the problem.
    public static func loadModel(contentsOf path: String, threads: Int? = nil) throws -> Network {
        try Checkpoint.load(contentsOf: path).makeNetwork(threads: threads)
    }
}
