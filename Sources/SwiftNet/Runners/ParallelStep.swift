// ParallelStep.swift: a training step and an evaluation pass on the network's thread team.
//
// The convolutional prefix is data-parallel: each thread runs its share of
// the mini-batch through its own Replica.  The dense suffix is
// model-parallel: each thread owns a slice of every dense layer's weight
// rows (DenseStage).  Barriers separate the phases:
//
//   conv forward (own samples) | dense forward, per layer: partial products
//   (own rows) | sum, bias, activation (thread 0) | ... softmax and cost |
//   dense backward, last layer first: gradients and bias (thread 0) |
//   input gradient and update (own rows) | ... | conv backward (own
//   samples) | conv update (own slice of conv weights, summed over threads
//   in thread order)
//
// Small dense layers (the softmax) are not split: thread 0 runs them whole,
// inside the serial phases around them.
//
// Every sum is taken in a fixed order, so the same seed and thread count
// repeat a run bit for bit.  A network without conv layers skips the first
// and last phases: its dense layers read the images directly.

import CKernels

final class ParallelStep {
    private unowned let network: Network
    /// The network's thread team (a ck_team), which every run and barrier goes through.
    private let team: OpaquePointer
    private let prefixCount: Int
    private let stages: [any DenseSuffixStage]
    private let parts: Int
    private let features: FloatBuffer
    private let featureSize: Int
    private let capacity: Int
    private let labels: AlignedBuffer<Int32>
    private let costs: AlignedBuffer<Float>
    /// Gradient ranges of the conv prefix, cleared before its backward.
    private let prefixWeightRange: Range<Int>
    private let prefixBiasRange: Range<Int>
    private let prefixWeightSources: [AlignedBuffer<UnsafePointer<Float>?>]
    private let prefixBiasSources: AlignedBuffer<UnsafePointer<Float>?>
    /// The dense stages' gradients are already means over the whole
    /// mini-batch, so each replica's conv gradient counts fully.
    private let unitWeights: AlignedBuffer<Float>
    private let prefixZeroRanges: [Range<Int>]

    // The job of the current team run.
    private var data: Dataset?
    private var plan: EpochPlan?
    private var start = 0
    private var batch = 0
    private var rule = UpdateRule(eta: 0, weightDecay: 0, momentum: 0, nesterov: false)
    private var training = false

    /// - Parameter runnable: conv layers first, then dense layers (Network checks this).
    init(network: Network, runnable: [any RunnableLayer], capacity: Int, team: OpaquePointer) {
        let prefixCount = runnable.prefix { $0.isSpatial }.count
        precondition(runnable[prefixCount...].allSatisfy { !$0.isSpatial }, "conv and pool layers must precede the dense layers")
        self.network = network
        self.team = team
        self.prefixCount = prefixCount
        self.capacity = capacity
        parts = network.replicas.count
        featureSize = prefixCount > 0 ? runnable[prefixCount - 1].outputShape.count : runnable[0].inputShape.count
        features = FloatBuffer(count: capacity * featureSize)
        labels = AlignedBuffer(count: capacity, zeroedWith: 0)
        costs = AlignedBuffer(count: parts, zeroedWith: 0)

        var weightOffset = 0, biasOffset = network.weightCount
        for layer in runnable.prefix(prefixCount) {
            weightOffset += layer.weightCount
            biasOffset += layer.biasCount
        }
        prefixWeightRange = 0..<weightOffset
        prefixBiasRange = network.weightCount..<biasOffset
        var stages: [any DenseSuffixStage] = []
        var input = features.pointer
        for index in prefixCount..<runnable.count {
            let layer = runnable[index]
            let setup = DenseStageSetup(index: index, input: input,
                                        weights: network.parameterBlock.pointer + weightOffset,
                                        biases: network.parameterBlock.pointer + biasOffset,
                                        weightVelocity: network.velocityBlock.pointer + weightOffset,
                                        biasVelocity: network.velocityBlock.pointer + biasOffset,
                                        capacity: capacity, parts: parts, resources: network.layerResources[index])
            guard let stage = layer.makeDenseStage(setup) else {
                preconditionFailure("\(layer.summary) is placed in the dense suffix but has no dense stage")
            }
            stages.append(stage)
            input = stage.output.pointer
            weightOffset += layer.weightCount
            biasOffset += layer.biasCount
        }
        self.stages = stages

        let replicas = network.replicas, parts = self.parts
        func pointers(at offset: Int) -> AlignedBuffer<UnsafePointer<Float>?> {
            let table = AlignedBuffer<UnsafePointer<Float>?>(count: parts, zeroedWith: nil)
            for (index, replica) in replicas.enumerated() { table.pointer[index] = UnsafePointer(replica.gradientBlock.pointer + offset) }
            return table
        }
        let prefixWeights = prefixWeightRange.count
        prefixWeightSources = (0..<parts).map { pointers(at: split(prefixWeights, parts: parts, part: $0).lowerBound) }
        prefixBiasSources = pointers(at: prefixBiasRange.lowerBound)
        unitWeights = AlignedBuffer(count: parts, zeroedWith: 1)
        prefixZeroRanges = [prefixWeightRange, prefixBiasRange]
    }

