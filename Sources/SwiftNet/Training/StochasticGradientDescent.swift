// StochasticGradientDescent.swift: network3.py's training loop.
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

import CKernels
import Foundation

/// Why training stopped early.
public struct TrainingError: Error, CustomStringConvertible {
    public let description: String
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
            throw TrainingError(description: "sgd's mini-batch size \(miniBatchSize) differs from the network's \(self.miniBatchSize)")
        }
        for data in [trainingData, validationData] + (testData.map { [$0] } ?? []) where data.imageSize != inputShape.count {
            throw TrainingError(description: "the \(data.name) images have \(data.imageSize) values but the network's input is \(inputShape)")
        }
        let batches = trainingData.count / miniBatchSize
        guard batches > 0 else {
            throw TrainingError(description: "\(trainingData.count) training images do not fill one mini-batch of \(miniBatchSize)")
        }
        guard eta.isFinite, eta > 0 else { throw TrainingError(description: "eta must be a positive number, got \(eta)") }
        guard lmbda.isFinite, lmbda >= 0 else { throw TrainingError(description: "lmbda must be zero or positive, got \(lmbda)") }

        ck_flush_denormals_on_this_thread()
        let weightDecay = lmbda / Float(batches)
        let divergedCost = 5 * log(Double(classCount))
        var windowCost = 0.0
        var best = (accuracy: 0.0, iteration: 0, test: Double?.none)
        var history: [EpochReport] = []
        for epoch in 0..<epochs {
            let started = Date()
            var costSum = 0.0
            for batchIndex in 0..<batches {
                let iteration = batches * epoch + batchIndex
                if iteration % 1000 == 0 {
                    if iteration > 0, windowCost / 1000 > divergedCost {
                        throw diverged("the mean cost of the last 1000 mini-batches is \(format(windowCost / 1000)), worse than guessing",
                                       epoch: epoch, batch: batchIndex, eta: eta)
                    }
                    windowCost = 0
                    report(.miniBatch(iteration: iteration))
                }
                let cost = trainMiniBatch(trainingData, start: batchIndex * miniBatchSize,
                                          eta: eta, weightDecay: weightDecay)
                guard cost.isFinite else {
                    throw diverged("the cost became \(cost)", epoch: epoch, batch: batchIndex, eta: eta)
                }
                costSum += Double(cost)
                windowCost += Double(cost)
            }
            let seconds = Date().timeIntervalSince(started)
            if costSum / Double(batches) > divergedCost {
                throw diverged("the epoch's mean cost is \(format(costSum / Double(batches))), worse than guessing",
                               epoch: epoch, batch: batches - 1, eta: eta)
            }
            guard ck_all_finite(parameterBlock.pointer, parameterBlock.count) != 0 else {
                throw diverged("parameters stopped being finite", epoch: epoch, batch: batches - 1, eta: eta)
            }
            let penalty = 0.5 * Double(lmbda) * ck_sum_squares(parameterBlock.pointer, weightCount) / Double(batches)
            let validation = accuracy(on: validationData)
            let isBest = validation >= best.accuracy
            var test: Double?
            if isBest {
                best.accuracy = validation
                best.iteration = batches * (epoch + 1) - 1
                if let testData {
                    test = accuracy(on: testData)
                    best.test = test
                }
            }
            let epochReport = EpochReport(
                epoch: epoch, trainingCost: costSum / Double(batches) + penalty, validationAccuracy: validation,
                isBestSoFar: isBest, testAccuracy: test, trainingSeconds: seconds,
                imagesPerSecond: Double(batches * miniBatchSize) / max(seconds, 1e-9))
            history.append(epochReport)
            report(.epochFinished(epochReport))
        }
        let summary = TrainingSummary(bestValidationAccuracy: best.accuracy, bestIteration: best.iteration,
                                      testAccuracy: best.test, epochs: history)
        report(.finished(summary))
        return summary
    }

    private func diverged(_ what: String, epoch: Int, batch: Int, eta: Float) -> TrainingError {
        TrainingError(description: "training diverged at epoch \(epoch), mini-batch \(batch): \(what); try a smaller eta than \(eta)")
    }

    private func format(_ value: Double) -> String { String(format: "%.3g", value) }

}
