// StepScheduler.swift: the one place a mini-batch's phases live.
//
// A pass is a program of phases, built once per network; each phase has
// some parts, and every part of a phase finishes before any part of the
// next starts.  A training step:
//
//   load own samples, spatial prefix forward (own samples: conv, pool,
//   batch norm; a batch-norm layer splits it into two phases, around the
//   sums of the whole mini-batch) | dense suffix forward, layer by layer
//   (a large layer's rows split across parts, then bias/activation/softmax
//   on part 0) | dense suffix backward, last layer first, each fused with
//   its update | spatial prefix backward (own samples) | prefix update (own
//   slice of the prefix's parameters, gradients summed over parts in part
//   order)
//
// Consecutive serial work (part 0 only) shares one phase.  The team runs
// the program with ck_team_run_phases: a part is not a thread, and
// whichever thread comes first takes the next part, so a thread that lost
// its core to another program delays nothing but the part it holds.  A
// part computes the same whichever thread runs it (buffers are per part),
// and every sum over parts is taken in part order, so the same seed and
// number of parts (threads) repeat a run bit for bit.  An evaluation pass
// is the forward phases.  The reference path that the gradient tests check
// runs the same work on one part and writes gradients instead of updating.
// A data-parallel step (a member of a TrainingGroup) runs the gradient
// program: the training step's phases on the member's share of the
// mini-batch, with every dense layer's gradient written whole instead of
// fused with its update, and the parts' prefix gradients summed (in part
// order) into replica 0's block, where the group's sum and update find
// them.
// The scheduler is handed the blocks it works on (SchedulerBlocks); it
// holds no reference to the Network.

import CKernels

/// What the scheduler works on, owned by the Network.
struct SchedulerBlocks {
    let parameters: UnsafeMutablePointer<Float>
    let velocities: UnsafeMutablePointer<Float>
    /// Where the biases start in `parameters`.
    let weightCount: Int
    /// One dropout key per layer for the current pass.
    let dropoutKeys: UnsafePointer<UInt64>
    /// One per part; replica 0 also serves the reference path.
    let replicas: [Replica]
    let resources: [LayerResources]
}

final class StepScheduler {
    private let blocks: SchedulerBlocks
    private let team: OpaquePointer
    private let parts: Int
    private let miniBatchSize: Int
    private let prefix: PrefixLayout
    private let stages: [any DenseSuffixStage]
    /// The prefix's output for the whole pass, which the first dense stage reads.
    private let features: FloatBuffer
    private let featureSize: Int
    private let labels: AlignedBuffer<Int32>
    private let cost: AlignedBuffer<Float>
    /// Positions of the prefix's combining runners (batch norm), where a training pass's prefix splits.
    private let combining: [Int]
    private var trainingProgram = PhaseProgram()
    private var evaluationProgram = PhaseProgram()
    /// Made on a data-parallel run's first step.
    private lazy var gradientProgram = makeProgram(training: true, gradientsOnly: true)
    /// The program the team is running.
    private var running: PhaseProgram?

    // The job of the current team run.
    private var data: Dataset?
    /// Instead of `data`: samples already as floats, `sampleSize` each (prediction).
    private var values: UnsafePointer<Float>?
    private var plan: EpochPlan?
    private var start = 0
    private var batch = 0
    /// Position of this pass's first sample in the global mini-batch (a group member's share); 0 otherwise.
    private var sampleOffset = 0
    /// A group member's gradient pass, or nil.
    private var group: GroupPass?
    private var rule = UpdateRule(eta: 0, weightDecay: 0, momentum: 0, nesterov: false)
    private var training = false

