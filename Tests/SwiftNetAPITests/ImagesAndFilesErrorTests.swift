// ImagesAndFilesErrorTests.swift: the image helpers, IDX writers and the
// confusion matrix, as a package that depends on SwiftNet sees them.
//
// Each of these calls used to stop the process with a precondition when
// handed values a user's own data can produce: an image of a size or sample
// count that does not match, a picture of the wrong channels for its format,
// a label that no IDX label file can hold, a class outside the matrix.  Now
// each throws an error with a case to switch on, and its description is one
// line.  (`import SwiftNet` and `import SwiftNetImages`, no @testable.)

import Foundation
import SwiftNet
import SwiftNetImages
import XCTest

final class ImagesAndFilesErrorTests: XCTestCase {
    private func assertOneLine(_ error: Error, file: StaticString = #filePath, line: UInt = #line) {
        let text = "\(error)"
        XCTAssertFalse(text.isEmpty, file: file, line: line)
        XCTAssertFalse(text.contains("\n"), text, file: file, line: line)
    }

    func testABitmapOfABadSizeChannelCountOrSampleCountIsAThrownBitmapError() {
        XCTAssertThrowsError(try Bitmap(width: 0, height: 5, channels: 1)) {
            XCTAssertEqual($0 as? BitmapError, .nonPositiveSize(width: 0, height: 5)); assertOneLine($0)
        }
        XCTAssertThrowsError(try Bitmap(width: 4, height: 4, channels: 5)) {
            XCTAssertEqual($0 as? BitmapError, .channels(5)); assertOneLine($0)
        }
        XCTAssertThrowsError(try Bitmap(width: 4, height: 4, channels: 3, samples: [UInt8](repeating: 0, count: 47))) {
            XCTAssertEqual($0 as? BitmapError, .sampleCount(samples: 47, expected: 48)); assertOneLine($0)
        }
        XCTAssertThrowsError(try Bitmap(width: Int.max, height: 3, channels: 1)) {
            XCTAssertEqual($0 as? BitmapError, .tooLarge(width: Int.max, height: 3)); assertOneLine($0)
        }
    }

