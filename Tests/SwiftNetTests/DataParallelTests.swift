// DataParallelTests.swift: training shared by a TrainingGroup, checked in one process.
//
// A ThreadGroup's members are threads, so these run in the default build,
// without MPI (the mpirun tests are in MPITrainingTests.swift).  They check
// what data-parallel training promises: N members train the model one
// process trains, up to float rounding, whatever N (shares may be uneven)
// and whatever threads each member has, because dropout masks and
// augmentation are keyed by the sample's place in the global mini-batch;
// batch norm normalizes with the global mini-batch's statistics; the same
// N repeats bit for bit; every member stops after the same step; and a
// group that cannot share the mini-batch, or whose members disagree, is refused.

import Foundation
@testable import SwiftNet
import XCTest

final class DataParallelTests: XCTestCase {
    /// conv 8 3x3 on 1x12x12 -> pool 2 -> 8x5x5; fc 200 -> 100 with dropout (a layer large
    /// enough to be split across threads); softmax 100 -> 3 with dropout.
    private static func layers(batch: Int) -> [any Layer] {
        [
            ConvPoolLayer(filterShape: (8, 1, 3, 3), imageShape: (batch, 1, 12, 12), poolSize: (2, 2), activation: .relu),
            FullyConnectedLayer(nIn: 200, nOut: 100, activation: .sigmoid, pDropout: 0.3),
            SoftmaxLayer(nIn: 100, nOut: 3, pDropout: 0.1),
        ]
    }

    private static let training = TinyNetwork.data(count: 200, seed: 1, name: "training", side: 12)
    private static let validation = TinyNetwork.data(count: 40, seed: 2, name: "validation", side: 12)

    /// conv 6 3x3 linear -> batch norm relu -> pool 2 -> fc 40 linear -> batch norm relu -> softmax 3:
    /// batch norm in the spatial prefix and in the dense suffix.
    private static func batchNormLayers(batch: Int) -> [any Layer] {
        [
            ConvLayer(filterShape: (6, 1, 3, 3), inputShape: SampleShape(channels: 1, height: 12, width: 12), activation: .linear),
            BatchNormLayer(inputShape: SampleShape(channels: 6, height: 10, width: 10), activation: .relu),
            MaxPoolLayer(inputShape: SampleShape(channels: 6, height: 10, width: 10)),
            FullyConnectedLayer(nIn: 150, nOut: 40, activation: .linear, pDropout: 0.2),
            BatchNormLayer(inputShape: .flat(40), activation: .relu),
            SoftmaxLayer(nIn: 40, nOut: 3),
        ]
    }

    private struct Run {
        var parameters: [Float]
        var state: [Float]
        var outcome: TrainingOutcome
        var costs: [Double]
    }

    /// Trains a fresh network (seed 3) for `epochs`, alone (`members` nil) or as every member
    /// of a ThreadGroup; returns each member's run, or the first error a member threw.
    private func train(members: Int?, threads: Int = 1, miniBatch: Int = 10, epochs: Int = 2,
                       options: TrainingOptions = TrainingOptions(), momentum: Float = 0,
                       seed: @escaping @Sendable (Int) -> UInt64 = { _ in 3 }, stopAt: (rank: Int, step: Int)? = nil,
                       layers: @escaping @Sendable (Int) -> [any Layer] = DataParallelTests.layers) throws -> [Run] {
        let groups: [ThreadGroup?] = members.map { ThreadGroup.members($0) } ?? [nil]
        var options = options
        options.momentum = momentum
        let results = onEveryMember(groups.count) { [options] rank -> Run in
            let network = try Network(layers: layers(miniBatch), miniBatchSize: miniBatch, threads: threads,
                                      seed: seed(rank))
            var costs: [Double] = []
            var steps = 0
            let outcome = try network.train(
                trainingData: Self.training, validationData: Self.validation, epochs: epochs, eta: 0.5, lmbda: 0.1,
                options: options,
                report: { event in if case .epochFinished(let epoch) = event { costs.append(epoch.trainingCost) } },
                shouldStop: {
                    steps += 1
                    return stopAt.map { $0.rank == rank && steps > $0.step } ?? false
                },
                group: groups[rank])
            return Run(parameters: network.parameterValues, state: Array(network.stateBlock.buffer), outcome: outcome, costs: costs)
        }
        return try results.map { try $0.get() }
    }

    private func assertClose(_ group: [Float], _ alone: [Float], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(group.count, alone.count, file: file, line: line)
        let scale = alone.map(abs).max() ?? 1
        let worst = zip(group, alone).map { abs($0 - $1) }.max() ?? 0
        // 40 steps of float rounding in another summation order; a wrong mask or share is off by far more.
        XCTAssertLessThan(worst, 1e-4 * scale, "\(what): parameters differ by \(worst) (largest \(scale))", file: file, line: line)
        XCTAssertNotEqual(group, Array(repeating: 0, count: group.count), file: file, line: line)
    }