    /// - Parameters:
    ///   - layers: spatial layers first, then dense layers (NetworkValidator checks this).
    ///   - capacity: the most samples one pass holds.
    init(layers: [any RunnableLayer], blocks: SchedulerBlocks, miniBatchSize: Int, capacity: Int, team: OpaquePointer) {
        self.blocks = blocks
        self.team = team
        self.miniBatchSize = miniBatchSize
        parts = blocks.replicas.count
        prefix = PrefixLayout(layers: layers, blocks: blocks)
        featureSize = prefix.count > 0 ? layers[prefix.count - 1].outputShape.count : layers[0].inputShape.count
        features = FloatBuffer(count: capacity * featureSize)
        labels = AlignedBuffer(count: capacity, zeroedWith: 0)
        cost = AlignedBuffer(count: 1, zeroedWith: 0)
        var stages: [any DenseSuffixStage] = []
        var input = features.pointer
        var weightOffset = prefix.weights.count, biasOffset = prefix.biases.upperBound
        let gradients = blocks.replicas[0].gradientBlock.pointer
        for index in prefix.count..<layers.count {
            let layer = layers[index]
            let setup = DenseStageSetup(index: index, input: input,
                                        weights: blocks.parameters + weightOffset, biases: blocks.parameters + biasOffset,
                                        weightVelocity: blocks.velocities + weightOffset,
                                        biasVelocity: blocks.velocities + biasOffset,
                                        weightGradients: gradients + weightOffset, biasGradients: gradients + biasOffset,
                                        capacity: capacity, parts: parts, resources: blocks.resources[index])
            guard let stage = layer.makeDenseStage(setup) else {
                preconditionFailure("\(layer.summary) is placed in the dense suffix but has no dense stage")
            }
            stages.append(stage)
            input = stage.output.pointer
            weightOffset += layer.weightCount
            biasOffset += layer.biasCount
        }
        self.stages = stages
        combining = blocks.replicas[0].combiningPositions(firstLayers: prefix.count)
        trainingProgram = makeProgram(training: true)
        evaluationProgram = makeProgram(training: false)
    }

    // MARK: - Passes

    /// A group member's share of a step: `batch` samples from `start` (plan positions), the
    /// first at position `sampleOffset` of the global mini-batch (its dropout masks). Leaves
    /// this share's part of the gradient of the global mini-batch's mean cost in replica 0's
    /// block; returns the share's mean NLL.
    /// - Throws: what the group's sums inside the pass (batch norm's) threw.
    func gradients(_ data: Dataset, start: Int, batch: Int, sampleOffset: Int, plan: EpochPlan?,
                   group: GroupPass) throws -> Float {
        (self.data, self.plan, self.group) = (data, plan, group)
        (self.start, self.batch, self.sampleOffset, training) = (start, batch, sampleOffset, true)
        for stage in stages { stage.use(group) }
        run(gradientProgram)
        for stage in stages { stage.use(nil) }
        (self.data, self.plan, self.group, self.sampleOffset) = (nil, nil, nil, 0)
        if let failure = group.failure { throw failure }
        return cost.pointer[0]
    }

    /// Between a group pass's halves: combining runner `index`'s sums made the group's.
    private func shareSums(ofRunner index: Int, backward: Bool) {
        guard let group else { return }
        (blocks.replicas[0].runners[index] as! any CombiningRunner)
            .shareSums(filled: min(parts, batch), parts: parts, backward: backward, group: group)
    }

    /// Where `gradients` leaves the whole gradient, laid out like the parameters.
    var gradientBlock: FloatBuffer { blocks.replicas[0].gradientBlock }

    /// One SGD step on `miniBatchSize` samples from `start`; returns the mean NLL.
    /// A non-finite cost stops the step before any parameter changes.
    func train(_ data: Dataset, start: Int, plan: EpochPlan?, rule: UpdateRule) -> Float {
        (self.data, self.plan) = (data, plan)
        (self.start, self.batch, self.rule, training) = (start, miniBatchSize, rule, true)
        run(trainingProgram)
        (self.data, self.plan) = (nil, nil)
        return cost.pointer[0]
    }

