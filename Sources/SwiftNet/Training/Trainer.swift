// Trainer.swift: a training run that keeps itself safe.
//
// `Network.train` is the loop; a Trainer is the run around it that a user
// would otherwise wire up by hand: after every epoch it writes the run's
// checkpoint atomically, the best model so far beside it (m.ckpt ->
// m.best.ckpt) and a line of the metrics log; it polls a stop request (a
// closure, and Swift task cancellation) after every mini-batch and, when
// asked to stop, saves where the run stands; and it resumes such a run
// exactly where it stopped.  Events arrive through the `report` callback and
// through `events`, an AsyncStream.  `cnn train` is this type plus flags
// and printing.
//
// Before its first step a run makes its files safe to write: it refuses a
// checkpoint, best model and metrics log of which two are one file, holds
// a lock beside the checkpoint (RunLock) for as long as it runs, so that a
// second run on the same path is refused instead of mixing its files with
// this one's, removes temporary files that killed runs left, and drops a
// fragment of a line that a crash left at the end of the metrics log.
//
// A Trainer given a TrainingGroup trains data-parallel with the group's
// other members, each running its own Trainer on the same arguments; only
// the leader (rank 0) locks, writes and cleans the run's files.

import Foundation

/// A training run: a network, its data and settings, and where it is saved.
///
/// ```swift
/// let data = try MNIST.load(contentsOf: "data/mnist.pkl.gz")
/// let network = try Network(layers: layers, miniBatchSize: 10)
/// let trainer = Trainer(network: network, data: data,
///                       settings: TrainingHyperparameters(epochs: 30, eta: 0.1), checkpointPath: "m.ckpt")
/// let outcome = try trainer.run { event in event.seedLines.forEach { print($0) } }
/// // Later, or after a crash: continue from the last epoch saved.
/// let again = try Trainer(resuming: "m.ckpt", data: data)
/// ```
public final class Trainer {
    /// The network being trained; read it (predict, save) between runs, not during one.
    public let network: Network
    /// The training, validation and test sets.
    public let data: DataSplits
    /// The run's settings; `epochs` may grow before `run` to extend it.
    public var settings: TrainingHyperparameters
    /// Where the run stands (a fresh value before the first epoch).
    public private(set) var progress: TrainingProgress
    /// The checkpoint written after every epoch and on a stop; nil saves nothing.
    public let checkpointPath: String?
    /// The metrics log appended after every epoch; nil writes none.
    public let metricsPath: String?
    /// For a resumed run, the thread count the run was saved on (0 if none
    /// fixed it); only the same count continues it bit for bit.
    public let savedThreads: Int?
    /// Every event of `run`, as an asynchronous sequence; it finishes when `run` returns.
    public let events: AsyncStream<TrainingEvent>
    /// The members this run trains with, or nil for this process alone.
    public let group: (any TrainingGroup)?
    private let continuation: AsyncStream<TrainingEvent>.Continuation
    private let fingerprint: DataFingerprint

    /// How a call to `run` ended.
    public enum Outcome: Sendable {
        /// Every epoch ran (or early stopping ended the run).
        case finished(TrainingSummary)
        /// A stop was asked for; the run's state is saved to `savedTo` when it has a checkpoint path.
        case stopped(TrainingProgress, savedTo: String?)
    }

    /// A new run.
    /// - Parameters:
    ///   - network: the network to train.
    ///   - data: training, validation and test data.
    ///   - settings: epochs, eta, lmbda, seed and options.
    ///   - checkpointPath: where to save after every epoch (and the best model beside it); nil saves nothing.
    ///   - metricsPath: the metrics log; nil means beside the checkpoint (m.ckpt -> m.jsonl), or none without one.
    ///   - group: the members to train with data-parallel, each running the same run; nil trains alone.
    public convenience init(network: Network, data: DataSplits, settings: TrainingHyperparameters,
                            checkpointPath: String? = nil, metricsPath: String? = nil, group: (any TrainingGroup)? = nil) {
        self.init(network: network, data: data, settings: settings, progress: TrainingProgress(),
                  checkpointPath: checkpointPath, metricsPath: metricsPath, savedThreads: nil, group: group)
    }

    /// Continues the run saved in `path`, saving to `checkpointPath` (default: `path` again).
    /// - Parameters:
    ///   - path: a checkpoint a Trainer (or `cnn train --save`) wrote.
    ///   - data: the run's data; its training set must be the one the run trained on.
    ///   - threads: threads for the network; nil means the run's own count.
    ///   - checkpointPath: where to keep saving; nil means `path`.
    ///   - metricsPath: the metrics log; nil means beside the checkpoint.
    ///   - group: the members to continue with data-parallel (any number, whatever the run was saved by).
    /// - Throws: `FileError` or `CheckpointError` if the file cannot be used, and
    ///   `CheckpointError` with kind `.unusable` if the data is not the run's.
    public convenience init(resuming path: String, data: DataSplits, threads: Int? = nil, checkpointPath: String? = nil,
                            metricsPath: String? = nil, group: (any TrainingGroup)? = nil) throws {
        let checkpoint = try Checkpoint.load(contentsOf: path)
        guard !checkpoint.isModel else {
            throw CheckpointError(path: path, reason: "it holds a model without a training run to resume", kind: .unusable)
        }
        let fingerprint = DataFingerprint(data.training)
        if let saved = checkpoint.trainingData, saved != fingerprint {
            throw CheckpointError(path: path, reason: "its run trained on \(saved.imageCount) other images "
                + "(CRC-32 \(saved.crc32)), not on these \(fingerprint.imageCount) training images (CRC-32 \(fingerprint.crc32))",
                kind: .unusable)
        }
        self.init(network: try checkpoint.makeNetwork(threads: threads), data: data, settings: checkpoint.hyperparameters,
                  progress: checkpoint.progress, checkpointPath: checkpointPath ?? path, metricsPath: metricsPath,
                  savedThreads: checkpoint.threads, group: group)
    }

