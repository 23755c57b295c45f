// StochasticGradientDescent.swift: network3.py's training loop, resumable.
//
// Mini-batch SGD with the seed's exact semantics: mini-batches in data
// order, the last partial batch dropped; cost = mean NLL + 0.5 * lmbda *
// sum(w^2) / (number of training mini-batches), biases unregularised;
// plain updates param -= eta * grad; validation after each epoch and test
// accuracy whenever validation accuracy is at least the best so far.
// A run that diverges stops with an error instead of producing garbage:
// when a mini-batch's cost is not finite (checked before its step is
// applied), or when the mean cost of the last 1000 mini-batches, or of the
// epoch, is over five times that of guessing uniformly (ln of the class
// count), which no learning network reaches but a too-large eta does fast.
//
// Resuming: everything the loop carries from one mini-batch to the next
// lives in a TrainingProgress value (position, the partial epoch's cost
// sums, the best result so far).  With the parameters and the network's
// random state, that is the whole state of a run, so a run stopped after
// any mini-batch and continued from the same three things takes exactly the
// steps, and prints exactly the lines, of a run that never stopped (for the
// same thread count).  `afterEpoch` is where a caller saves a checkpoint;
// `shouldStop` is polled after every mini-batch, so an interrupt costs at
// most one step.  A divergence throws before `afterEpoch` sees the epoch,
// so the last checkpoint written stays the last good one.
//
// With a TrainingGroup every member runs this loop, each step a
// data-parallel one (Network+DataParallel.swift).  The members first check
// that they agree (parameters, random state, place in the run, settings,
// data) and check again after every epoch; a member's stop request travels
// in the step's sum, so all stop after the same mini-batch.

import CKernels
import Foundation

/// Why training could not start, or stopped early.
public enum TrainingError: Error, CustomStringConvertible, Equatable {
    /// A setting (eta, epochs, an option) is out of range.
    case badSetting(String)
    /// The data does not fit the network (image size, a label past its classes, too few samples).
    case dataMismatch(String)
    /// The run cannot start where it was asked to.
    case badStart(String)
    /// The cost stopped being finite or grew past guessing: the step that showed it, why, and the eta in use.
    case diverged(epoch: Int, miniBatch: Int, reason: String, eta: Float)
    /// The system refused something the run needs (signal handlers).
    case system(String)

    /// The error in one line, naming what is at fault.
    public var description: String {
        switch self {
        case .badSetting(let message), .dataMismatch(let message), .badStart(let message), .system(let message):
            return message
        case .diverged(let epoch, let miniBatch, let reason, let eta):
            return "training diverged at epoch \(epoch), mini-batch \(miniBatch): \(reason); try a smaller eta than \(eta)"
        }
    }
}

extension TrainingHyperparameters {
    /// Checks the values, as `train` does before its first step; a caller
    /// may call it sooner, to refuse a run before loading its data.
    /// - Throws: `TrainingError` naming the bad value.
    public func validate() throws {
        guard eta.isFinite, eta > 0 else { throw TrainingError.badSetting("eta must be a positive number, got \(eta)") }
        guard lmbda.isFinite, lmbda >= 0 else { throw TrainingError.badSetting("lmbda must be zero or positive, got \(lmbda)") }
        guard epochs >= 0 else { throw TrainingError.badSetting("epochs must be zero or more, got \(epochs)") }
        try options.validate()
    }

    /// Throws unless `images` training images fill at least one mini-batch of
    /// `miniBatchSize`, as `train` requires; a caller may check sooner, before
    /// building a network whose buffers that mini-batch would size.
    /// - Throws: `TrainingError.dataMismatch` with the counts.
    public func checkMiniBatch(_ miniBatchSize: Int, fitsTrainingImages images: Int) throws {
        // The same refusal Network.init gives, so the order of the checks does not change the message.
        guard miniBatchSize > 0 else {
            throw NetworkConfigurationError.badSetting("mini-batch size must be positive, got \(miniBatchSize)")
        }
        let samples = EpochPlan.sampleCount(imageCount: images, expand: options.expand)
        guard samples / miniBatchSize > 0 else {
            throw TrainingError.dataMismatch("\(samples) training samples do not fill one mini-batch of \(miniBatchSize)")
        }
    }
}