    /// Forward passes without dropout over `batch` samples from `start`;
    /// the predictions land in `predictions` (capacity entries).
    func evaluate(_ data: Dataset, start: Int, batch: Int, predictions: UnsafeMutablePointer<Int32>) {
        self.data = data
        evaluate(start: start, batch: batch, predictions: predictions)
        self.data = nil
    }

    /// The same over samples given as floats (the values the network's
    /// first layer sees), `batch` of them from sample `start` of `values`.
    func evaluate(values: UnsafePointer<Float>, start: Int, batch: Int, predictions: UnsafeMutablePointer<Int32>) {
        self.values = values
        evaluate(start: start, batch: batch, predictions: predictions)
        self.values = nil
    }

    private func evaluate(start: Int, batch: Int, predictions: UnsafeMutablePointer<Int32>) {
        (self.start, self.batch, training) = (start, batch, false)
        run(evaluationProgram)
        ck_argmax_rows(predictions, lastOutput, Int32(batch), Int32(stages.last!.nOut))
    }

    /// The last layer's output (softmax probabilities) of the last pass, in sample order.
    var lastOutput: UnsafePointer<Float> { UnsafePointer(stages.last!.output.pointer) }

    /// The last layer's input in the last pass (the penultimate layer's
    /// activations, without dropout), in sample order.
    var lastLayerInput: UnsafePointer<Float> {
        stages.count > 1 ? UnsafePointer(stages[stages.count - 2].output.pointer) : UnsafePointer(features.pointer)
    }

    /// The labels of the last pass, in sample order.
    var lastLabels: UnsafePointer<Int32> { UnsafePointer(labels.pointer) }

    private func run(_ program: PhaseProgram) {
        running = program
        let status = program.parts.withUnsafeBufferPointer { parts in
            ck_team_run_phases(team, Int32(parts.count), parts.baseAddress, Self.entry, Unmanaged.passUnretained(self).toOpaque())
        }
        precondition(status == 0, "a program of \(program.phases.count) phases is beyond the team's limits")
        running = nil
    }

    private static let entry: ck_phase_fn = { context, phase, part in
        Unmanaged<StepScheduler>.fromOpaque(context!).takeUnretainedValue().running!.phases[Int(phase)](Int(part))
    }

    // MARK: - The programs

