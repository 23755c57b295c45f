// ConcurrentNetworksTests.swift: networks used at once, and any thread count.
//
// Every Network owns its thread team and its kernels' scratch, so networks
// used from several threads at once must not notice one another: two
// networks training and two evaluating, at the same time from four
// threads, give bit for bit what each gives alone.  A hang (teams that
// share state can deadlock) fails the test through a timeout instead of
// stalling the suite.  And every thread count either builds a network that
// trains and evaluates, or is refused with one thrown line, never a trap.
// Only the public API is used, as a user's code would.

import Dispatch
import Foundation
import SwiftNet
import XCTest

// The jobs read no state of the test case, so sharing it with the job threads is safe.
final class ConcurrentNetworksTests: XCTestCase, @unchecked Sendable {
    /// One conv-pool layer on 1x12x12 images, a dense layer large enough to
    /// be split by rows across the team (200 x 100 weights), with dropout,
    /// and a softmax.
    private func layers(batch: Int) -> [any Layer] {
        [
            ConvPoolLayer(filterShape: (4, 1, 3, 3), imageShape: (batch, 1, 12, 12), poolSize: (2, 2)),
            FullyConnectedLayer(nIn: 4 * 5 * 5, nOut: 200, pDropout: 0.2),
            SoftmaxLayer(nIn: 200, nOut: 10),
        ]
    }

    /// Learnable synthetic digits: a class-dependent bar plus noise.
    private func images(count: Int, seed: UInt64) -> Dataset {
        var random = RandomSource(seed: seed)
        var pixels = [UInt8](repeating: 0, count: count * 144)
        var labels = [Int32](repeating: 0, count: count)
        for image in 0..<count {
            let label = Int(random.next() % 10)
            labels[image] = Int32(label)
            for row in 0..<12 {
                for column in 0..<12 {
                    let onBar = column == 1 + label && row > 1 && row < 11
                    pixels[image * 144 + row * 12 + column] = UInt8(min(255, (onBar ? 200 : 0) + Int(random.next() >> 58)))
                }
            }
        }
        return Dataset.valid(name: "bars", channels: 1, height: 12, width: 12, pixels: pixels, labels: labels, classCount: 10)
    }

    /// What one job produced, compared bit for bit.
    private struct Outcome: Equatable {
        var parameters: [UInt32] = []
        var costs: [UInt32] = []
        var accuracy = 0.0
        var probabilities: [UInt32] = []
    }

    /// Jobs 0 and 1 train a network (seeds differ) for 8 mini-batches and
    /// return its parameters and costs; jobs 2 and 3 evaluate a network
    /// trained for 2 mini-batches and return accuracy and probabilities.
    private func job(_ index: Int, data: Dataset) throws -> Outcome {
        let network = try Network(layers: layers(batch: 10), miniBatchSize: 10, threads: 2, seed: UInt64(40 + index))
        var outcome = Outcome()
        let steps = index < 2 ? 8 : 2
        for step in 0..<steps {
            let cost = try network.trainMiniBatch(data, start: step * 10, eta: 0.5, weightDecay: 1e-4)
            outcome.costs.append(cost.bitPattern)
        }
        if index < 2 {
            outcome.parameters = network.parameterValues.map(\.bitPattern)
        } else {
            outcome.accuracy = try network.accuracy(on: data)
            outcome.probabilities = try network.probabilities(on: data).map(\.bitPattern)
        }
        return outcome
    }

    /// Runs `body(i)` for i in 0..<count, each on a thread of its own, all at
    /// once; false if they have not all finished within `seconds`.
    private func onThreads(_ count: Int, within seconds: Double, _ body: @escaping @Sendable (Int) -> Void) -> Bool {
        let group = DispatchGroup()
        for index in 0..<count {
            group.enter()
            Thread {
                body(index)
                group.leave()
            }.start()
        }
        return group.wait(timeout: .now() + seconds) == .success
    }

    /// Results handed back from the job threads, one slot each.
    private final class Slots: @unchecked Sendable {
        private let lock = NSLock()
        private var outcomes: [Int: Result<Outcome, Error>] = [:]
        subscript(index: Int) -> Result<Outcome, Error>? {
            get { lock.withLock { outcomes[index] } }
            set { lock.withLock { outcomes[index] = newValue } }
        }
    }

    func testTwoTrainingAndTwoEvaluatingNetworksAtOnceMatchEachAlone() throws {
        let data = images(count: 100, seed: 9)
        let jobCount = 4
        // Alone: one job at a time, each on a fresh thread as below.
        let alone = Slots()
        for index in 0..<jobCount {
            XCTAssertTrue(onThreads(1, within: 120) { _ in alone[index] = Result { try self.job(index, data: data) } },
                          "job \(index) alone did not finish within 120 s")
        }
        let expected = try (0..<jobCount).map { try XCTUnwrap(alone[$0]).get() }
        XCTAssertNotEqual(expected[0], expected[1], "the two training jobs should differ (different seeds)")
        XCTAssertTrue(expected[2].accuracy > 0.1, "the evaluated network should have learnt something")

        for repetition in 0..<20 {
            let together = Slots()
            let finished = onThreads(jobCount, within: 240) { index in
                together[index] = Result { try self.job(index, data: data) }
            }
            guard finished else {
                return XCTFail("repetition \(repetition): four networks at once did not finish within 240 s (a hang)")
            }
            for index in 0..<jobCount {
                let outcome = try XCTUnwrap(together[index]).get()
                XCTAssertEqual(outcome, expected[index],
                               "repetition \(repetition), job \(index): differs from the same network run alone")
            }
        }
    }

    /// 1000 threads are clamped to the mini-batch; more than
    /// Network's maximum (1024), or fewer than one, are refused.
    func testEveryThreadCountTrainsAndEvaluatesOrIsRefusedWithOneLine() throws {
        let data = images(count: 200, seed: 3)
        let accepted = [1, 2, 3, 64, 100, 1000]
        for miniBatch in [10, 100] {
            for threads in accepted {
                let what = "threads \(threads), mini-batch \(miniBatch)"
                let network = try Network(layers: layers(batch: miniBatch), miniBatchSize: miniBatch, threads: threads)
                XCTAssertEqual(network.threads, min(threads, miniBatch), what)
                let cost = try network.trainMiniBatch(data, start: 0, eta: 0.1, weightDecay: 0)
                XCTAssertTrue(cost.isFinite, "\(what): cost \(cost)")
                let accuracy = try network.accuracy(on: data)
                XCTAssertTrue((0...1).contains(accuracy), "\(what): accuracy \(accuracy)")
                XCTAssertEqual(try network.probabilities(on: data).count, data.count * 10, what)
            }
            for threads in [0, -2, 1025, 100_000] {
                XCTAssertThrowsError(try Network(layers: layers(batch: miniBatch), miniBatchSize: miniBatch,
                                                 threads: threads)) { error in
                    let message = String(describing: error)
                    XCTAssertTrue(error is NetworkConfigurationError, "threads \(threads): \(message)")
                    XCTAssertFalse(message.contains("\n"), "threads \(threads): one line, got \(message)")
                    XCTAssertTrue(message.contains("\(threads)"), "threads \(threads): names the value, got \(message)")
                }
            }
        }
    }
}