/// Where a run stands, apart from the parameters and the random state: all
/// the loop needs to continue a run exactly where it stopped.
public struct TrainingProgress: Equatable, Sendable {
    /// The epoch in progress, counted from 0 (after the last epoch: the epoch count).
    public var epoch = 0
    /// Mini-batches of `epoch` already trained, 0 up to the mini-batches per epoch.
    public var miniBatchesDone = 0
    /// Sum of the mini-batch costs of `epoch` so far.
    public var epochCostSum = 0.0
    /// Sum of the costs since the last multiple of 1000 mini-batches (the divergence window).
    public var windowCostSum = 0.0
    /// Wall time spent on `epoch`'s mini-batches so far, for its timing line.
    public var epochTrainingSeconds = 0.0
    /// The best validation accuracy so far (0 before the first epoch ends).
    public var bestValidationAccuracy = 0.0
    /// The iteration (mini-batches from the start, minus one) at which it was reached.
    public var bestIteration = 0
    /// The test accuracy measured at that best, if there was test data.
    public var bestTestAccuracy: Double?
    /// Epochs finished since the last new best validation accuracy.
    public var epochsSinceBest = 0
    /// How often the plateau schedule has halved eta.
    public var etaHalvings = 0
    /// True once early stopping (or the plateau schedule) has ended the run.
    public var stoppedEarly = false

    /// The start of a run.
    public init() {}
}

/// How a call to `train` ended.
public enum TrainingOutcome: Sendable {
    /// Every epoch ran; the summary is also reported as `.finished`.
    case finished(TrainingSummary)
    /// `shouldStop` asked to stop; passing this progress back to `train`,
    /// with the same parameters and random state, continues the run.
    case stopped(TrainingProgress)
}

extension Network {
    /// Trains the network by mini-batch stochastic gradient descent.
    /// - Parameters:
    ///   - trainingData: the images and labels to learn from.
    ///   - epochs: passes over the training data.
    ///   - miniBatchSize: must equal the network's `miniBatchSize` (the seed passes it twice).
    ///   - eta: the learning rate.
    ///   - validationData: measured after every epoch.
    ///   - testData: measured at every new best validation accuracy.
    ///   - lmbda: the L2 regularisation strength.
    ///   - report: receives progress events; `TrainingEvent.seedLines` prints them like the seed.
    /// - Returns: the best validation accuracy, its iteration, and the matching test accuracy.
    /// - Throws: `TrainingError` on bad arguments or when the cost stops being finite.
    @discardableResult
    public func sgd(trainingData: Dataset, epochs: Int, miniBatchSize: Int, eta: Float,
                    validationData: Dataset, testData: Dataset? = nil, lmbda: Float = 0,
                    report: (TrainingEvent) -> Void = { _ in }) throws -> TrainingSummary {
        guard miniBatchSize == self.miniBatchSize else {
            throw TrainingError.badSetting("sgd's mini-batch size \(miniBatchSize) differs from the network's \(self.miniBatchSize)")
        }
        let outcome = try train(trainingData: trainingData, validationData: validationData, testData: testData,
                                epochs: epochs, eta: eta, lmbda: lmbda, report: report)
        guard case .finished(let summary) = outcome else {
            preconditionFailure("training without a stop request cannot stop early")
        }
        return summary
    }