    /// The phases of a training step or an evaluation pass, in order.
    /// `gradientsOnly`: the gradient program (see the file comment).
    private func makeProgram(training: Bool, gradientsOnly: Bool = false) -> PhaseProgram {
        var program = PhaseProgram()
        let parts = self.parts
        // Prefix forward: one phase, or one per batch-norm split in training.
        let segments = training && prefix.count > 0 ? combining.count + 1 : 1
        for segment in 0..<segments {
            program.parallel(parts) { [unowned self] part in forwardPrefix(segment: segment, of: segments, part: part) }
            if gradientsOnly, segment < segments - 1 {
                program.serial { [unowned self] in shareSums(ofRunner: combining[segment], backward: false) }
            }
        }
        // Dense suffix forward: a split layer's rows in parallel, the rest on part 0.
        for stage in stages {
            if stage.isSplit {
                program.parallel(parts) { [unowned self] part in
                    stage.forwardPartial(part: part, rows: split(stage.nIn, parts: parts, part: part), batch: batch,
                                         firstSample: sampleOffset, training: self.training, key: blocks.dropoutKeys[stage.index])
                }
            } else {
                program.serial { [unowned self] in
                    stage.forwardPartial(part: 0, rows: 0..<stage.nIn, batch: batch, firstSample: sampleOffset,
                                         training: self.training, key: blocks.dropoutKeys[stage.index])
                }
            }
            program.serial { [unowned self] in
                cost.pointer[0] = stage.finishForward(batch: batch, labels: self.training ? lastLabels : nil)
            }
        }
        guard training else { return program }

        // Dense suffix backward, last layer first, each fused with its update.
        for (position, stage) in stages.enumerated().reversed() {
            let above = position + 1 < stages.count ? UnsafePointer(stages[position + 1].inputGradient.pointer) : nil
            let wantInputGradient = position > 0 || prefix.count > 0
            if gradientsOnly {
                // No local check of the cost: every member must reach the group's sums, and the
                // group's cost decides whether the step is applied.
                program.serial { [unowned self] in
                    stage.startBackward(batch: batch, labels: lastLabels, outputGradient: above, rule: nil)
                    stage.backwardGradients(batch: batch, wantInputGradient: wantInputGradient)
                }
                continue
            }
            program.serial { [unowned self] in
                guard cost.pointer[0].isFinite else { return }
                stage.startBackward(batch: batch, labels: lastLabels, outputGradient: above, rule: rule)
            }
            if stage.isSplit {
                program.parallel(parts) { [unowned self] part in
                    guard cost.pointer[0].isFinite else { return }
                    stage.backwardAndUpdate(part: part, rows: split(stage.nIn, parts: parts, part: part), batch: batch,
                                            wantInputGradient: wantInputGradient, rule: rule)
                }
            } else {
                program.serial { [unowned self] in
                    guard cost.pointer[0].isFinite else { return }
                    stage.backwardAndUpdate(part: 0, rows: 0..<stage.nIn, batch: batch, wantInputGradient: wantInputGradient,
                                            rule: rule)
                }
            }
        }
        guard prefix.count > 0 else { return program }
        // Prefix backward on own samples, split as its forward was, then the update of own slice.
        for segment in 0...combining.count {
            program.parallel(parts) { [unowned self] part in
                guard gradientsOnly || cost.pointer[0].isFinite else { return }
                let samples = split(batch, parts: parts, part: part)
                if !samples.isEmpty {
                    backwardPrefix(blocks.replicas[part], samples: samples, segment: segment)
                } else if segment == 0 {
                    // A share smaller than the parts (a group member's): this part adds nothing.
                    prefix.clearGradients(of: blocks.replicas[part])
                }
            }
            if gradientsOnly, segment < combining.count {
                program.serial { [unowned self] in shareSums(ofRunner: combining[combining.count - 1 - segment], backward: true) }
            }
        }
        program.parallel(parts) { [unowned self] part in
            guard cost.pointer[0].isFinite else { return }
            if gradientsOnly {
                prefix.sumGradients(part: part, parts: parts)
            } else {
                prefix.update(part: part, parts: parts, rule: rule)
            }
        }
        return program
    }

    // MARK: - Phases

    /// Own samples through segment `segment` of the spatial layers (loading them first, and
    /// gathering the output into `features` after the last segment).
    private func forwardPrefix(segment: Int, of segments: Int, part: Int) {
        let samples = split(batch, parts: parts, part: part)
        guard !samples.isEmpty else { return }
        let replica = blocks.replicas[part]
        if segment == 0 {
            if let values {
                replica.load(values: values, start: start + samples.lowerBound, batch: samples.count)
            } else if let data {
                replica.load(data, start: start + samples.lowerBound, batch: samples.count, plan: plan)
            }
            (labels.pointer + samples.lowerBound).update(from: replica.labels.pointer, count: samples.count)
        }
        forwardPrefix(replica, samples: samples, segment: segment, of: segments, part: part, parts: parts)
    }

    private func forwardPrefix(_ replica: Replica, samples: Range<Int>, segment: Int, of segments: Int, part: Int, parts: Int) {
        let context = PassContext(training: training, dropoutKeys: blocks.dropoutKeys, firstSample: sampleOffset + samples.lowerBound,
                                  totalBatch: group?.globalBatch ?? batch, part: part, parts: parts, group: group)
        guard prefix.count > 0 else {
            (features.pointer + samples.lowerBound * featureSize).update(from: replica.input.pointer, count: samples.count * featureSize)
            return
        }
        let output: UnsafeMutablePointer<Float>
        if segments == 1 && !training {
            output = replica.forward(firstLayers: prefix.count, batch: samples.count, context: context)
        } else {
            replica.forwardSegment(segment, firstLayers: prefix.count, combining: combining, batch: samples.count, context: context)
            guard segment == segments - 1 else { return }
            output = replica.runners[prefix.count - 1].output
        }
        (features.pointer + samples.lowerBound * featureSize).update(from: output, count: samples.count * featureSize)
    }

