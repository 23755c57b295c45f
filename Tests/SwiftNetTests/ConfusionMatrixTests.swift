// ConfusionMatrixTests.swift: the confusion matrix, its table and heat map, and `cnn eval --confusion`.
//
// The matrix is pinned on hand-made counts; the command is checked against
// the accuracy `cnn eval` prints in the same run, since the diagonal of the
// matrix is exactly the images the network gets right.

import Foundation
@testable import SwiftNet
@testable import SwiftNetImages
import XCTest

final class ConfusionMatrixTests: CheckpointTestCase {
    private func handMade() throws -> ConfusionMatrix {
        var matrix = try ConfusionMatrix(classes: 3)
        for (truth, predicted, times) in [(0, 0, 5), (0, 2, 1), (1, 1, 1234), (2, 1, 3), (2, 2, 2)] {
            for _ in 0..<times { try matrix.add(truth: truth, predicted: predicted) }
        }
        return matrix
    }

    func testCountsTotalsAndTable() throws {
        let matrix = try handMade()
        XCTAssertEqual(matrix.total, 1245)
        XCTAssertEqual(matrix.correct, 1241)
        XCTAssertEqual(matrix[2, 1], 3)
        XCTAssertEqual(matrix.total(truth: 0), 6)
        let lines = matrix.table.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 5)
        XCTAssertEqual(lines[1], "true    0    1    2  total     right")
        XCTAssertEqual(lines[2], "   0    5    0    1      6    83.33%")
        XCTAssertEqual(lines[3], "   1    0 1234    0   1234   100.00%")
        XCTAssertEqual(lines[4], "   2    0    3    2      5    40.00%")
    }

    func testHeatMapShadesByShareOfTheRow() throws {
        let matrix = try handMade()
        let image = matrix.heatMap()
        XCTAssertEqual([image.width, image.height], [matrix.heatMapSize.width, matrix.heatMapSize.height])
        let left = ConfusionMatrix.heatMargin + ConfusionMatrix.axisRoom
        let top = ConfusionMatrix.heatMargin + BitmapFont.height(scale: 2) + 8 + ConfusionMatrix.axisRoom
        func corner(_ truth: Int, _ predicted: Int) -> [UInt8] {
            let base = ((top + truth * ConfusionMatrix.heatCell + 3) * image.width + left + predicted * ConfusionMatrix.heatCell + 3) * 3
            return Array(image.samples[base..<(base + 3)])
        }
        XCTAssertEqual(corner(0, 1), [255, 255, 255], "an empty cell is white")
        XCTAssertEqual(corner(1, 1), [20, 55, 180], "a whole row in one cell is the deepest blue")
        XCTAssertLessThan(corner(2, 1)[0], corner(0, 2)[0], "3 of 5 is darker than 1 of 6")
        XCTAssertEqual(try PNG.decode(PNG.encode(image)), image)
    }

    func testEvalPrintsTheMatrixAndDrawsTheHeatMap() throws {
        var pickle = SmallMNISTPickle()
        pickle.counts = [300, 60, 60]
        pickle.pixels = { split, image, index in
            let label = (split + image) % 10
            return index / 28 == 3 + 2 * label ? 0.75 : Float((index * 7 + image) % 32) / 256
        }
        let data = try write(pickle.bytes, to: "small-mnist.pkl")
        let trained = try runCNN(["train", "--data", data, "--threads", "2", "--eta", "0.5", "--epochs", "1", "--save", "m.ckpt"], in: folder)
        XCTAssertEqual(trained.status, 0, trained.standardError)
        let plain = try runCNN(["eval", "--model", "m.ckpt", "--data", data], in: folder)
        let result = try runCNN(["eval", "--model", "m.ckpt", "--data", data, "--confusion", "--confusion-png", "confusion.png"], in: folder)
        XCTAssertEqual(result.status, 0, result.standardError)
        XCTAssertTrue(result.standardOutput.hasPrefix(plain.standardOutput), "--confusion changed the accuracy lines")
        let lines = result.standardOutput.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines[2], "Confusion matrix of the 60 test images:")
        let rows = lines[5..<15].map { $0.split(separator: " ").compactMap { Int($0) } }
        XCTAssertEqual(rows.map { $0.count }, [Int](repeating: 12, count: 10), "each row: digit, ten counts, total")
        let correct = (0..<10).reduce(0) { $0 + rows[$1][$1 + 1] }
        XCTAssertEqual(rows.reduce(0) { $0 + $1[11] }, 60)
        let testAccuracy = String(format: "Test accuracy %.2f%%", Double(correct) / 60 * 100)
        XCTAssertEqual(lines[1], testAccuracy)
        let heatMap = try PNG.read(contentsOf: path("confusion.png"))
        XCTAssertEqual([heatMap.width, heatMap.height], [try ConfusionMatrix(classes: 10).heatMapSize.width, try ConfusionMatrix(classes: 10).heatMapSize.height])
        let refused = try runCNN(["eval", "--model", "m.ckpt", "--data", data, "--confusion-png", "nowhere/c.png"], in: folder)
        XCTAssertEqual(refused.status, 64)
        XCTAssertEqual(refused.standardError.split(separator: "\n").count, 1, refused.standardError)
    }
}