    /// One SGD step on `batch` samples from `start`; returns the mean NLL.
    /// A non-finite cost stops the step before any parameter changes.
    func train(_ data: Dataset, start: Int, plan: EpochPlan?, rule: UpdateRule) -> Float {
        (self.data, self.plan) = (data, plan)
        (self.start, self.batch, self.rule, training) = (start, network.miniBatchSize, rule, true)
        ck_team_run(team, Int32(parts), Self.entry, Unmanaged.passUnretained(self).toOpaque())
        (self.data, self.plan) = (nil, nil)
        return costs.pointer[0]
    }

    /// Forward passes without dropout over `batch` samples from `start`;
    /// the predictions land in `predictions` (capacity entries).
    func evaluate(_ data: Dataset, start: Int, batch: Int, predictions: UnsafeMutablePointer<Int32>) {
        self.data = data
        (self.start, self.batch, training) = (start, batch, false)
        ck_team_run(team, Int32(parts), Self.entry, Unmanaged.passUnretained(self).toOpaque())
        self.data = nil
        ck_argmax_rows(predictions, stages.last!.output.pointer, Int32(batch), Int32(stages.last!.nOut))
    }

    /// The last layer's output (softmax probabilities) of the last pass, in sample order.
    var lastOutput: UnsafePointer<Float> { UnsafePointer(stages.last!.output.pointer) }

    /// The labels of the last pass, in sample order.
    var lastLabels: UnsafePointer<Int32> { UnsafePointer(labels.pointer) }

    private static let entry: ck_task_fn = { context, part, parts in
        Unmanaged<ParallelStep>.fromOpaque(context!).takeUnretainedValue().run(part: Int(part), parts: Int(parts))
    }