    /// Own samples back through segment `segment` of the spatial layers, into this part's gradient block.
    private func backwardPrefix(_ replica: Replica, samples: Range<Int>, segment: Int) {
        if segment == 0 {
            let lastSpatial = replica.runners[prefix.count - 1]
            lastSpatial.outputGradient.pointer.update(from: stages[0].inputGradient.pointer + samples.lowerBound * featureSize,
                                                      count: samples.count * featureSize)
        }
        replica.backwardSegment(segment, firstLayers: prefix.count, combining: combining, batch: samples.count,
                                zeroRanges: prefix.gradientRanges)
    }

    // MARK: - The reference path

    /// Replica 0's loaded input forward through every layer on the calling
    /// thread, as one part; returns the mean NLL.
    func referenceForward(batch: Int, training: Bool) -> Float {
        (self.batch, self.training) = (batch, training)
        let replica = blocks.replicas[0]
        labels.pointer.update(from: replica.labels.pointer, count: batch)
        let segments = training && prefix.count > 0 ? combining.count + 1 : 1
        for segment in 0..<segments {
            forwardPrefix(replica, samples: 0..<batch, segment: segment, of: segments, part: 0, parts: 1)
        }
        for stage in stages {
            let key = blocks.dropoutKeys[stage.index]
            let stageParts = stage.isSplit ? parts : 1
            for part in 0..<stageParts {
                stage.forwardPartial(part: part, rows: split(stage.nIn, parts: stageParts, part: part), batch: batch,
                                     firstSample: 0, training: training, key: key)
            }
            cost.pointer[0] = stage.finishForward(batch: batch, labels: training ? lastLabels : nil)
        }
        return cost.pointer[0]
    }

    /// The gradient of the last reference forward pass into replica 0's
    /// gradient block, every layer's, without updating anything.
    func referenceBackward(batch: Int) {
        let replica = blocks.replicas[0]
        replica.gradientBlock.zeroAll()
        for (position, stage) in stages.enumerated().reversed() {
            let above = position + 1 < stages.count ? UnsafePointer(stages[position + 1].inputGradient.pointer) : nil
            stage.startBackward(batch: batch, labels: lastLabels, outputGradient: above, rule: nil)
            stage.backwardGradients(batch: batch, wantInputGradient: position > 0 || prefix.count > 0)
        }
        guard prefix.count > 0 else { return }
        for segment in 0...combining.count { backwardPrefix(replica, samples: 0..<batch, segment: segment) }
    }
}

/// A pass as phases: each a number of parts and what a part does.  Serial work
/// (part 0 only) that follows serial work joins its phase, since nothing runs beside it.
struct PhaseProgram {
    private(set) var phases: [(Int) -> Void] = []
    /// Parts per phase, as ck_team_run_phases reads them.
    private(set) var parts: [Int32] = []

    /// A phase of `parts` parts.
    mutating func parallel(_ parts: Int, _ body: @escaping (Int) -> Void) {
        phases.append(body)
        self.parts.append(Int32(parts))
    }

    /// Work for part 0 alone, joined to the phase before when that has one part too.
    mutating func serial(_ body: @escaping () -> Void) {
        guard self.parts.last == 1, let previous = phases.popLast() else {
            parallel(1) { _ in body() }
            return
        }
        phases.append { part in
            previous(part)
            body()
        }
    }
}