    /// Trains by the seed's SGD from any point of a run, stopping on request.
    ///
    /// Called with `from: TrainingProgress()` this is `sgd`.  Called with the
    /// progress a stopped run returned (or a checkpoint kept), on a network
    /// holding that run's parameters and random state, it continues the run:
    /// the remaining steps and the reported events are exactly those the run
    /// would have had without stopping.
    /// - Parameters:
    ///   - trainingData: the images and labels to learn from.
    ///   - validationData: measured after every epoch.
    ///   - testData: measured at every new best validation accuracy.
    ///   - epochs: the run's total number of epochs, those already done included.
    ///   - eta: the learning rate.
    ///   - lmbda: the L2 regularisation strength.
    ///   - options: shuffling, expansion, momentum, schedule and early stopping (all off: the seed's run).
    ///   - start: where the run stands; a fresh `TrainingProgress()` starts it.
    ///   - report: receives progress events; `TrainingEvent.seedLines` prints them like the seed.
    ///   - afterEpoch: called after each epoch's report with the progress at
    ///     the start of the next epoch; save a checkpoint here. An error it
    ///     throws stops training and is rethrown.
    ///   - shouldStop: polled after every mini-batch (and after `afterEpoch`);
    ///     returning true ends the call with `.stopped`. In a group it is polled
    ///     before each step, and every member stops after the first step any asked in.
    ///   - group: train data-parallel with the other members of this group, each
    ///     running this same call (nil: this process alone).
    /// - Returns: `.finished` with the summary, or `.stopped` with the progress to resume from.
    /// - Throws: `TrainingError` on bad arguments or a diverging run, or what `afterEpoch` throws;
    ///   in a group, `TrainingGroupError` when the members disagree or cannot communicate.
    public func train(trainingData: Dataset, validationData: Dataset, testData: Dataset? = nil,
                      epochs: Int, eta: Float, lmbda: Float = 0, options: TrainingOptions = TrainingOptions(),
                      from start: TrainingProgress = TrainingProgress(),
                      report: (TrainingEvent) -> Void = { _ in },
                      afterEpoch: (TrainingProgress, EpochReport) throws -> Void = { _, _ in },
                      shouldStop: () -> Bool = { false }, group: (any TrainingGroup)? = nil) throws -> TrainingOutcome {
        for data in [trainingData, validationData] + (testData.map { [$0] } ?? []) where data.imageSize != inputShape.count {
            throw TrainingError.dataMismatch("the \(data.name) images have \(data.imageSize) values but the network's input is \(inputShape)")
        }
        try TrainingHyperparameters(epochs: epochs, eta: eta, lmbda: lmbda, options: options).validate()
        for data in [trainingData, validationData] + (testData.map { [$0] } ?? []) {
            if let label = data.labels.first(where: { $0 < 0 || Int($0) >= classCount }) {
                throw TrainingError.dataMismatch("the \(data.name) data has label \(label), but the network's softmax layer "
                    + "has \(classCount) classes (0...\(classCount - 1))")
            }
        }
        let hyperparameters = TrainingHyperparameters(epochs: epochs, eta: eta, lmbda: lmbda, options: options)
        try hyperparameters.checkMiniBatch(miniBatchSize, fitsTrainingImages: trainingData.count)
        let batches = EpochPlan.sampleCount(imageCount: trainingData.count, expand: options.expand) / miniBatchSize
        guard start.epoch >= 0, (0...batches).contains(start.miniBatchesDone) else {
            throw TrainingError.badStart("cannot start at epoch \(start.epoch), mini-batch \(start.miniBatchesDone): "
                + "an epoch of \(trainingData.count) images has \(batches) mini-batches of \(miniBatchSize)")
        }
        guard start.epoch < epochs || (start.epoch == epochs && start.miniBatchesDone == 0) else {
            throw TrainingError.badStart("the run is already past epoch \(start.epoch), more than the \(epochs) epochs asked for")
        }

        if let group { try checkAgreement(group, progress: start, settings: hyperparameters, data: trainingData) }

        ck_flush_denormals_on_this_thread()
        // The seed's L2 term: lmbda over the number of mini-batches per epoch.
        let weightDecay = lmbda / Float(batches)
        let divergedCost = 5 * log(Double(classCount))
        momentum = options.momentum
        nesterov = options.nesterov
        var progress = start
        var history: [EpochReport] = []
        // In a group: whether any member asked to stop in the last step.
        var groupStops = false
        while progress.epoch < epochs, !progress.stoppedEarly {
            let epoch = progress.epoch
            let plan = EpochPlan(imageCount: trainingData.count, expand: options.expand,
                                 shuffleSeed: options.shuffle ? seed : nil, epoch: epoch,
                                 augmentation: options.augmentation, augmentationSeed: seed)
            let eta = options.schedule.eta(base: eta, epoch: epoch, epochs: epochs, halvings: progress.etaHalvings)
            let started = Date()
            while progress.miniBatchesDone < batches {
                let batchIndex = progress.miniBatchesDone
                let iteration = batches * epoch + batchIndex
                if iteration % 1000 == 0 {
                    if iteration > 0, progress.windowCostSum / 1000 > divergedCost {
                        throw diverged("the mean cost of the last 1000 mini-batches is \(format(progress.windowCostSum / 1000)), worse than guessing",
                                       epoch: epoch, batch: batchIndex, eta: eta)
                    }
                    progress.windowCostSum = 0
                    report(.miniBatch(iteration: iteration))
                }
                let cost: Float
                if let group {
                    (cost, groupStops) = try trainMiniBatch(trainingData, start: batchIndex * miniBatchSize, eta: eta,
                                                            weightDecay: weightDecay, plan: plan, group: group,
                                                            wantsToStop: shouldStop())
                } else {
                    cost = try trainMiniBatch(trainingData, start: batchIndex * miniBatchSize,
                                              eta: eta, weightDecay: weightDecay, plan: plan)
                }
                guard cost.isFinite else {
                    throw diverged("the cost became \(cost)", epoch: epoch, batch: batchIndex, eta: eta)
                }
                progress.epochCostSum += Double(cost)
                progress.windowCostSum += Double(cost)
                progress.miniBatchesDone += 1
                report(.miniBatchFinished(MiniBatchProgress(
                    epoch: epoch, miniBatchesDone: progress.miniBatchesDone, miniBatchesPerEpoch: batches,
                    miniBatchSize: miniBatchSize, meanCost: progress.epochCostSum / Double(progress.miniBatchesDone),
                    seconds: progress.epochTrainingSeconds + Date().timeIntervalSince(started))))
                if group == nil ? shouldStop() : groupStops {
                    progress.epochTrainingSeconds += Date().timeIntervalSince(started)
                    return .stopped(progress)
                }
            }
            let seconds = progress.epochTrainingSeconds + Date().timeIntervalSince(started)
            let meanCost = progress.epochCostSum / Double(batches)
            if meanCost > divergedCost {
                throw diverged("the epoch's mean cost is \(format(meanCost)), worse than guessing",
                               epoch: epoch, batch: batches - 1, eta: eta)
            }
            guard ck_all_finite(parameterBlock.pointer, parameterBlock.count) != 0 else {
                throw diverged("parameters stopped being finite", epoch: epoch, batch: batches - 1, eta: eta)
            }
            let penalty = 0.5 * Double(lmbda) * ck_sum_squares(parameterBlock.pointer, weightCount) / Double(batches)
            let validation = try accuracy(on: validationData)
            let isBest = validation >= progress.bestValidationAccuracy
            var test: Double?
            if isBest {
                progress.bestValidationAccuracy = validation
                progress.bestIteration = batches * (epoch + 1) - 1
                if let testData {
                    test = try accuracy(on: testData)
                    progress.bestTestAccuracy = test
                }
            }
            let epochReport = EpochReport(
                epoch: epoch, trainingCost: meanCost + penalty, validationAccuracy: validation,
                isBestSoFar: isBest, testAccuracy: test, trainingSeconds: seconds,
                imagesPerSecond: Double(batches * miniBatchSize) / max(seconds, 1e-9), eta: Double(eta))
            progress.epoch += 1
            progress.miniBatchesDone = 0
            progress.epochCostSum = 0
            progress.epochTrainingSeconds = 0
            if let group, try !group.allAgree(on: agreementKey(progress)) {
                throw TrainingGroupError(rank: group.rank, reason: "after epoch \(epoch) the processes' parameters differ, "
                    + "so their sum of gradients was not the same everywhere; the last checkpoint is the last good one")
            }
            history.append(epochReport)
            report(.epochFinished(epochReport))
            let decision = Self.afterValidation(&progress, isBest: isBest, options: options)
            if let decision { report(.note(decision)) }
            try afterEpoch(progress, epochReport)
            // A group's members agree on stopping only in a step (above).
            if progress.epoch < epochs, !progress.stoppedEarly, group == nil, shouldStop() { return .stopped(progress) }
        }
        let summary = TrainingSummary(bestValidationAccuracy: progress.bestValidationAccuracy,
                                      bestIteration: progress.bestIteration,
                                      testAccuracy: progress.bestTestAccuracy, epochs: history)
        report(.finished(summary))
        return .finished(summary)
    }