    private func run(part: Int, parts: Int) {
        let samples = split(batch, parts: parts, part: part)
        let keys = network.dropoutKeyPointer
        let replica = network.replicas[part]

        // Convolutional prefix, own samples, gathered into `features`.
        if !samples.isEmpty {
            replica.load(data!, start: start + samples.lowerBound, batch: samples.count, plan: plan)
            (labels.pointer + samples.lowerBound).update(from: replica.labels.pointer, count: samples.count)
            let context = PassContext(training: training, dropoutKeys: keys, firstSample: samples.lowerBound,
                                      totalBatch: batch, part: part, parts: parts, team: team)
            let output = prefixCount > 0
                ? replica.forward(firstLayers: prefixCount, batch: samples.count, context: context)
                : replica.input.pointer
            (features.pointer + samples.lowerBound * featureSize).update(from: output, count: samples.count * featureSize)
        }
        ck_team_barrier(team, Int32(parts))

        // Dense layers.  A large layer alternates parallel phases (its own
        // rows) and serial ones (thread 0); a small one is all serial.  A
        // barrier separates a phase from the next unless both are serial,
        // so a thread that lost its core holds the others up as seldom as
        // possible.
        var serialPending = false
        for stage in stages {
            if stage.isSplit {
                if serialPending { ck_team_barrier(team, Int32(parts)) }
                stage.forwardPartial(part: part, rows: split(stage.nIn, parts: parts, part: part), batch: batch,
                                     training: training, key: keys[stage.index])
                ck_team_barrier(team, Int32(parts))
            } else if part == 0 {
                stage.forwardPartial(part: 0, rows: 0..<stage.nIn, batch: batch, training: training, key: keys[stage.index])
            }
            if part == 0 { costs.pointer[0] = stage.finishForward(batch: batch, labels: training ? UnsafePointer(labels.pointer) : nil) }
            serialPending = true
        }
        guard training else { return }

        // Backward, last layer first, each fused with its update.  Thread 0
        // knows the cost at once; the others read it after the next barrier.
        for (position, stage) in stages.enumerated().reversed() {
            let above = position + 1 < stages.count ? UnsafePointer(stages[position + 1].inputGradient.pointer) : nil
            let wantInputGradient = position > 0 || prefixCount > 0
            if stage.isSplit {
                // Its output gradient may still be being written, slice by
                // slice, by the split layer above.
                if !serialPending { ck_team_barrier(team, Int32(parts)) }
                if part == 0, costs.pointer[0].isFinite {
                    stage.startBackward(batch: batch, labels: UnsafePointer(labels.pointer), outputGradient: above, rule: rule)
                }
                ck_team_barrier(team, Int32(parts))
                guard costs.pointer[0].isFinite else { return }
                stage.backwardAndUpdate(part: part, rows: split(stage.nIn, parts: parts, part: part), batch: batch,
                                        wantInputGradient: wantInputGradient, rule: rule)
                serialPending = false
            } else {
                if !serialPending { ck_team_barrier(team, Int32(parts)) }
                if part == 0, costs.pointer[0].isFinite {
                    stage.startBackward(batch: batch, labels: UnsafePointer(labels.pointer), outputGradient: above, rule: rule)
                    stage.backwardAndUpdate(part: 0, rows: 0..<stage.nIn, batch: batch, wantInputGradient: wantInputGradient,
                                            rule: rule)
                }
                serialPending = true
            }
        }

        guard prefixCount > 0 else { return }
        ck_team_barrier(team, Int32(parts))
        guard costs.pointer[0].isFinite else { return }
        // Convolutional prefix backward, own samples.
        if !samples.isEmpty {
            let lastConv = replica.runners[prefixCount - 1]
            lastConv.outputGradient.pointer.update(from: stages[0].inputGradient.pointer + samples.lowerBound * featureSize,
                                                   count: samples.count * featureSize)
            replica.backward(firstLayers: prefixCount, batch: samples.count, zeroRanges: prefixZeroRanges)
        }
        ck_team_barrier(team, Int32(parts))

        // Conv parameters: own slice of the weights, summed over replicas.
        let slice = split(prefixWeightRange.count, parts: parts, part: part)
        let velocity = network.velocityBlock.pointer
        ck_sgd_update_combined(network.parameterBlock.pointer + slice.lowerBound, prefixWeightSources[part].pointer,
                               unitWeights.pointer, Int32(parts), rule.eta, rule.weightDecay,
                               rule.velocity(velocity + slice.lowerBound), rule.momentum, rule.nesterovFlag, slice.count)
        if part == parts - 1 {
            ck_sgd_update_combined(network.parameterBlock.pointer + prefixBiasRange.lowerBound, prefixBiasSources.pointer,
                                   unitWeights.pointer, Int32(parts), rule.eta, 0,
                                   rule.velocity(velocity + prefixBiasRange.lowerBound), rule.momentum, rule.nesterovFlag,
                                   prefixBiasRange.count)
        }
    }
}

/// The contiguous share of `total` items that part `part` of `parts` takes.
func split(_ total: Int, parts: Int, part: Int) -> Range<Int> {
    let base = total / parts, extra = total % parts
    let start = part * base + min(part, extra)
    return start..<(start + base + (part < extra ? 1 : 0))
}