/// The spatial prefix's parameters: where they lie, and their update from
/// every part's gradient block.
struct PrefixLayout {
    /// Layers in the prefix.
    let count: Int
    let weights: Range<Int>
    let biases: Range<Int>
    let parameters: UnsafeMutablePointer<Float>
    let velocities: UnsafeMutablePointer<Float>
    /// Per part: the gradient blocks at that part's slice of the weights.
    private let weightSources: [AlignedBuffer<UnsafePointer<Float>?>]
    private let biasSources: AlignedBuffer<UnsafePointer<Float>?>
    /// The dense stages' gradients are already means over the whole
    /// mini-batch, so each part's gradient counts fully.
    private let unitWeights: AlignedBuffer<Float>

    init(layers: [any RunnableLayer], blocks: SchedulerBlocks) {
        count = layers.prefix { $0.isSpatial }.count
        let spatial = layers.prefix(count)
        weights = 0..<spatial.reduce(0) { $0 + $1.weightCount }
        biases = blocks.weightCount..<(blocks.weightCount + spatial.reduce(0) { $0 + $1.biasCount })
        parameters = blocks.parameters
        velocities = blocks.velocities
        let replicas = blocks.replicas, parts = replicas.count
        func pointers(at offset: Int) -> AlignedBuffer<UnsafePointer<Float>?> {
            let table = AlignedBuffer<UnsafePointer<Float>?>(count: parts, zeroedWith: nil)
            for (index, replica) in replicas.enumerated() { table.pointer[index] = UnsafePointer(replica.gradientBlock.pointer + offset) }
            return table
        }
        let weightCount = weights.count
        weightSources = (0..<parts).map { pointers(at: split(weightCount, parts: parts, part: $0).lowerBound) }
        biasSources = pointers(at: biases.lowerBound)
        unitWeights = AlignedBuffer(count: parts, zeroedWith: 1)
    }

    /// The gradient ranges a part clears before its prefix backward.
    var gradientRanges: [Range<Int>] { [weights, biases] }

    /// Zeroes a replica's gradients of the prefix's parameters.
    func clearGradients(of replica: Replica) {
        for range in gradientRanges { (replica.gradientBlock.pointer + range.lowerBound).update(repeating: 0, count: range.count) }
    }

    /// Own slice of the weights (the last part: the biases too) summed over every
    /// part's gradient block, in part order, into the first part's block.
    func sumGradients(part: Int, parts: Int) {
        Self.sum(weightSources[part].pointer, parts: parts, count: split(weights.count, parts: parts, part: part).count)
        if part == parts - 1 { Self.sum(biasSources.pointer, parts: parts, count: biases.count) }
    }

    private static func sum(_ sources: UnsafePointer<UnsafePointer<Float>?>, parts: Int, count: Int) {
        guard parts > 1 else { return }
        let target = UnsafeMutablePointer(mutating: sources[0]!)
        for source in 1..<parts {
            let values = sources[source]!
            for index in 0..<count { target[index] += values[index] }
        }
    }

    /// Own slice of the weights; the last part takes the biases.
    func update(part: Int, parts: Int, rule: UpdateRule) {
        let slice = split(weights.count, parts: parts, part: part)
        rule.update(parameters + slice.lowerBound, summing: weightSources[part].pointer, weights: unitWeights.pointer,
                    parts: parts, velocity: velocities + slice.lowerBound, count: slice.count, decayed: true)
        if part == parts - 1 {
            rule.update(parameters + biases.lowerBound, summing: biasSources.pointer, weights: unitWeights.pointer,
                        parts: parts, velocity: velocities + biases.lowerBound, count: biases.count, decayed: false)
        }
    }
}

/// The contiguous share of `total` items that part `part` of `parts` takes.
func split(_ total: Int, parts: Int, part: Int) -> Range<Int> {
    let base = total / parts, extra = total % parts
    let start = part * base + min(part, extra)
    return start..<(start + base + (part < extra ? 1 : 0))
}
