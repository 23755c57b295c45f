// TrainingCurvesTests.swift: `cnn plot`'s chart, its axes, and the logs it reads.
//
// The chart is checked where it matters to a reader: each run's curve passes
// through the pixels its values map to, in its own colour; the legend shows
// every run's colour; tick values are "nice" and cover the data.  Metrics
// logs written by MetricsLog read back to the same numbers, and a missing,
// empty, malformed or twice-used log is refused in one line naming the file
// (and the line).  The command itself is run once, as a child process.

import Foundation
@testable import SwiftNet
@testable import SwiftNetImages
import XCTest

final class TrainingCurvesTests: CheckpointTestCase {
    private func epoch(_ number: Int, cost: Double, accuracy: Double) -> EpochMetrics {
        EpochMetrics(epoch: number, trainingCost: cost, validationAccuracy: accuracy, testAccuracy: nil, seconds: 1, imagesPerSecond: 1000)
    }

    /// Two runs that never cross: B is always 1.5 points less accurate and costs 0.15 more.
    private var runs: [TrainingRun] {
        let a = (0..<6).map { epoch($0, cost: 0.6 / Double($0 + 1), accuracy: 0.93 + 0.01 * Double($0)) }
        let b = a.map { epoch($0.epoch, cost: $0.trainingCost + 0.15, accuracy: $0.validationAccuracy - 0.015) }
        return [TrainingRun(name: "a", epochs: a), TrainingRun(name: "b", epochs: b)]
    }

    private func color(in image: Bitmap, x: Double, y: Double) -> [UInt8] {
        let base = (Int(y) * image.width + Int(x)) * 3
        return Array(image.samples[base..<(base + 3)])
    }

    private func count(_ color: [UInt8], in image: Bitmap, x: Int, y: Int, width: Int, height: Int) -> Int {
        var found = 0
        for row in y..<(y + height) {
            for column in x..<(x + width) where self.color(in: image, x: Double(column), y: Double(row)) == color { found += 1 }
        }
        return found
    }

    func testAxesHaveNiceTicksThatCoverTheData() {
        let accuracy = ChartAxis(covering: [92.9, 98.4], ticks: 6)
        XCTAssertEqual([accuracy.lower, accuracy.upper, accuracy.step], [92, 99, 1])
        XCTAssertEqual(accuracy.ticks.map(accuracy.label), ["92", "93", "94", "95", "96", "97", "98", "99"])
        let cost = ChartAxis(covering: [0.031, 0.62], ticks: 6)
        XCTAssertEqual(cost.lower, 0)
        XCTAssertEqual(cost.step, 0.1, accuracy: 1e-12)
        XCTAssertEqual(cost.ticks.map(cost.label), ["0.0", "0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7"])
        let epochs = ChartAxis(covering: [0, 29], ticks: 8, wholeSteps: true)
        XCTAssertEqual([epochs.lower, epochs.upper, epochs.step], [0, 30, 5])
        // One epoch, one value: the axes still have room, and the value lies inside.
        let single = ChartAxis(covering: [0], ticks: 8, wholeSteps: true)
        XCTAssertEqual([single.lower, single.upper], [0, 1])
        let flat = ChartAxis(covering: [97.5], ticks: 6)
        XCTAssertLessThan(flat.lower, 97.5)
        XCTAssertGreaterThan(flat.upper, 97.5)
    }

    func testEachCurvePassesThroughItsPointsInItsColourAndTheLegendShowsBoth() {
        let runs = self.runs
        let chart = TrainingCurves.draw(runs)
        let layout = TrainingCurves.layout(runs)
        XCTAssertEqual([chart.width, chart.height, chart.channels], [layout.width, layout.height, 3])
        for (index, run) in runs.enumerated() {
            let expected = TrainingCurves.color(ofRun: index)
            for (from, to) in zip(run.epochs, run.epochs.dropFirst()) {
                for (panel, start, end) in [(layout.accuracy, from.validationAccuracy * 100, to.validationAccuracy * 100),
                                            (layout.cost, from.trainingCost, to.trainingCost)] {
                    let point = panel.position(Double(from.epoch), start)
                    XCTAssertEqual(color(in: chart, x: point.x, y: point.y), expected, "run \(run.name), epoch \(from.epoch), \(panel.title)")
                    let next = panel.position(Double(to.epoch), end)
                    let middle = ((point.x + next.x) / 2, (point.y + next.y) / 2)
                    XCTAssertEqual(color(in: chart, x: middle.0, y: middle.1), expected,
                                   "run \(run.name), between epochs \(from.epoch) and \(to.epoch), \(panel.title)")
                }
            }
            // Well above the accuracy curve (3 points up at epoch 2) the plot is background, not this colour.
            let above = layout.accuracy.position(2, run.epochs[2].validationAccuracy * 100 + 3)
            XCTAssertNotEqual(color(in: chart, x: above.x, y: above.y), expected)
            let entry = layout.legend[index]
            XCTAssertEqual(color(in: chart, x: Double(entry.x + 18), y: Double(entry.y)), expected, "legend swatch of \(run.name)")
            XCTAssertGreaterThan(count(expected, in: chart, x: entry.x, y: entry.y - 3, width: TrainingCurves.swatch, height: 6), 100)
        }
        // Tick labels and titles are drawn in black left of and below each panel.
        let panel = layout.accuracy
        XCTAssertGreaterThan(count(ChartPanel.ink, in: chart, x: panel.x - TrainingCurves.labelSpace, y: panel.y,
                                   width: TrainingCurves.labelSpace - 8, height: panel.height), 100)
        XCTAssertGreaterThan(count(ChartPanel.ink, in: chart, x: panel.x, y: panel.y + panel.height + 8,
                                   width: panel.width, height: 40), 100)
    }

