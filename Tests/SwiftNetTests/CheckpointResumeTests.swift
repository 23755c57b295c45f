// CheckpointResumeTests.swift: a stopped and resumed run is the run that never stopped.
//
// Each test trains once without interruption and again with stops at chosen
// points: in the middle of an epoch, right after an epoch's last mini-batch
// (before its evaluation), at an epoch boundary, and just before the
// 1000-mini-batch report.  At every stop the state goes through a
// checkpoint's bytes into a freshly built network.  The resumed runs must
// end with bit-identical parameters and random state, print the same lines
// (all but the timing line), and produce a byte-identical final checkpoint.
// A run that diverges must leave the last checkpoint as it was.

import Foundation
@testable import SwiftNet
import XCTest

final class CheckpointResumeTests: CheckpointTestCase {
    private let hyperparameters = TrainingHyperparameters(epochs: 3, eta: 0.5, lmbda: 0.2, seed: 11)

    /// The outcome of a whole run, however many pieces it took.
    private struct Run {
        var lines: [String] = []
        var finalCheckpoint: [UInt8] = []
        var stops: [TrainingProgress] = []
    }

    /// Trains the tiny network for `hyperparameters.epochs`, stopping when
    /// shouldStop has been polled `stopCalls` times (counted over the whole
    /// run) and resuming each time from a checkpoint's bytes.
    private func train(data: Dataset, batch: Int, threads: Int, stopCalls: Set<Int> = [],
                       settings: TrainingHyperparameters? = nil) throws -> Run {
        let hyperparameters = settings ?? self.hyperparameters
        var run = Run()
        var network = try TinyNetwork.network(batch: batch, threads: threads, seed: hyperparameters.seed)
        var progress = TrainingProgress()
        var calls = 0
        let validation = TinyNetwork.data(count: 30, seed: 8, name: "validation")
        let test = TinyNetwork.data(count: 20, seed: 9, name: "test")
        while true {
            let outcome = try network.train(
                trainingData: data, validationData: validation, testData: test,
                epochs: hyperparameters.epochs, eta: hyperparameters.eta, lmbda: hyperparameters.lmbda,
                options: hyperparameters.options, from: progress,
                report: { run.lines += $0.seedLines.filter { !TrainingEvent.isTimingLine($0) } },
                afterEpoch: { [network] progress, _ in
                    run.finalCheckpoint = try Checkpoint(network: network, hyperparameters: hyperparameters,
                                                         progress: progress, trainingData: DataFingerprint(data)).encoded()
                },
                shouldStop: { calls += 1; return stopCalls.contains(calls) })
            guard case .stopped(let stop) = outcome else { return run }
            run.stops.append(stop)
            let saved = try Checkpoint(network: network, hyperparameters: hyperparameters, progress: stop,
                                       trainingData: DataFingerprint(data)).encoded()
            let checkpoint = try Checkpoint(decoding: saved, source: "resume")
            XCTAssertEqual(checkpoint.hyperparameters, hyperparameters, "the options come back from the checkpoint")
            network = try checkpoint.makeNetwork()
            XCTAssertEqual(network.threads, threads)
            progress = checkpoint.progress
        }
    }

    func testResumingAtEveryKindOfPointEqualsTheUninterruptedRun() throws {
        // 47 images in mini-batches of 5: 9 per epoch, the last 2 images dropped.
        let data = TinyNetwork.data(count: 47, seed: 4)
        for threads in [1, 2] {
            let uninterrupted = try train(data: data, batch: 5, threads: threads)
            XCTAssertEqual(uninterrupted.lines.filter { $0.hasPrefix("Epoch ") }.count, 3)
            // Polls 1-9 follow epoch 0's mini-batches, poll 10 its save, and so on.
            for stopCalls: Set<Int> in [[3], [9], [10], [15, 16, 25], [29]] {
                let resumed = try train(data: data, batch: 5, threads: threads, stopCalls: stopCalls)
                let context = "\(threads) threads, stops at polls \(stopCalls.sorted())"
                XCTAssertEqual(resumed.stops.count, stopCalls.count, context)
                XCTAssertEqual(resumed.lines, uninterrupted.lines, context)
                XCTAssertFalse(uninterrupted.finalCheckpoint.isEmpty)
                XCTAssertTrue(resumed.finalCheckpoint == uninterrupted.finalCheckpoint,
                              "\(context): the final checkpoints differ")
            }
        }
        // The stop points are the ones the comments promise.
        let points = try train(data: data, batch: 5, threads: 1, stopCalls: [3, 9, 10, 15]).stops
        XCTAssertEqual(points.map { [$0.epoch, $0.miniBatchesDone] }, [[0, 3], [0, 9], [1, 0], [1, 5]])
    }

