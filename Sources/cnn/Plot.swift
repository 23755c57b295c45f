// Plot.swift: `cnn plot`, training runs' curves from their metrics logs.
//
// `cnn train --save m.ckpt` leaves m.jsonl, one JSON line per epoch; this
// command draws one or more such logs as validation accuracy and training
// cost against epoch (TrainingCurves), one colour per run, named in the
// legend by file name or --label.  Every log is read and checked before
// anything is drawn, and the PNG is written atomically.

import ArgumentParser
import Foundation
import SwiftNet
import SwiftNetImages

struct Plot: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw runs' validation accuracy and training cost against epoch, from cnn train's metrics logs, as a PNG.")

    @Argument(help: ArgumentHelp("Metrics logs (m.jsonl beside m.ckpt, or cnn train --metrics PATH), one run each.",
                                 valueName: "log"))
    var logs: [String]

    @Option(help: ArgumentHelp("The PNG file to write.", valueName: "path"))
    var out: String = "curves.png"

    @Option(name: .customLong("label"),
            help: ArgumentHelp("A run's name in the legend, once per log in order (default: the log's file name without extension).",
                               valueName: "name"))
    var labels: [String] = []

    func validate() throws {
        guard !logs.isEmpty else { throw ValidationError("give at least one metrics log to plot") }
        guard labels.isEmpty || labels.count == logs.count else {
            throw ValidationError("--label names \(labels.count) of \(logs.count) logs; give one per log, or none")
        }
        try checkOutputFolder(out)
        try checkOutputs([NamedFile(flag: "--out", path: out)], inputs: logs.map { NamedFile(flag: "the log", path: $0) })
    }

    /// A log's epochs, after one warning line on stderr if fragments of cut lines were dropped
    /// from it; a log holding two runs gets the CLI's advice.
    private static func readLog(_ path: String) throws -> [EpochMetrics] {
        do {
            let contents = try MetricsLog.load(contentsOf: path)
            if !contents.droppedFragments.isEmpty {
                let fragments = contents.droppedFragments.map(\.description).joined(separator: "; ")
                FileHandle.standardError.write(Data("cnn: warning: \(path): \(fragments)\n".utf8))
            }
            return contents.epochs
        } catch let error as DataFileError where error.kind == .inconsistent {
            throw DataFileError(.inconsistent, path: error.path, offset: error.offset,
                                reason: error.reason + " (give each run its own --metrics file)")
        }
    }

    func run() throws {
        let runs = try logs.enumerated().map { index, path in
            TrainingRun(name: labels.isEmpty ? URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent : labels[index],
                        epochs: try Self.readLog(path))
        }
        let chart = TrainingCurves.draw(runs)
        try PNG.write(chart, to: out)
        let epochs = runs.map { "\($0.epochs.count)" }.joined(separator: ", ")
        print("Wrote \(out) (\(chart.width)x\(chart.height) pixels, \(runs.count) run\(runs.count == 1 ? "" : "s") of \(epochs) epochs)")
    }
}
