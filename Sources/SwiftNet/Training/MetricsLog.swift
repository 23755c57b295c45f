// MetricsLog.swift: one JSON line per finished epoch, for plots and comparisons.
//
// `cnn train --save m.ckpt` appends to m.jsonl beside the checkpoint (or to
// --metrics PATH): epoch, mean training cost, validation and test accuracy,
// wall seconds and images per second.  Lines go through Files/AppendingFile:
// one write(2) per line on a file opened O_APPEND, fsync'ed before `append`
// returns, and a write that fails part way (a full disk) is cut back off.
// A kill in the middle of a write can still leave its line cut short, so a
// run that continues a log first drops such a fragment (`repairTail`), or
// its first line would be glued onto it; MetricsLog.load drops the same
// fragments when it reads a log.  A line is written after the epoch's
// checkpoint, so a run resumed after a kill between the two lacks that
// epoch's line rather than repeating it.

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

    /// Makes the log at `path` end with a whole line before a run appends to it: a
    /// last line without its newline is completed when it is a whole line, and cut
    /// off when it is a fragment of one.  Nothing happens when the file is missing,
    /// empty, not a plain file, or already ends with a newline.
    /// - Returns: the fragment cut off, if one was.
    /// - Throws: `FileError` if the log cannot be read or changed.
    package static func repairTail(ofLogAt path: String) throws -> MetricsLogFragment? {
        var status = stat()
        guard stat(path, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG, status.st_size > 0 else { return nil }
        let bytes = try BoundedFile.read(path, limit: maximumFileBytes, expected: "a metrics log")
        guard let last = bytes.last, last != UInt8(ascii: "\n") else { return nil }
        let start = (bytes.lastIndex(of: UInt8(ascii: "\n")) ?? -1) + 1
        let tail = String(decoding: bytes[start...], as: UTF8.self)
        if (try? parse(tail.trimmingCharacters(in: .whitespaces), path: path, line: 0)) != nil {
            try AppendingFile(path: path).append(Array("\n".utf8))
            return nil
        }
        guard truncate(path, off_t(start)) == 0 else {
            throw FileError.writeFailed(path: path, step: "cutting off a fragment of a line", reason: String(cString: strerror(errno)))
        }
        return MetricsLogFragment(line: bytes[..<start].filter { $0 == UInt8(ascii: "\n") }.count + 1, bytes: bytes.count - start)
    }

    /// The metrics file that goes with a checkpoint: m.ckpt -> m.jsonl.
    package static func path(besideCheckpoint checkpoint: String) -> String {
        Checkpoint.splitExtension(checkpoint).stem + ".jsonl"
    }
}
