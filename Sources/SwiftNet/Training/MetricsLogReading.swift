// MetricsLogReading.swift: reading back the metrics log that `cnn train` writes.
//
// `cnn plot` draws runs from their logs, so it needs the lines back as
// numbers.  A log is trusted no more than any other file a person hands us:
// a line that is not one of EpochReport.jsonLine's objects, a log with no
// lines, and a log that holds two runs (epoch numbers that go back, as when
// a second run appends to the same file) are each refused with one line
// naming the file and, where it applies, the line number.

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

extension MetricsLog {
    /// The largest log `read` takes: a million epochs' lines.
    public static let maximumFileBytes = 256 << 20

    /// Every epoch in the log at `path`, in order.
    /// - Throws: `DataFileError` "<path>: <problem>" when the file is missing
    ///   or empty, or "<path>: line N: <problem>" for a line that is not an
    ///   epoch's JSON object, or whose epoch does not follow the one before.
    public static func read(contentsOf path: String) throws -> [EpochMetrics] {
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
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
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
        return epochs
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
