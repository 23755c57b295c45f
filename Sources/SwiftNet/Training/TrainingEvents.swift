// TrainingEvents.swift: what training reports, and the seed's words for it.
//
// sgd() does not print; it hands each event to a callback.  `seedLines`
// renders an event exactly as network3.py printed it (plus one timing line
// per epoch), which is what `cnn train` shows.  `isTimingLine` tells the one
// line that differs between two runs of the same training, so that a
// resumed run can be compared with an uninterrupted one line for line.

import Foundation

/// One epoch's results.
public struct EpochReport: Sendable {
    /// Zero-based, as the seed counts.
    public let epoch: Int
    /// Mean training cost over the epoch's mini-batches (NLL with dropout, plus the L2 term).
    public let trainingCost: Double
    /// The fraction of the validation images classified correctly after the epoch, 0...1.
    public let validationAccuracy: Double
    /// True when validation accuracy is at least the best so far.
    public let isBestSoFar: Bool
    /// Test accuracy, measured only at a new best (as the seed does).
    public let testAccuracy: Double?
    /// Wall time of the epoch's training steps, excluding evaluation.
    public let trainingSeconds: Double
    /// Training images per second over the epoch's training steps.
    public let imagesPerSecond: Double
    /// The epoch's learning rate (it changes under a schedule); nil if not recorded.
    public var eta: Double? = nil

    /// An epoch's results, for code that reports or replays runs.
    public init(epoch: Int, trainingCost: Double, validationAccuracy: Double, isBestSoFar: Bool, testAccuracy: Double?,
                trainingSeconds: Double, imagesPerSecond: Double, eta: Double? = nil) {
        self.epoch = epoch
        self.trainingCost = trainingCost
        self.validationAccuracy = validationAccuracy
        self.isBestSoFar = isBestSoFar
        self.testAccuracy = testAccuracy
        self.trainingSeconds = trainingSeconds
        self.imagesPerSecond = imagesPerSecond
        self.eta = eta
    }
}

/// The outcome of a whole run.
public struct TrainingSummary: Sendable {
    /// The best validation accuracy of the run, a fraction 0...1.
    public let bestValidationAccuracy: Double
    /// The iteration (mini-batch count from 0) at which the best was reached.
    public let bestIteration: Int
    /// Test accuracy at the best validation accuracy, if test data was given.
    public let testAccuracy: Double?
    /// The epochs this call trained; a resumed run lists only those after its checkpoint.
    public let epochs: [EpochReport]

    /// A summary with these figures (for tests and for replaying a run).
    public init(bestValidationAccuracy: Double, bestIteration: Int, testAccuracy: Double?, epochs: [EpochReport]) {
        self.bestValidationAccuracy = bestValidationAccuracy
        self.bestIteration = bestIteration
        self.testAccuracy = testAccuracy
        self.epochs = epochs
    }
}

/// Where an epoch stands after one of its mini-batches, for progress displays.
public struct MiniBatchProgress: Sendable {
    /// Zero-based, as the seed counts.
    public let epoch: Int
    /// Mini-batches of this epoch done so far, 1 up to `miniBatchesPerEpoch`.
    public let miniBatchesDone: Int
    /// Mini-batches in a whole epoch.
    public let miniBatchesPerEpoch: Int
    /// Images per mini-batch.
    public let miniBatchSize: Int
    /// Mean cost of this epoch's mini-batches so far (NLL with dropout, without the L2 term).
    public let meanCost: Double
    /// Wall time of this epoch's training steps so far.
    public let seconds: Double

    /// Progress with these figures (for tests and for replaying a run).
    public init(epoch: Int, miniBatchesDone: Int, miniBatchesPerEpoch: Int, miniBatchSize: Int, meanCost: Double, seconds: Double) {
        self.epoch = epoch
        self.miniBatchesDone = miniBatchesDone
        self.miniBatchesPerEpoch = miniBatchesPerEpoch
        self.miniBatchSize = miniBatchSize
        self.meanCost = meanCost
        self.seconds = seconds
    }
}

/// What sgd() reports while it trains.
public enum TrainingEvent: Sendable {
    /// Every 1000 mini-batches, before training on that one.
    case miniBatch(iteration: Int)
    /// After every mini-batch; prints nothing in the seed's lines.
    case miniBatchFinished(MiniBatchProgress)
    /// An epoch ended and was evaluated (and saved, under a `Trainer` with a checkpoint path).
    case epochFinished(EpochReport)
    /// A decision of the schedule or of early stopping, in words.
    case note(String)
    /// Something the run found wrong with its files and put right before it started
    /// (a cut line dropped from its metrics log), in words; not one of the seed's lines.
    case warning(String)
    /// The run ended: all epochs done, or stopped early by its schedule.
    case finished(TrainingSummary)

    /// The lines network3.py printed for this event, word for word, plus a
    /// timing line after each epoch.
    public var seedLines: [String] {
        switch self {
        case .miniBatch(let iteration):
            return ["Training mini-batch number \(iteration)"]
        case .miniBatchFinished, .warning:
            return []
        case .note(let text):
            return [text]
        case .epochFinished(let report):
            var lines = ["Epoch \(report.epoch): validation accuracy \(percent(report.validationAccuracy))"]
            if report.isBestSoFar {
                lines.append("This is the best validation accuracy to date.")
                if let test = report.testAccuracy {
                    lines.append("The corresponding test accuracy is \(percent(test))")
                }
            }
            lines.append(String(format: "Epoch %d took %.2f s (%.0f images/s, training cost %.4f)",
                                report.epoch, report.trainingSeconds, report.imagesPerSecond, report.trainingCost))
            return lines
        case .finished(let summary):
            var lines = ["Finished training network.",
                         "Best validation accuracy of \(percent(summary.bestValidationAccuracy)) obtained at iteration \(summary.bestIteration)"]
            if let test = summary.testAccuracy {
                lines.append("Corresponding test accuracy of \(percent(test))")
            }
            return lines
        }
    }
}

extension TrainingEvent {
    /// True for the per-epoch timing line, the only line of `seedLines`
    /// that is not the same in two runs of the same seed.
    /// - Parameters:
    ///   - line: one line of `seedLines`.
    public static func isTimingLine(_ line: String) -> Bool {
        line.hasPrefix("Epoch ") && line.contains(" took ")
    }
}

/// Python's "{:.2%}".
func percent(_ fraction: Double) -> String {
    String(format: "%.2f%%", fraction * 100)
}