    func testARunWithEveryOptionResumesExactly() throws {
        // Shuffled, expanded (5 x 23 samples = 23 mini-batches of 5), Nesterov
        // momentum (so the velocities must travel in the checkpoint) and the
        // plateau schedule with patience 1 (so eta halves, and the run may stop early).
        var options = TrainingOptions()
        options.shuffle = true
        options.expand = true
        options.momentum = 0.5
        options.nesterov = true
        options.schedule = .halveOnPlateau(patience: 1, maxHalvings: 2)
        let settings = TrainingHyperparameters(epochs: 5, eta: 0.5, lmbda: 0.1, seed: 5, options: options)
        let data = TinyNetwork.data(count: 23, seed: 12)
        for threads in [1, 2] {
            let uninterrupted = try train(data: data, batch: 5, threads: threads, settings: settings)
            XCTAssertFalse(uninterrupted.finalCheckpoint.isEmpty)
            XCTAssertTrue(uninterrupted.lines.contains { $0.contains("halving eta") }, "the schedule acted: \(uninterrupted.lines)")
            for stopCalls: Set<Int> in [[4], [23], [24], [30, 41, 60]] {
                let resumed = try train(data: data, batch: 5, threads: threads, stopCalls: stopCalls, settings: settings)
                let context = "\(threads) threads, stops at polls \(stopCalls.sorted())"
                XCTAssertFalse(resumed.stops.isEmpty, context)
                XCTAssertEqual(resumed.lines, uninterrupted.lines, context)
                XCTAssertTrue(resumed.finalCheckpoint == uninterrupted.finalCheckpoint, "\(context): the final checkpoints differ")
            }
        }
        // Without shuffling the same run trains differently: the option is honoured, not ignored.
        var unshuffled = settings
        unshuffled.options.shuffle = false
        XCTAssertNotEqual(try train(data: data, batch: 5, threads: 1, settings: unshuffled).finalCheckpoint,
                          try train(data: data, batch: 5, threads: 1, settings: settings).finalCheckpoint)
    }

    func testResumingAcrossTheThousandthMiniBatchKeepsItsReportAndDivergenceWindow() throws {
        // Mini-batches of 1 over 520 images: iteration 1000 falls in epoch 1.
        let data = TinyNetwork.data(count: 520, seed: 6)
        let uninterrupted = try train(data: data, batch: 1, threads: 1)
        XCTAssertTrue(uninterrupted.lines.contains("Training mini-batch number 1000"))
        // Poll 1001 follows mini-batch 999 (iteration 999 plus epoch 0's save poll):
        // the report of iteration 1000 is still to come.  Poll 1002 follows iteration 1000.
        for stop in [1001, 1002, 700] {
            let resumed = try train(data: data, batch: 1, threads: 1, stopCalls: [stop])
            XCTAssertEqual(resumed.lines, uninterrupted.lines, "stop at poll \(stop)")
            XCTAssertTrue(resumed.finalCheckpoint == uninterrupted.finalCheckpoint, "stop at poll \(stop)")
        }
    }

    func testADivergingRunLeavesTheLastCheckpointUntouched() throws {
        let data = TinyNetwork.data(count: 40, seed: 2)
        let network = try TinyNetwork.network()
        let file = path("run.ckpt")
        func save(_ progress: TrainingProgress, _: EpochReport) throws {
            try Checkpoint(network: network, hyperparameters: hyperparameters, progress: progress).write(to: file)
        }
        _ = try network.train(trainingData: data, validationData: data, epochs: 1, eta: 0.5, afterEpoch: save)
        let good = try contents(of: file)
        XCTAssertThrowsError(try network.train(trainingData: data, validationData: data, epochs: 3, eta: 1e30,
                                               from: try Checkpoint.load(contentsOf: file).progress, afterEpoch: save)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.hasPrefix("training diverged at epoch 1, mini-batch "), message)
            XCTAssertTrue(message.contains("try a smaller eta than 1e+30"), message)
        }
        XCTAssertEqual(try contents(of: file), good, "the last good checkpoint is untouched")
        XCTAssertEqual(try Checkpoint.load(contentsOf: file).progress.epoch, 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: AtomicFile.temporaryPath(for: file)))
    }

    func testAStartOutsideTheRunIsRefused() throws {
        let data = TinyNetwork.data(count: 20, seed: 1)
        let network = try TinyNetwork.network()
        var progress = TrainingProgress()
        progress.miniBatchesDone = 5
        XCTAssertThrowsError(try network.train(trainingData: data, validationData: data, epochs: 2, eta: 0.1, from: progress)) {
            XCTAssertTrue("\($0)".contains("an epoch of 20 images has 4 mini-batches of 5"), "\($0)")
        }
        progress = TrainingProgress()
        progress.epoch = 3
        XCTAssertThrowsError(try network.train(trainingData: data, validationData: data, epochs: 2, eta: 0.1, from: progress)) {
            XCTAssertTrue("\($0)".contains("already past epoch 3"), "\($0)")
        }
    }

    func testStopSignalsOnlySetAFlag() throws {
        defer { StopSignals.uninstall() }
        for number in [SIGINT, SIGTERM] {
            try StopSignals.install()
            XCTAssertNil(StopSignals.received)
            raise(number)
            XCTAssertEqual(StopSignals.received, number, "the process is still alive and noted signal \(number)")
            StopSignals.uninstall()
            XCTAssertNil(StopSignals.received)
        }
    }
}
