// ImageSheetTests.swift: the error and filter sheets, drawn in-process and by `cnn`.
//
// The in-process tests pin the layout: where a digit lands, that the true
// label is blue at the top right and the prediction red at the bottom right,
// and the size formula.  The process tests train a small seed network on a
// tiny MNIST-format pickle, then run `cnn errors` and `cnn filters` and check
// that the PNGs they write are valid (our reader and Python's independent
// decoder), have the size the grid implies, and show what the model got wrong.

import Foundation
@testable import SwiftNet
@testable import SwiftNetImages
import XCTest

final class ImageSheetTests: CheckpointTestCase {
    /// A 28x28 dataset of `count` images, image i a bright square at a place that depends on i.
    private func squares(count: Int) -> Dataset {
        var pixels = [UInt8](repeating: 0, count: count * 784)
        for image in 0..<count {
            for row in 8..<20 { for column in (4 + image % 10)..<(14 + image % 10) { pixels[image * 784 + row * 28 + column] = 250 } }
        }
        return Dataset.valid(name: "test", channels: 1, height: 28, width: 28, pixels: pixels, labels: (0..<count).map { Int32($0 % 10) }, classCount: 10)
    }

    /// The pixels of `image` in a rectangle that equal `color`.
    private func count(_ color: [UInt8], in image: Bitmap, x: Int, y: Int, width: Int, height: Int) -> Int {
        var found = 0
        for row in y..<(y + height) {
            for column in x..<(x + width) {
                let base = (row * image.width + column) * image.channels
                if Array(image.samples[base..<(base + image.channels)]) == color { found += 1 }
            }
        }
        return found
    }

    func testAPanelPutsTheDigitAndBothLabelsWhereTheSeedDoes() throws {
        let data = squares(count: 30)
        let errors = [Misclassification(index: 7, label: 7, predicted: 1), Misclassification(index: 12, label: 2, predicted: 5)]
        let panel = try ErrorSheet.panel(data: data, errors: errors, title: "TEST")
        let size = ErrorSheet.panelSize(shown: 2, imageWidth: 28, imageHeight: 28)
        XCTAssertEqual([panel.width, panel.height], [size.width, size.height])
        let cell = ErrorSheet.cellSize(imageWidth: 28, imageHeight: 28)
        XCTAssertEqual(size.width, 2 * ErrorSheet.margin + 12 * cell.width)
        let top = ErrorSheet.margin + ErrorSheet.headerHeight
        // The second tile's digit: image 12's square (columns 6..<16) in dark ink.
        let x = ErrorSheet.margin + cell.width + ErrorSheet.padding, y = top + ErrorSheet.padding
        for (row, column, value) in [(10, 8, UInt8(5)), (10, 2, 255), (2, 10, 255), (19, 15, 5)] {
            let base = ((y + row * 3 + 1) * panel.width + x + column * 3 + 1) * 3
            XCTAssertEqual(Array(panel.samples[base..<(base + 3)]), [value, value, value], "digit pixel (\(row), \(column))")
        }
        // Blue true label in the top right quarter, red prediction in the bottom right, neither elsewhere.
        let half = cell.width / 2
        let cellX = ErrorSheet.margin + cell.width
        XCTAssertGreaterThan(count(ErrorSheet.labelColor, in: panel, x: cellX + half, y: top, width: half, height: half), 10)
        XCTAssertEqual(count(ErrorSheet.labelColor, in: panel, x: cellX, y: top + half, width: cell.width, height: half), 0)
        XCTAssertGreaterThan(count(ErrorSheet.predictionColor, in: panel, x: cellX + half, y: top + half, width: half, height: half), 10)
        XCTAssertEqual(count(ErrorSheet.predictionColor, in: panel, x: cellX, y: top, width: cell.width, height: half), 0)
        // No green frames without a comparison; with one, only around the fixed digit.
        XCTAssertEqual(count(ErrorSheet.fixedColor, in: panel, x: 0, y: top, width: panel.width, height: panel.height - top), 0)
        let compared = try ErrorSheet.panel(data: data, errors: errors, title: "TEST", fixedElsewhere: [12])
        XCTAssertEqual(count(ErrorSheet.fixedColor, in: compared, x: ErrorSheet.margin, y: top, width: cell.width, height: cell.height), 0)
        XCTAssertGreaterThan(count(ErrorSheet.fixedColor, in: compared, x: cellX, y: top, width: cell.width, height: cell.height),
                             4 * cell.width)
    }