    private init(network: Network, data: DataSplits, settings: TrainingHyperparameters, progress: TrainingProgress,
                 checkpointPath: String?, metricsPath: String?, savedThreads: Int?, group: (any TrainingGroup)?) {
        self.group = group
        self.network = network
        self.data = data
        self.settings = settings
        self.progress = progress
        self.checkpointPath = checkpointPath
        self.metricsPath = metricsPath ?? checkpointPath.map(MetricsLog.path(besideCheckpoint:))
        self.savedThreads = savedThreads
        fingerprint = DataFingerprint(data.training)
        (events, continuation) = AsyncStream.makeStream(of: TrainingEvent.self)
        // The data names the classes the network learns, so its checkpoints can name them too;
        // names that do not fit the network (another class count) are left out.
        // MNIST's names are only its digits: a model of them stays a digit model, its files version 2.
        if network.classNames == nil, let names = data.training.meaningfulClassNames { try? network.setClassNames(names) }
    }

    /// The run's state now, as a checkpoint.
    public func checkpoint() throws -> Checkpoint {
        try Checkpoint(network: network, hyperparameters: settings, progress: progress, trainingData: fingerprint)
    }

    /// Trains to the last epoch, saving after each, or until a stop is asked for.
    /// - Parameters:
    ///   - report: receives every event (also sent to `events`).
    ///   - shouldStop: polled after every mini-batch, with Swift task cancellation; true stops and saves.
    /// - Returns: `.finished` with the summary, or `.stopped` with where the run stands.
    /// - Throws: `TrainingError` for bad settings or a diverging run (the last checkpoint
    ///   saved stays the last good one), `NetworkInputError` for data that does not fit,
    ///   `FileError.sameFile` if two of the run's files are one, `FileError.inUse` if
    ///   another process is running on the checkpoint path, `FileError` or
    ///   `CheckpointError` if a save fails, and `CheckpointError` (kind `.unusable`)
    ///   before the first step if the run's checkpoints would break a limit of the
    ///   format, so that they would not load again.
    public func run(report: (TrainingEvent) -> Void = { _ in }, shouldStop: () -> Bool = { false }) throws -> Outcome {
        defer { continuation.finish() }
        guard progress.epoch <= settings.epochs else {
            throw TrainingError.badStart("the run has finished \(progress.epoch) epochs; \(settings.epochs) asks for fewer")
        }
        func send(_ event: TrainingEvent) {
            report(event)
            continuation.yield(event)
        }
        // Only a group's leader writes; the other members train and report.
        let checkpointPath = group?.isLeader ?? true ? self.checkpointPath : nil
        // The run's checkpoints must load again; a limit of the format is better met now than after an epoch.
        if let checkpointPath { try checkpoint().checkLoadable(at: checkpointPath) }
        let (locks, metricsLog) = group?.isLeader ?? true ? try prepareFiles(report: send) : ([], nil)
        defer { withExtendedLifetime(locks) {} }
        let outcome = try network.train(
            trainingData: data.training, validationData: data.validation, testData: data.test,
            epochs: settings.epochs, eta: settings.eta, lmbda: settings.lmbda, options: settings.options, from: progress,
            report: send,
            afterEpoch: { progress, epoch in
                self.progress = progress
                if let checkpointPath {
                    let state = try checkpoint()
                    // The best model first: if the process dies between the two
                    // writes, the older latest state repeats this epoch and
                    // writes the same best model again.
                    if epoch.isBestSoFar { try state.write(to: Checkpoint.bestModelPath(for: checkpointPath)) }
                    try state.write(to: checkpointPath)
                }
                try metricsLog?.append(epoch)
            },
            shouldStop: { shouldStop() || Task.isCancelled }, group: group)
        switch outcome {
        case .finished(let summary):
            return .finished(summary)
        case .stopped(let stop):
            progress = stop
            if let checkpointPath { try checkpoint().write(to: checkpointPath) }
            return .stopped(stop, savedTo: checkpointPath)
        }
    }

    /// The run's files, each checked apart from the others, locked, cleaned and
    /// opened (see the file comment); the locks are held while the values live.
    private func prepareFiles(report: (TrainingEvent) -> Void) throws -> ([RunLock], MetricsLog?) {
        let files = [("the checkpoint", checkpointPath), ("the best model", checkpointPath.map(Checkpoint.bestModelPath(for:))),
                     ("the metrics log", metricsPath)].compactMap { role, path in path.map { (role, $0) } }
        for (index, (role, path)) in files.enumerated() {
            if let (otherRole, _) = files[..<index].first(where: { FileIdentity.same($0.1, path) }) {
                throw FileError.sameFile(path: path, role: otherRole, otherRole: role)
            }
        }
        // A log of its own is locked too, or two runs with two checkpoints could share it.
        var guarded = checkpointPath.map { [$0] } ?? []
        if let metricsPath, checkpointPath.map(MetricsLog.path(besideCheckpoint:)) != metricsPath { guarded.append(metricsPath) }
        let locks = try guarded.map(RunLock.init(guarding:))
        if let checkpointPath {
            AtomicFile.removeStaleTemporaries(of: checkpointPath)
            AtomicFile.removeStaleTemporaries(of: Checkpoint.bestModelPath(for: checkpointPath))
        }
        guard let metricsPath else { return (locks, nil) }
        if let fragment = try MetricsLog.repairTail(ofLogAt: metricsPath) {
            report(.warning("\(metricsPath): \(fragment)"))
        }
        return (locks, try MetricsLog(path: metricsPath))
    }
}
