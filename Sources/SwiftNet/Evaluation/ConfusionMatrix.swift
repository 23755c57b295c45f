// ConfusionMatrix.swift: which classes a network mistakes for which.
//
// An accuracy figure says how often a network is wrong; the confusion matrix
// says how: row = true class, column = predicted class, each cell a count of
// test images.  `cnn eval --confusion` prints it as a table and can draw it
// as a PNG heat map, shaded by the share of each row, so that the few
// 4-for-9 and 7-for-2 mistakes stand out against the bright diagonal.
// The classes are the data set's: as many as it has, and its class names
// in the table when it names them.

import Foundation

/// Counts of (true class, predicted class) pairs over a dataset.
public struct ConfusionMatrix: Equatable, Sendable {
    /// The number of classes; counts is classes x classes.
    public let classes: Int
    /// counts[truth * classes + predicted].
    public private(set) var counts: [Int]
    /// The classes' names for the table, or nil to number them.
    public let classNames: [String]?

    /// An empty matrix for `classes` classes.
    /// - Parameters:
    ///   - classes: at least one.
    ///   - classNames: a name per class for the table (nil, or of another count: numbers).
    /// - Throws: `DatasetError.nonPositiveClassCount` for fewer than one class.
    public init(classes: Int, classNames: [String]? = nil) throws {
        guard classes > 0 else { throw DatasetError.nonPositiveClassCount(split: "confusion matrix", classCount: classes) }
        self.classes = classes
        self.classNames = classNames?.count == classes ? classNames : nil
        counts = [Int](repeating: 0, count: classes * classes)
    }

    /// The matrix of `network`'s predictions on `data`, over the data's classes (or the
    /// network's, if it has more) and with the data's class names.
    /// - Throws: `NetworkInputError` if the images do not fit the network's input.
    public init(network: Network, data: Dataset) throws {
        let classes = max(data.classCount, network.classCount)
        try self.init(classes: classes, classNames: classes == data.classCount ? data.classNames : nil)
        var counts = self.counts
        try network.forEachPrediction(on: data) { _, predicted, label in
            counts[Int(label) * classes + Int(predicted)] += 1
        }
        self.counts = counts
    }

    /// Counts one prediction.
    /// - Throws: `DatasetError.labelOutOfRange` if `truth` or `predicted` is outside `0..<classes`
    ///   (the matrix is unchanged).
    public mutating func add(truth: Int, predicted: Int) throws {
        for value in [truth, predicted] where !(0..<classes).contains(value) {
            throw DatasetError.labelOutOfRange(split: "confusion matrix", index: total, label: Int32(clamping: value),
                                               classCount: classes)
        }
        counts[truth * classes + predicted] += 1
    }

    /// The count of images of class `truth` predicted as `predicted`.
    public subscript(truth: Int, predicted: Int) -> Int { counts[truth * classes + predicted] }

    /// Images whose true class is `truth`.
    public func total(truth: Int) -> Int { (0..<classes).reduce(0) { $0 + self[truth, $1] } }

    /// All images counted.
    public var total: Int { counts.reduce(0, +) }

    /// Images predicted correctly.
    public var correct: Int { (0..<classes).reduce(0) { $0 + self[$1, $1] } }

    /// The table as text: a header row of predicted classes, then one row per
    /// true class with its counts, its total and the share predicted right.
    public var table: String {
        let names = classNames ?? (0..<classes).map(String.init)
        let longestName = names.map(\.count).max() ?? 1
        let width = max(5, String(counts.max() ?? 0).count + 1, longestName + 1)
        let totalWidth = max(7, String(total).count + 2)
        let rowLabelWidth = max(4, longestName)
        func cell(_ text: String, _ cellWidth: Int = width) -> String {
            String(repeating: " ", count: max(0, cellWidth - text.count)) + text
        }
        var lines = ["Rows are true classes, columns predicted ones."]
        lines.append(cell("true", rowLabelWidth) + names.map { cell($0) }.joined() + cell("total", totalWidth) + "     right")
        for truth in 0..<classes {
            let rowTotal = total(truth: truth)
            let right = rowTotal == 0 ? "        -" : String(format: "%9.2f%%", Double(self[truth, truth]) / Double(rowTotal) * 100)
            lines.append(cell(names[truth], rowLabelWidth) + (0..<classes).map { cell("\(self[truth, $0])") }.joined()
                + cell("\(rowTotal)", totalWidth) + right)
        }
        return lines.joined(separator: "\n")
    }
}