    func testGroupsTrainTheModelOneProcessTrains() throws {
        let alone = try train(members: nil)[0]
        for (members, threads) in [(2, 1), (3, 1), (3, 4), (2, 2)] {
            let runs = try train(members: members, threads: threads)
            for run in runs {
                XCTAssertEqual(run.parameters, runs[0].parameters, "\(members) members x \(threads) threads: a member's parameters differ")
            }
            assertClose(runs[0].parameters, alone.parameters, "\(members) members x \(threads) threads")
            XCTAssertEqual(runs[0].costs.count, 2)
            for (cost, expected) in zip(runs[0].costs, alone.costs) { XCTAssertEqual(cost, expected, accuracy: 1e-5 * expected) }
        }
    }

    func testBatchNormUsesTheGlobalMiniBatchsStatistics() throws {
        let alone = try train(members: nil, layers: Self.batchNormLayers)[0]
        XCTAssertFalse(alone.state.isEmpty)
        for (members, threads) in [(2, 1), (3, 1), (3, 4), (2, 2)] {
            let runs = try train(members: members, threads: threads, layers: Self.batchNormLayers)
            for run in runs { XCTAssertEqual(run.parameters, runs[0].parameters) }
            assertClose(runs[0].parameters, alone.parameters, "batch norm, \(members) members x \(threads) threads")
            // The running statistics too: every member's are the global mini-batch's.
            assertClose(runs[0].state, alone.state, "running statistics, \(members) members x \(threads) threads")
            for (cost, expected) in zip(runs[0].costs, alone.costs) { XCTAssertEqual(cost, expected, accuracy: 1e-5 * expected) }
        }
    }

    func testAWrongMaskIsCaught() throws {
        // The check above has teeth: another dropout seed (other masks) moves the parameters far past its bound.
        let alone = try train(members: nil)[0].parameters
        let network = try Network(layers: Self.layers(batch: 10), miniBatchSize: 10, threads: 1, seed: 3)
        network.random = RandomSource(seed: 99)
        _ = try network.train(trainingData: Self.training, validationData: Self.validation, epochs: 2, eta: 0.5, lmbda: 0.1)
        let worst = zip(network.parameterValues, alone).map { abs($0 - $1) }.max()!
        XCTAssertGreaterThan(worst, 1e-2 * (alone.map(abs).max() ?? 1))
    }

    func testShuffledExpandedAugmentedMomentumRunsMatchToo() throws {
        var options = TrainingOptions()
        options.shuffle = true
        options.expand = true
        options.augmentation = Augmentation(maxShift: 1, maxRotationDegrees: 10)
        let alone = try train(members: nil, epochs: 1, options: options, momentum: 0.9)[0]
        let group = try train(members: 3, epochs: 1, options: options, momentum: 0.9)[0]
        assertClose(group.parameters, alone.parameters, "3 members, shuffled, expanded, augmented, momentum")
    }

    func testTheSameGroupRepeatsBitForBit() throws {
        let first = try train(members: 3, threads: 2)[0]
        let second = try train(members: 3, threads: 2)[0]
        XCTAssertEqual(first.parameters, second.parameters)
        XCTAssertEqual(first.costs, second.costs)
    }

    func testEveryMemberStopsAfterTheSameStep() throws {
        let runs = try train(members: 3, stopAt: (rank: 1, step: 7))
        for run in runs {
            guard case .stopped(let progress) = run.outcome else { return XCTFail("a member did not stop: \(run.outcome)") }
            XCTAssertEqual(progress.epoch, 0)
            // Member 1 asked before its eighth step, so every member stops after it.
            XCTAssertEqual(progress.miniBatchesDone, 8)
            XCTAssertEqual(run.parameters, runs[0].parameters)
        }
    }

    func testMembersStartedDifferentlyAreRefused() throws {
        XCTAssertThrowsError(try train(members: 2, seed: { UInt64($0) })) { error in
            let error = error as? TrainingGroupError
            XCTAssertNotNil(error)
            XCTAssertTrue(error?.reason.contains("different networks") ?? false, "\(String(describing: error))")
        }
    }

    func testAGroupThatCannotShareTheMiniBatchIsRefused() throws {
        XCTAssertThrowsError(try train(members: 3, miniBatch: 2)) { error in
            XCTAssertEqual(error as? TrainingError,
                           .badSetting("3 processes cannot share a mini-batch of 2: use at most 2"))
        }
    }
}