    func testAPanelShowsAtMost120DigitsInTenRows() throws {
        let data = squares(count: 200)
        let errors = (0..<200).map { Misclassification(index: $0, label: 1, predicted: 2) }
        let panel = try ErrorSheet.panel(data: data, errors: errors, title: "MANY")
        let size = ErrorSheet.panelSize(shown: 120, imageWidth: 28, imageHeight: 28)
        XCTAssertEqual([panel.width, panel.height], [size.width, size.height])
        XCTAssertEqual(size.height, 2 * ErrorSheet.margin + ErrorSheet.headerHeight + 10 * ErrorSheet.cellSize(imageWidth: 28, imageHeight: 28).height)
        XCTAssertEqual(ErrorSheet.panelSize(shown: 0, imageWidth: 28, imageHeight: 28).height,
                       2 * ErrorSheet.margin + ErrorSheet.headerHeight + ErrorSheet.cellSize(imageWidth: 28, imageHeight: 28).height)
    }

    func testTheFilterSheetMapsTheLargestWeightToBlack() throws {
        var weights = (0..<50).map { Float($0 % 7) * 0.01 - 0.02 }
        weights[31] = 0.9      // filter 1, row 1, column 1: the largest weight
        weights[3] = -0.5      // filter 0, row 0, column 3: the smallest
        let sheet = try FilterSheet.draw(weights: weights, count: 2, height: 5, width: 5)
        let size = FilterSheet.size(count: 2, height: 5, width: 5)
        XCTAssertEqual([sheet.width, sheet.height], [size.width, size.height])
        let top = FilterSheet.margin + BitmapFont.height(scale: 2) + FilterSheet.gap * 2
        func pixel(filter: Int, row: Int, column: Int) -> UInt8 {
            let x = FilterSheet.margin + filter * (5 * FilterSheet.scale + FilterSheet.gap) + column * FilterSheet.scale + 4
            return sheet.samples[(top + row * FilterSheet.scale + 4) * sheet.width + x]
        }
        XCTAssertEqual(pixel(filter: 1, row: 1, column: 1), 0)
        XCTAssertEqual(pixel(filter: 0, row: 0, column: 3), 255)
        XCTAssertEqual(Int(pixel(filter: 0, row: 0, column: 0)), Int(((0.9 - weights[0]) / 1.4 * 255).rounded()))
    }

    // MARK: The commands


    private func trainedModel(epochs: Int, data: String, name: String) throws -> String {
        let result = try runCNN(["train", "--data", data, "--threads", "2", "--eta", "0.5", "--epochs", "\(epochs)", "--save", name],
                                in: folder)
        XCTAssertEqual(result.status, 0, result.standardError)
        return path(name)
    }

    /// The test images `model` misclassifies, found in-process.
    private func misclassified(_ model: String, data: String) throws -> [Int] {
        let network = try Checkpoint.load(contentsOf: model).makeNetwork(threads: 1)
        var wrong: [Int] = []
        try network.forEachPrediction(on: try MNIST.load(contentsOf: data).test) { index, predicted, label in
            if predicted != label { wrong.append(index) }
        }
        return wrong
    }

    func testErrorsAndFiltersCommandsWriteValidPicturesOfTheRightSize() throws {
        let data = try smallMNISTPickle()
        let weak = try trainedModel(epochs: 1, data: data, name: "weak.ckpt")
        let wrong = try misclassified(weak, data: data)
        XCTAssertGreaterThan(wrong.count, 0, "one epoch on 300 images should leave some of 60 test digits wrong")

        let result = try runCNN(["errors", "--model", "weak.ckpt", "--data", data, "--out", "errors.png"], in: folder)
        XCTAssertEqual(result.status, 0, result.standardError)
        XCTAssertTrue(result.standardOutput.hasPrefix("weak.ckpt: \(wrong.count) errors of 60 test images, test accuracy "),
                      result.standardOutput)
        let sheet = try PNG.read(contentsOf: path("errors.png"))
        let size = ErrorSheet.panelSize(shown: wrong.count, imageWidth: 28, imageHeight: 28)
        XCTAssertEqual([sheet.width, sheet.height, sheet.channels], [size.width, size.height, 3])
        XCTAssertEqual(try PythonPNGCheck.decode(path("errors.png")), sheet, "Python decodes errors.png differently")
        // The first tile shows the first misclassified test digit, in dark ink.
        let test = try MNIST.load(contentsOf: data).test
        let cellX = ErrorSheet.margin + ErrorSheet.padding, cellY = ErrorSheet.margin + ErrorSheet.headerHeight + ErrorSheet.padding
        for (row, column) in [(3, 3), (14, 14), (27, 27), (9, 20)] {
            let expected = 255 - test.pixels[wrong[0] * 784 + row * 28 + column]
            let base = ((cellY + row * 3 + 1) * sheet.width + cellX + column * 3 + 1) * 3
            XCTAssertEqual(sheet.samples[base], expected, "pixel (\(row), \(column)) of test digit \(wrong[0])")
        }

        // Compared with itself, no digit is fixed: two equal panels and no green frame.
        let same = try runCNN(["errors", "--model", "weak.ckpt", "--compare", "weak.ckpt", "--data", data, "--out", "same.png"], in: folder)
        XCTAssertEqual(same.status, 0, same.standardError)
        XCTAssertTrue(same.standardOutput.contains("0 of A's errors are right in B; 0 of B's are right in A"), same.standardOutput)
        let pair = try PNG.read(contentsOf: path("same.png"))
        XCTAssertEqual([pair.width, pair.height], [2 * size.width + ErrorSheet.margin, size.height])
        let headerBottom = ErrorSheet.margin + ErrorSheet.headerHeight
        XCTAssertEqual(count(ErrorSheet.fixedColor, in: pair, x: 0, y: headerBottom, width: pair.width, height: pair.height - headerBottom), 0)

        let filters = try runCNN(["filters", "--model", "weak.ckpt", "--out", "filters.png"], in: folder)
        XCTAssertEqual(filters.status, 0, filters.standardError)
        let drawn = try PNG.read(contentsOf: path("filters.png"))
        let filterSize = FilterSheet.size(count: 20, height: 5, width: 5)
        XCTAssertEqual([drawn.width, drawn.height, drawn.channels], [filterSize.width, filterSize.height, 1])
        XCTAssertEqual(try PythonPNGCheck.decode(path("filters.png")), drawn)
    }

