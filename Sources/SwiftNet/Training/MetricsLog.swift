// MetricsLog.swift: one JSON line per finished epoch, for plots and comparisons.
//
// `cnn train --save m.ckpt` appends to m.jsonl beside the checkpoint (or to
// --metrics PATH): epoch, mean training cost, validation and test accuracy,
// wall seconds and images per second.  Appending one small write per line
// means a killed run leaves whole lines; a line is written after the epoch's
// checkpoint, so a run resumed after a kill between the two lacks that
// epoch's line rather than repeating it.

import Foundation

extension EpochReport {
    /// This epoch as one line of JSON (no newline); `test_accuracy` is null
    /// when the epoch was not a new best and so had no test pass.
    public var jsonLine: String {
        let test = testAccuracy.map { String(format: "%.4f", $0) } ?? "null"
        let rate = eta.map { String(format: ",\"eta\":%.6g", $0) } ?? ""
        return String(format: "{\"epoch\":%d,\"training_cost\":%.6f,\"validation_accuracy\":%.4f,\"test_accuracy\":%@,"
                          + "\"seconds\":%.3f,\"images_per_second\":%.1f%@}",
                      epoch, trainingCost, validationAccuracy, test as NSString, trainingSeconds, imagesPerSecond,
                      rate as NSString)
    }
}

/// An append-only file of EpochReport.jsonLine lines.
public final class MetricsLog {
    public let path: String
    private let handle: FileHandle

    /// Opens `path` for appending, creating it if needed.
    /// - Throws: `DataFileError` naming the file when it cannot be opened.
    public init(path: String) throws {
        self.path = path
        let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw DataFileError(path: path, reason: "cannot open the metrics log for appending (\(String(cString: strerror(errno))))")
        }
        handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
    }

    /// Appends the epoch's line in one write.
    public func append(_ report: EpochReport) throws {
        do {
            try handle.write(contentsOf: Data((report.jsonLine + "\n").utf8))
        } catch {
            throw DataFileError(path: path, reason: "cannot append to the metrics log (\(error.localizedDescription))")
        }
    }

    /// The metrics file that goes with a checkpoint: m.ckpt -> m.jsonl.
    public static func path(besideCheckpoint checkpoint: String) -> String {
        Checkpoint.splitExtension(checkpoint).stem + ".jsonl"
    }
}
