// TrainingMonitorTests.swift: the live feed of `cnn train --serve`, without HTTP.
//
// A subscriber that joins mid-run must first get the run and every epoch so
// far, then the epochs that follow as they happen, then "finished", after
// which its stream ends; one that joins after the end gets all of it and an
// ended stream; a resumed run's page starts with its earlier epochs.
// Progress after every mini-batch is thinned to a few frames
// a second, so a fast run cannot flood a browser.

import Foundation
import SwiftNet
@testable import SwiftNetServer
import XCTest

final class TrainingMonitorTests: XCTestCase {
    private func epoch(_ index: Int) -> TrainingEvent {
        .epochFinished(EpochReport(epoch: index, trainingCost: 1 / Double(index + 1), validationAccuracy: 0.9 + Double(index) / 100,
                                   isBestSoFar: true, testAccuracy: 0.89, trainingSeconds: 1.5, imagesPerSecond: 30000))
    }

    private func names(_ frames: [String]) -> [String] {
        frames.map { String($0.split(separator: "\n")[0].dropFirst("event: ".count)) }
    }

    func testALateSubscriberGetsTheHistoryThenLiveEpochsThenFinished() async throws {
        let monitor = TrainingMonitor(network: "conv 20 5x5, pool 2, softmax 10", epochs: 3)
        monitor.record(epoch(0))
        monitor.record(epoch(1))
        let stream = monitor.subscribe()
        monitor.record(epoch(2))
        monitor.record(.finished(TrainingSummary(bestValidationAccuracy: 0.92, bestIteration: 14999, testAccuracy: 0.89, epochs: [])))
        var frames: [String] = []
        for await frame in stream { frames.append(frame) }
        XCTAssertEqual(names(frames), ["run", "epoch", "epoch", "epoch", "finished"])
        XCTAssertTrue(frames[0].contains(#""epochs":"3""#), frames[0])
        XCTAssertTrue(frames[3].contains(#""epoch":2"#), frames[3])
        XCTAssertTrue(frames[4].contains(#""bestValidationAccuracy":0.92"#), frames[4])
        for frame in frames { XCTAssertTrue(frame.hasSuffix("\n\n") && frame.components(separatedBy: "\n").count == 4, frame) }
        XCTAssertEqual(monitor.epochs.map(\.epoch), [0, 1, 2])

        var after: [String] = []
        for await frame in monitor.subscribe() { after.append(frame) }
        XCTAssertEqual(after, frames, "a page opened after the run sees the whole run, then the stream ends")
    }

    func testAResumedRunStartsWithTheEpochsOfItsMetricsLog() async throws {
        let monitor = TrainingMonitor(network: "softmax 10", epochs: 3)
        monitor.recordEarlier([EpochMetrics(epoch: 0, trainingCost: 0.4, validationAccuracy: 0.9, testAccuracy: 0.88, seconds: 2,
                                            imagesPerSecond: 25000)])
        monitor.record(epoch(1))
        monitor.finish()
        var frames: [String] = []
        for await frame in monitor.subscribe() { frames.append(frame) }
        XCTAssertEqual(names(frames), ["run", "epoch", "epoch", "finished"])
        XCTAssertEqual(monitor.epochs.map(\.epoch), [0, 1])
        XCTAssertTrue(frames[1].contains(#""trainingCost":0.4"#), frames[1])
    }

    func testProgressIsThinnedButTheEpochsLastStepIsSent() async throws {
        let monitor = TrainingMonitor(network: "softmax 10", epochs: 1)
        let stream = monitor.subscribe()
        for done in 1...1000 {
            monitor.record(.miniBatchFinished(MiniBatchProgress(epoch: 0, miniBatchesDone: done, miniBatchesPerEpoch: 1000,
                                                                miniBatchSize: 10, meanCost: 0.5, seconds: 0)))
        }
        monitor.finish()
        var frames: [String] = []
        for await frame in stream { frames.append(frame) }
        let progress = frames.filter { $0.hasPrefix("event: progress") }
        XCTAssertGreaterThanOrEqual(progress.count, 1)
        XCTAssertLessThan(progress.count, 20, "1000 steps in well under a second must not send 1000 frames")
        XCTAssertTrue(progress.last?.contains(#""miniBatchesDone":1000"#) == true, progress.last ?? "")
        XCTAssertEqual(names(frames).last, "finished")
    }
}