    func testEveryChannelCountEncodesAsPNGAndReadsBackTheSame() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("swiftnet-png-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        for channels in 1...4 {
            let samples = (0..<(6 * 5 * channels)).map { UInt8(($0 * 29 + channels) % 256) }
            let image = try Bitmap(width: 6, height: 5, channels: channels, samples: samples)
            let path = folder.appendingPathComponent("c\(channels).png").path
            try PNG.write(image, to: path)
            XCTAssertEqual(try PNG.read(contentsOf: path), image, "\(channels) channels")
        }
    }

    func testPicturesOfTheWrongChannelsForTheirFormatAreRefused() throws {
        let rgb = try Bitmap(width: 3, height: 3, channels: 3)
        XCTAssertThrowsError(try PGM.encode(rgb)) {
            XCTAssertEqual($0 as? BitmapError, .unsupportedChannels(format: "PGM", channels: 3)); assertOneLine($0)
        }
        let gray = try Bitmap(width: 3, height: 3, channels: 1)
        XCTAssertThrowsError(try ErrorSheet.sideBySide(rgb, gray)) {
            guard case .unsupportedChannels(_, 1)? = $0 as? BitmapError else { return XCTFail("\($0)") }
        }
        XCTAssertEqual(try ErrorSheet.sideBySide(rgb, rgb).channels, 3)
    }

    func testSheetsRefuseWeightsAndIndicesThatDoNotFit() throws {
        XCTAssertThrowsError(try FilterSheet.draw(weights: [Float](repeating: 0, count: 49), count: 2, height: 5, width: 5)) {
            XCTAssertEqual($0 as? BitmapError, .sampleCount(samples: 49, expected: 50)); assertOneLine($0)
        }
        XCTAssertThrowsError(try FilterSheet.draw(weights: [], count: 0, height: 5, width: 5))
        XCTAssertThrowsError(try FilterSheet.draw(weights: [1], count: 1, height: 0, width: 1))
        let data = try Dataset(name: "two", channels: 1, height: 4, width: 4, pixels: [UInt8](repeating: 9, count: 32),
                               labels: [0, 1], classCount: 2)
        XCTAssertThrowsError(try ErrorSheet.panel(data: data, errors: [Misclassification(index: 2, label: 0, predicted: 1)],
                                                  title: "T")) {
            XCTAssertEqual($0 as? BitmapError, .noSuchImage(index: 2, count: 2)); assertOneLine($0)
        }
        XCTAssertNoThrow(try ErrorSheet.panel(data: data, errors: [Misclassification(index: 1, label: 1, predicted: 0)], title: "T"))
    }

    func testIDXWritersRefuseWhatAnIDXFileCannotHold() throws {
        let wide = try Dataset(name: "wide", channels: 1, height: 2, width: 2, pixels: [UInt8](repeating: 1, count: 8),
                               labels: [0, 300], classCount: 301)
        XCTAssertThrowsError(try IDX.labelFileBytes([wide])) {
            XCTAssertEqual($0 as? IDXWritingError, .labelOutOfRange(300)); assertOneLine($0)
        }
        XCTAssertThrowsError(try IDX.imageFileBytes([])) { XCTAssertEqual($0 as? IDXWritingError, .noDatasets) }
        let other = try Dataset(name: "other", channels: 1, height: 3, width: 2, pixels: [UInt8](repeating: 1, count: 6),
                                labels: [0], classCount: 1)
        XCTAssertThrowsError(try IDX.imageFileBytes([wide, other])) {
            XCTAssertEqual($0 as? IDXWritingError, .mixedShapes(["1x2x2", "1x3x2"])); assertOneLine($0)
        }
        XCTAssertThrowsError(try IDX.gzip([1, 2, 3], level: 42)) {
            guard case .compressionFailed? = $0 as? IDXWritingError else { return XCTFail("\($0)") }
        }
        XCTAssertEqual(try IDX.labelFileBytes([other]), [0, 0, 8, 1, 0, 0, 0, 1, 0])
    }

    func testAConfusionMatrixRefusesNoClassesAndClassesOutsideIt() throws {
        XCTAssertThrowsError(try ConfusionMatrix(classes: 0)) {
            XCTAssertEqual($0 as? DatasetError, .nonPositiveClassCount(split: "confusion matrix", classCount: 0))
        }
        var matrix = try ConfusionMatrix(classes: 3)
        try matrix.add(truth: 2, predicted: 1)
        XCTAssertThrowsError(try matrix.add(truth: 3, predicted: 0)) { assertOneLine($0) }
        XCTAssertThrowsError(try matrix.add(truth: 0, predicted: -1))
        XCTAssertEqual(matrix.total, 1, "a refused pair is not counted")
        XCTAssertEqual(matrix[2, 1], 1)
    }

    func testTheErrorSheetKeysNamedClassesButNotNumberedOnes() throws {
        func data(_ names: [String]) throws -> Dataset {
            try Dataset(name: "d", channels: 1, height: 4, width: 4, pixels: [UInt8](repeating: 9, count: 32), labels: [0, 1],
                        classCount: 2, classNames: names)
        }
        let errors = [Misclassification(index: 1, label: 1, predicted: 0)]
        let numbered = try ErrorSheet.panel(data: try data(["0", "1"]), errors: errors, title: "T")
        let named = try ErrorSheet.panel(data: try data(["cat", "dog"]), errors: errors, title: "T")
        let size = ErrorSheet.panelSize(shown: 1, imageWidth: 4, imageHeight: 4)
        XCTAssertEqual([numbered.width, numbered.height], [size.width, size.height])
        XCTAssertEqual([named.width, named.height], [size.width, size.height], "the key takes no room: it is in the margin")
        func inkInBottomMargin(_ sheet: Bitmap) -> Int {
            var dark = 0
            for y in (sheet.height - ErrorSheet.margin)..<sheet.height {
                for x in 0..<sheet.width where sheet[x: x, y: y, channel: 0] < 128 { dark += 1 }
            }
            return dark
        }
        XCTAssertEqual(inkInBottomMargin(numbered), 0, "numbered classes need no key")
        XCTAssertGreaterThan(inkInBottomMargin(named), 0, "CLASSES: 0 CAT, 1 DOG")
    }
}
