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
    public init(classes: Int, classNames: [String]? = nil) {
        precondition(classes > 0, "ConfusionMatrix: \(classes) classes; expected at least one")
        self.classes = classes
        self.classNames = classNames?.count == classes ? classNames : nil
        counts = [Int](repeating: 0, count: classes * classes)
    }

    /// The matrix of `network`'s predictions on `data`, over the data's classes (or the
    /// network's, if it has more) and with the data's class names.
    /// - Throws: `NetworkInputError` if the images do not fit the network's input.
    public init(network: Network, data: Dataset) throws {
        let classes = max(data.classCount, network.classCount)
        self.init(classes: classes, classNames: classes == data.classCount ? data.classNames : nil)
        try network.forEachPrediction(on: data) { _, predicted, label in
            add(truth: Int(label), predicted: Int(predicted))
        }
    }

    /// Counts one prediction; classes outside 0..<classes are a programming error.
    public mutating func add(truth: Int, predicted: Int) {
        precondition((0..<classes).contains(truth) && (0..<classes).contains(predicted),
                     "ConfusionMatrix.add: classes \(truth) and \(predicted) outside 0..<\(classes)")
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

    /// The side of one heat-map cell in pixels.
    public static let heatCell = 56
    /// The margin, and the room for the axis labels.
    static let heatMargin = 12, axisRoom = 40

    /// The heat map's size in pixels.
    public var heatMapSize: (width: Int, height: Int) {
        let side = 2 * Self.heatMargin + Self.axisRoom + classes * Self.heatCell
        return (side, side + BitmapFont.height(scale: 2) + 8)
    }

    /// The matrix as an RGB heat map: each cell shaded by its share of its row
    /// (square root, so that small shares still show), its count written in it,
    /// true classes down the left, predicted classes along the top.
    public func heatMap() -> Image {
        let size = heatMapSize
        var image = Image(width: size.width, height: size.height, channels: 3, fill: 255)
        let margin = Self.heatMargin, cellSide = Self.heatCell
        BitmapFont.draw("ROWS: TRUE, COLUMNS: PREDICTED", into: &image, x: margin, y: margin, scale: 2, color: [0, 0, 0])
        let left = margin + Self.axisRoom, top = margin + BitmapFont.height(scale: 2) + 8 + Self.axisRoom
        for index in 0..<classes {
            let label = "\(index)"
            let labelWidth = BitmapFont.width(of: label, scale: 2)
            BitmapFont.draw(label, into: &image, x: left + index * cellSide + (cellSide - labelWidth) / 2,
                            y: top - BitmapFont.height(scale: 2) - 10, scale: 2, color: [0, 0, 0])
            BitmapFont.draw(label, into: &image, x: left - labelWidth - 12,
                            y: top + index * cellSide + (cellSide - BitmapFont.height(scale: 2)) / 2, scale: 2, color: [0, 0, 0])
        }
        for truth in 0..<classes {
            let rowTotal = max(1, total(truth: truth))
            for predicted in 0..<classes {
                let share = (Double(self[truth, predicted]) / Double(rowTotal)).squareRoot()
                // White to a deep blue.
                let color = [UInt8(255 - share * 235), UInt8(255 - share * 200), UInt8(255 - share * 75)]
                let x = left + predicted * cellSide, y = top + truth * cellSide
                image.fill(x: x, y: y, width: cellSide, height: cellSide, color: color)
                image.frame(x: x, y: y, width: cellSide, height: cellSide, thickness: 1, color: [210, 210, 210])
                let text = "\(self[truth, predicted])"
                let scale = BitmapFont.width(of: text, scale: 2) <= cellSide - 6 ? 2 : 1
                BitmapFont.draw(text, into: &image, x: x + (cellSide - BitmapFont.width(of: text, scale: scale)) / 2,
                                y: y + (cellSide - BitmapFont.height(scale: scale)) / 2, scale: scale,
                                color: share > 0.5 ? [255, 255, 255] : [0, 0, 0])
            }
        }
        return image
    }
}
