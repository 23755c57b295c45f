// MetricsLog.swift: one JSON line per finished epoch, for plots and comparisons.
//
// `cnn train --save m.ckpt` appends to m.jsonl beside the checkpoint (or to
// --metrics PATH): epoch, mean training cost, validation and test accuracy,
// wall seconds and images per second.  Lines go through Files/AppendingFile:
// one write(2) per line on a file opened O_APPEND, fsync'ed before `append`
// returns, so a killed run leaves whole lines (at worst its last one cut
// short, which MetricsLog.read refuses by line number).  A line is written
// after the epoch's checkpoint, so a run resumed after a kill between the
// two lacks that epoch's line rather than repeating it.

import Foundation

extension EpochReport {
    /// This epoch as one line of JSON (no newline); `test_accuracy` is null
    /// when the epoch was not a new best and so had no test pass.
    package var jsonLine: String {
        let test = testAccuracy.map { String(format: "%.4f", $0) } ?? "null"
        let rate = eta.map { String(format: ",\"eta\":%.6g", $0) } ?? ""
        return String(format: "{\"epoch\":%d,\"training_cost\":%.6f,\"validation_accuracy\":%.4f,\"test_accuracy\":%@,"
                          + "\"seconds\":%.3f,\"images_per_second\":%.1f%@}",
                      epoch, trainingCost, validationAccuracy, test as NSString, trainingSeconds, imagesPerSecond,
                      rate as NSString)
    }
}

/// An append-only file of EpochReport.jsonLine lines.
package final class MetricsLog {
    package let path: String
    private let file: AppendingFile

    /// Opens `path` for appending, creating it if needed.
    /// - Throws: `FileError.writeFailed` naming the file when it cannot be opened.
    package init(path: String) throws {
        self.path = path
        file = try AppendingFile(path: path)
    }

    /// Appends the epoch's line in one write, on disk when this returns.
    /// - Throws: `FileError.writeFailed` naming the file when the write fails.
    package func append(_ report: EpochReport) throws {
        try file.append(Array((report.jsonLine + "\n").utf8))
    }

    /// The metrics file that goes with a checkpoint: m.ckpt -> m.jsonl.
    package static func path(besideCheckpoint checkpoint: String) -> String {
        Checkpoint.splitExtension(checkpoint).stem + ".jsonl"
    }
}