    // MARK: Reading metrics logs

    func testALogReadsBackAsWritten() throws {
        let log = try MetricsLog(path: path("run.jsonl"))
        let reports = [
            EpochReport(epoch: 0, trainingCost: 0.512345, validationAccuracy: 0.9392, isBestSoFar: true, testAccuracy: 0.9401,
                        trainingSeconds: 1.5, imagesPerSecond: 33333.3),
            EpochReport(epoch: 1, trainingCost: 0.2, validationAccuracy: 0.9301, isBestSoFar: false, testAccuracy: nil,
                        trainingSeconds: 1.25, imagesPerSecond: 40000),
        ]
        for report in reports { try log.append(report) }
        let read = try MetricsLog.read(contentsOf: path("run.jsonl"))
        XCTAssertEqual(read, [
            EpochMetrics(epoch: 0, trainingCost: 0.512345, validationAccuracy: 0.9392, testAccuracy: 0.9401, seconds: 1.5, imagesPerSecond: 33333.3),
            EpochMetrics(epoch: 1, trainingCost: 0.2, validationAccuracy: 0.9301, testAccuracy: nil, seconds: 1.25, imagesPerSecond: 40000),
        ])
    }

    func testBadLogsAreRefusedInOneLineNamingFileAndLine() throws {
        let good = "{\"epoch\":0,\"training_cost\":0.5,\"validation_accuracy\":0.93,\"test_accuracy\":null,\"seconds\":1,\"images_per_second\":9}"
        let cases: [(String?, String)] = [
            (nil, "no such file"),
            ("", "has no epochs"),
            ("\n\n", "has no epochs"),
            (good + "\n{\"epoch\":1,\"training_cost\":0.4\n", "line 2: is not a JSON object"),
            (good + "\n" + good.replacingOccurrences(of: "\"seconds\":1,", with: "") + "\n", "line 2: has no number \"seconds\""),
            (good.replacingOccurrences(of: "0.93", with: "93.1"), "line 1: \"validation_accuracy\" is 93.1"),
            (good + "\n" + good + "\n", "line 2: epoch 0 follows epoch 0"),
        ]
        for (index, (contents, expected)) in cases.enumerated() {
            let file = path("log\(index).jsonl")
            if let contents { try Data(contents.utf8).write(to: URL(fileURLWithPath: file)) }
            XCTAssertThrowsError(try MetricsLog.read(contentsOf: file), expected) { error in
                let text = String(describing: error)
                XCTAssertTrue(error is DataFileError && text.hasPrefix(file + ": ") && text.contains(expected), "\(text) lacks \(expected)")
                XCTAssertFalse(text.contains("\n"), text)
            }
        }
    }

    func testThePlotCommandDrawsTheLogsAndFailsInOneLine() throws {
        for run in runs {
            let lines = run.epochs.map {
                EpochReport(epoch: $0.epoch, trainingCost: $0.trainingCost, validationAccuracy: $0.validationAccuracy,
                            isBestSoFar: false, testAccuracy: nil, trainingSeconds: 1, imagesPerSecond: 1000).jsonLine
            }
            try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: path("\(run.name).jsonl")))
        }
        let result = try runCNN(["plot", "a.jsonl", "b.jsonl", "--out", "curves.png"], in: folder)
        XCTAssertEqual(result.status, 0, result.standardError)
        let chart = try PNG.read(contentsOf: path("curves.png"))
        // The logs hold the values rounded as jsonLine writes them; the chart is drawn from those.
        let read = try ["a", "b"].map { TrainingRun(name: $0, epochs: try MetricsLog.read(contentsOf: path("\($0).jsonl"))) }
        XCTAssertEqual(read.map(\.epochs.count), [6, 6])
        XCTAssertEqual(chart, TrainingCurves.draw(read))

        let labelled = try runCNN(["plot", "a.jsonl", "b.jsonl", "--label", "dropout 0.3", "--label", "no dropout",
                                   "--out", "labelled.png"], in: folder)
        XCTAssertEqual(labelled.status, 0, labelled.standardError)
        let renamed = [TrainingRun(name: "dropout 0.3", epochs: read[0].epochs), TrainingRun(name: "no dropout", epochs: read[1].epochs)]
        XCTAssertEqual(try PNG.read(contentsOf: path("labelled.png")), TrainingCurves.draw(renamed))

        try Data("{\"epoch\":0}\n".utf8).write(to: URL(fileURLWithPath: path("bad.jsonl")))
        for (arguments, expected) in [(["plot", "a.jsonl", "absent.jsonl"], "absent.jsonl: no such file"),
                                      (["plot", "bad.jsonl"], "bad.jsonl: line 1: has no number"),
                                      (["plot", "a.jsonl", "b.jsonl", "--label", "one"], "--label names 1 of 2 logs"),
                                      (["plot", "a.jsonl", "--out", "missing/c.png"], "the folder")] {
            let failed = try runCNN(arguments, in: folder)
            XCTAssertNotEqual(failed.status, 0, "\(arguments)")
            XCTAssertEqual(failed.standardError.split(separator: "\n").count, 1, "\(arguments): \(failed.standardError)")
            XCTAssertTrue(failed.standardError.hasPrefix("cnn: error: ") && failed.standardError.contains(expected),
                          "\(arguments): \(failed.standardError)")
        }
    }
}
