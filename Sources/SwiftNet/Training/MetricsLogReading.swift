// MetricsLogReading.swift: reading back the metrics log that `cnn train` writes.
//
// `cnn plot` draws runs from their logs, so it needs the lines back as
// numbers.  A log is trusted no more than any other file a person hands us:
// a line that is not one of EpochReport.jsonLine's objects, a log with no
// lines, and a log that holds two runs (epoch numbers that go back, as when
// a second run appends to the same file) are each refused with one line
// naming the file and, where it applies, the line number.
//
// One kind of damage is expected, not refused: a write cut short by a
// crash or a full disk leaves a fragment of a line without its newline, and
// a run resumed by an older version glued its next line onto it.  Such a
// fragment is dropped and reported as a MetricsLogFragment, for the caller
// to warn about; the rest of the log stands.  Only what a cut can produce
// counts: the start of a line (a prefix of `{"epoch":`, or text from it
// on) that is not a JSON object, last in the file without its newline, or
// in front of a whole line that begins at a later `{"epoch":`.

import Foundation

/// One line of a metrics log: an epoch's figures.
public struct EpochMetrics: Equatable, Sendable {
    /// Zero-based, as the seed counts.
    public let epoch: Int
    /// Mean training cost over the epoch's mini-batches.
    public let trainingCost: Double
    /// A fraction, 0...1.
    public let validationAccuracy: Double
    /// A fraction, present only for epochs that set a new best.
    public let testAccuracy: Double?
    /// Wall time of the epoch's training steps.
    public let seconds: Double
    /// Training images per second over the epoch.
    public let imagesPerSecond: Double

    /// One epoch's figures, as a metrics log line holds them.
    public init(epoch: Int, trainingCost: Double, validationAccuracy: Double, testAccuracy: Double?,
                seconds: Double, imagesPerSecond: Double) {
        self.epoch = epoch
        self.trainingCost = trainingCost
        self.validationAccuracy = validationAccuracy
        self.testAccuracy = testAccuracy
        self.seconds = seconds
        self.imagesPerSecond = imagesPerSecond
    }
}

/// A piece of a line that a cut-short write left in a metrics log, dropped when the log is read.
public struct MetricsLogFragment: Equatable, Sendable, CustomStringConvertible {
    /// The line it was found on, from 1.
    public let line: Int
    /// Its length in bytes.
    public let bytes: Int

    public init(line: Int, bytes: Int) {
        self.line = line
        self.bytes = bytes
    }

    public var description: String { "line \(line): dropped a \(bytes)-byte fragment of a line cut short by an interrupted write" }
}

/// A metrics log as read: its epochs, and the fragments of cut lines that were dropped.
public struct MetricsLogContents: Equatable, Sendable {
    public let epochs: [EpochMetrics]
    /// Empty for a log every write of which finished.
    public let droppedFragments: [MetricsLogFragment]
}

extension MetricsLog {
    /// The largest log `read` takes: a million epochs' lines.
    public static let maximumFileBytes = 256 << 20

    /// Every epoch in the log at `path`, in order, without the fragments `load` reports.
    /// - Throws: as `load`.
    public static func read(contentsOf path: String) throws -> [EpochMetrics] {
        try load(contentsOf: path).epochs
    }

    /// Every epoch in the log at `path`, in order, and the fragments of cut lines dropped from it.
    /// - Throws: `DataFileError` "<path>: <problem>" when the file is missing
    ///   or empty, or "<path>: line N: <problem>" for a line that is not an
    ///   epoch's JSON object (nor a cut one), or whose epoch does not follow the one before.
    public static func load(contentsOf path: String) throws -> MetricsLogContents {
        let bytes: [UInt8]
        do {
            bytes = try BoundedFile.read(path, limit: maximumFileBytes, expected: "a metrics log")
        } catch let error as FileError {
            throw DataFileError(error)
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw DataFileError(.unexpectedContents, path: path, reason: "is not text, so not a metrics log (one JSON line per epoch)")
        }
        var epochs: [EpochMetrics] = []
        var fragments: [MetricsLogFragment] = []
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        for (index, line) in lines.enumerated() {
            var trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            let isLast = index == lines.count - 1  // only the last line can lack its newline
            if let (fragment, rest) = splitFragment(trimmed, isLast: isLast) {
                fragments.append(MetricsLogFragment(line: index + 1, bytes: fragment.utf8.count))
                guard let rest else { continue }
                trimmed = rest
            }
            let metrics = try parse(trimmed, path: path, line: index + 1)
            if let last = epochs.last, metrics.epoch <= last.epoch {
                throw DataFileError(.inconsistent, path: path, reason: "line \(index + 1): epoch \(metrics.epoch) follows epoch \(last.epoch); "
                    + "the log holds more than one run")
            }
            epochs.append(metrics)
        }
        guard !epochs.isEmpty else {
            throw DataFileError(.unexpectedContents, path: path, reason: "has no epochs: the metrics log is empty")
        }
        return MetricsLogContents(epochs: epochs, droppedFragments: fragments)
    }

    /// How every line begins.
    static let lineStart = "{\"epoch\":"

    /// The fragment a cut write left at the start of `line`, and the whole line after it
    /// (nil when the fragment is all there is); nil when `line` is not of that kind.
    /// - Parameters:
    ///   - isLast: the line is the file's last and has no newline.
    static func splitFragment(_ line: String, isLast: Bool) -> (fragment: Substring, rest: String?)? {
        guard line.hasPrefix(lineStart) || lineStart.hasPrefix(line),
              (try? JSONSerialization.jsonObject(with: Data(line.utf8))) == nil else { return nil }
        if isLast { return (line[...], nil) }
        // An older resumed run's whole line, glued to the fragment before it.
        guard let start = line.range(of: lineStart, options: .backwards)?.lowerBound, start > line.startIndex,
              (try? parse(String(line[start...]), path: "", line: 0)) != nil else { return nil }
        return (line[..<start], String(line[start...]))
    }

    /// One line of the log as EpochReport.jsonLine writes it.
    static func parse(_ line: String, path: String, line lineNumber: Int) throws -> EpochMetrics {
        func refuse(_ problem: String) -> DataFileError {
            DataFileError(.unexpectedContents, path: path, reason: "line \(lineNumber): \(problem)")
        }
        guard let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] else {
            throw refuse("is not a JSON object, so not a metrics line")
        }
        func number(_ key: String) throws -> Double {
            guard let value = object[key] as? NSNumber, value.doubleValue.isFinite else {
                throw refuse("has no number \"\(key)\"")
            }
            return value.doubleValue
        }
        let epoch = try number("epoch")
        guard epoch >= 0, epoch == epoch.rounded(), epoch < 1e9 else { throw refuse("\"epoch\" is \(epoch), not a whole number") }
        let test: Double?
        if object["test_accuracy"] == nil || object["test_accuracy"] is NSNull {
            test = nil
        } else {
            test = try number("test_accuracy")
        }
        let metrics = EpochMetrics(epoch: Int(epoch), trainingCost: try number("training_cost"),
                                   validationAccuracy: try number("validation_accuracy"), testAccuracy: test,
                                   seconds: try number("seconds"), imagesPerSecond: try number("images_per_second"))
        for (key, value) in [("validation_accuracy", metrics.validationAccuracy), ("test_accuracy", test ?? 0)]
            where !(0...1).contains(value) {
            throw refuse("\"\(key)\" is \(value), not a fraction between 0 and 1")
        }
        return metrics
    }
}