    /// Refuses a group that cannot train this network, or whose members were
    /// started on different networks, checkpoints, settings or data.
    private func checkAgreement(_ group: any TrainingGroup, progress: TrainingProgress, settings: TrainingHyperparameters,
                                data: Dataset) throws {
        if let refusal = dataParallelRefusal(members: group.size) { throw TrainingError.badSetting(refusal) }
        let fingerprint = DataFingerprint(data)
        var text = Array("\(settings.epochs) \(settings.eta) \(settings.lmbda) \(settings.options)".utf8)
        let settingsKey = UInt64(ck_crc32(0, &text, text.count))
        for (what, key) in [("networks, random states or places in the run", agreementKey(progress)),
                            ("settings", settingsKey),
                            ("training data", UInt64(fingerprint.crc32) << 32 | UInt64(UInt32(truncatingIfNeeded: fingerprint.imageCount)))] {
            guard try group.allAgree(on: key) else {
                throw TrainingGroupError(rank: group.rank, reason: "the \(group.size) processes were started with different \(what): "
                    + "start every one with the same flags, data and checkpoint")
            }
        }
    }

    /// Counts epochs without a new best and applies the plateau schedule
    /// and early stopping; returns a line saying what it decided, if anything.
    static func afterValidation(_ progress: inout TrainingProgress, isBest: Bool, options: TrainingOptions) -> String? {
        progress.epochsSinceBest = isBest ? 0 : progress.epochsSinceBest + 1
        if case .halveOnPlateau(let patience, let maxHalvings) = options.schedule, progress.epochsSinceBest >= patience {
            if progress.etaHalvings >= maxHalvings {
                progress.stoppedEarly = true
                return "No new best validation accuracy in \(patience) epochs after \(maxHalvings) halvings of eta: stopping."
            }
            progress.etaHalvings += 1
            progress.epochsSinceBest = 0
            return "No new best validation accuracy in \(patience) epochs: halving eta (\(progress.etaHalvings) of \(maxHalvings))."
        }
        if options.earlyStoppingPatience > 0, progress.epochsSinceBest >= options.earlyStoppingPatience {
            progress.stoppedEarly = true
            return "No new best validation accuracy in \(options.earlyStoppingPatience) epochs: stopping early."
        }
        return nil
    }

    private func diverged(_ what: String, epoch: Int, batch: Int, eta: Float) -> TrainingError {
        TrainingError.diverged(epoch: epoch, miniBatch: batch, reason: what, eta: eta)
    }

    private func format(_ value: Double) -> String { String(format: "%.3g", value) }
}