    func testPictureCommandsFailInOneLine() throws {
        let data = try smallMNISTPickle()
        _ = try trainedModel(epochs: 1, data: data, name: "model.ckpt")
        let cases: [([String], String)] = [
            (["errors", "--model", "model.ckpt", "--data", data, "--out", "missing-folder/e.png"], "the folder"),
            (["errors", "--model", "absent.ckpt", "--data", data, "--out", "e.png"], "absent.ckpt"),
            (["errors", "--model", "model.ckpt", "--compare", "small-mnist.pkl", "--data", data, "--out", "e.png"], "small-mnist.pkl"),
            (["filters", "--model", "small-mnist.pkl", "--out", "f.png"], "small-mnist.pkl"),
            (["filters", "--model", "model.ckpt", "--out", "missing-folder/f.png"], "the folder"),
        ]
        for (arguments, named) in cases {
            let result = try runCNN(arguments, in: folder)
            XCTAssertNotEqual(result.status, 0, "\(arguments)")
            let lines = result.standardError.split(separator: "\n")
            XCTAssertEqual(lines.count, 1, "\(arguments): \(result.standardError)")
            XCTAssertTrue(result.standardError.hasPrefix("cnn: error: ") && result.standardError.contains(named),
                          "\(arguments): \(result.standardError)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("e.png")), "a failed run left a picture behind")
    }

    /// `cnn bench --scaling`'s picture: one panel per sweep, each curve drawn in the line colour
    /// inside its own panel, and `--scaling-png` refused when it names the data.
    func testTheScalingChartDrawsEachSweepInItsPanel() throws {
        let panels = [
            ScalingPanel(title: "IMAGES", xTitle: "THOUSANDS", points: [(10, 0.4), (50, 1.9), (250, 8.1)]),
            ScalingPanel(title: "FC", xTitle: "NEURONS", points: [(100, 1.7), (1000, 9.9)]),
            ScalingPanel(title: "EMPTY", xTitle: "NOTHING", points: []),
        ]
        let image = ScalingChart.draw(panels)
        XCTAssertEqual(image.channels, 3)
        let panelWidth = image.width / 3
        func lineColouredPixels(inPanel index: Int) -> Int {
            var count = 0
            for y in 0..<image.height {
                for x in (index * panelWidth)..<((index + 1) * panelWidth) {
                    let at = (y * image.width + x) * 3
                    if Array(image.samples[at..<(at + 3)]) == ScalingChart.color { count += 1 }
                }
            }
            return count
        }
        XCTAssertGreaterThan(lineColouredPixels(inPanel: 0), 100)
        XCTAssertGreaterThan(lineColouredPixels(inPanel: 1), 100)
        XCTAssertEqual(lineColouredPixels(inPanel: 2), 0, "a sweep without points draws no curve")

        let data = try smallMNISTPickle()
        let refused = try runCNN(["bench", "--scaling", "--data", data, "--scaling-png", data], in: folder)
        XCTAssertEqual(refused.status, 64)
        XCTAssertTrue(refused.standardError.contains("--scaling-png \(data) is the same file as"), refused.standardError)
    }
}
