// DataAndFileErrorTests.swift: the errors a user's data and files give, case by case.
//
// A caller that must react to a problem (offer to download a missing file,
// report a damaged one, fix its own labels) switches on a case, so each
// problem must come back as its own case and still print one line naming
// the split or file: a Dataset built from bad values throws a DatasetError,
// a file the system will not read or write is a FileError, and a data file
// that is there but wrong is a DataFileError whose kind says how.  The files
// helpers (atomic writer, bounded reader, appender) are checked here too,
// and that cnn, not the library, adds the advice on fetching MNIST.

import Foundation
import SwiftNet
import XCTest

final class DataAndFileErrorTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("data-errors-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    private func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    private func dataset(channels: Int = 1, height: Int = 2, width: Int = 2, pixels: Int? = nil, labels: [Int32] = [0, 1],
                         classCount: Int = 2, classNames: [String]? = nil) throws -> Dataset {
        try Dataset(name: "training", channels: channels, height: height, width: width,
                    pixels: [UInt8](repeating: 9, count: pixels ?? labels.count * max(0, channels * height * width)),
                    labels: labels, classCount: classCount, classNames: classNames)
    }

    private func assertThrows(_ expected: DatasetError, _ body: () throws -> Dataset, line: UInt = #line) {
        XCTAssertThrowsError(try body(), line: line) { error in
            XCTAssertEqual(error as? DatasetError, expected, line: line)
            let text = "\(error)"
            XCTAssertFalse(text.contains("\n"), text, line: line)
        }
    }

    func testBadDatasetInputThrowsItsOwnCase() throws {
        assertThrows(.nonPositiveShape(split: "training", channels: 0, height: 2, width: 2)) { try dataset(channels: 0) }
        assertThrows(.nonPositiveShape(split: "training", channels: 1, height: -2, width: 2)) { try dataset(height: -2, pixels: 0) }
        assertThrows(.pixelCountMismatch(split: "training", pixels: 7, labels: 2, expected: 8)) { try dataset(pixels: 7) }
        assertThrows(.nonPositiveClassCount(split: "training", classCount: 0)) { try dataset(labels: [], classCount: 0) }
        assertThrows(.labelOutOfRange(split: "training", index: 1, label: 2, classCount: 2)) { try dataset(labels: [1, 2]) }
        assertThrows(.labelOutOfRange(split: "training", index: 0, label: -1, classCount: 2)) { try dataset(labels: [-1, 0]) }
        assertThrows(.classNameCountMismatch(split: "training", names: 3, classCount: 2)) {
            try dataset(classNames: ["a", "b", "c"])
        }
        XCTAssertEqual("\(DatasetError.labelOutOfRange(split: "test", index: 4, label: 12, classCount: 10))",
                       "dataset 'test': image 4 has label 12, outside the 10 classes 0...9")
        let good = try dataset(classNames: ["cat", "dog"])
        XCTAssertEqual(good.className(of: 1), "dog")
        XCTAssertEqual(try dataset().className(of: 1), "1")
    }

    func testSplitsThatDisagreeAreRefused() throws {
        let square = try dataset(), wide = try dataset(width: 3)
        let named = try dataset(classNames: ["a", "b"]), more = try dataset(classCount: 3)
        for (validation, word) in [(wide, "image shapes"), (more, "class counts"), (named, "class names")] {
            XCTAssertThrowsError(try DataSplits(training: square, validation: validation, test: square)) { error in
                guard case .splitsDisagree(let difference)? = error as? DatasetError else { return XCTFail("\(error)") }
                XCTAssertTrue(difference.hasPrefix(word), difference)
            }
        }
        XCTAssertEqual(try DataSplits(training: square, validation: square, test: square).classCount, 2)
    }

    func testDataFileErrorsSayWhichKindOfProblem() throws {
        let labels: [UInt8] = [0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3]
        func write(_ bytes: [UInt8], _ name: String) throws -> String {
            try AtomicFile.write(bytes, to: path(name))
            return path(name)
        }
        func kind(_ body: () throws -> Void) -> DataFileError.Kind? {
            do { try body() } catch let error as DataFileError { return error.kind } catch { XCTFail("\(error)") }
            return nil
        }
        XCTAssertEqual(kind { _ = try IDX.readLabels(contentsOf: path("absent")) }, .missing)
        XCTAssertEqual(kind { _ = try IDX.readLabels(contentsOf: folder.path) }, .notReadable)
        XCTAssertEqual(kind { _ = try IDX.readLabels(contentsOf: try write(Array(labels.dropLast()), "short")) }, .damaged)
        XCTAssertEqual(kind { _ = try IDX.readLabels(contentsOf: try write(labels, "three"), classes: 3) }, .badLabel)
        XCTAssertEqual(kind { _ = try IDX.readLabels(contentsOf: try write(labels, "ok"), classes: 4) }, nil)
        XCTAssertEqual(kind { _ = try IDX.readLabels(contentsOf: try write([1, 2, 3, 4], "text")) }, .unexpectedContents)
        XCTAssertEqual(kind { _ = try IDX.readImages(contentsOf: try write([0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2], "flat")) },
                       .badShape)
        XCTAssertEqual(kind { _ = try IDXFiles.inFolder(folder.path) }, .missing)
        XCTAssertEqual(DataFileError(FileError.tooLarge(path: "a", bytes: 9, limit: 4)).kind, .tooLarge)
    }

    func testTheBoundedReaderRefusesWhatIsTooLargeOrNotThere() throws {
        try AtomicFile.write(Array(repeating: 7, count: 100), to: path("hundred"))
        XCTAssertEqual(try BoundedFile.read(path("hundred"), limit: 100, expected: "a test file").count, 100)
        XCTAssertThrowsError(try BoundedFile.read(path("hundred"), limit: 99, expected: "a test file")) { error in
            XCTAssertEqual(error as? FileError, .tooLarge(path: path("hundred"), bytes: 100, limit: 99))
        }
        XCTAssertThrowsError(try BoundedFile.read(path("absent"), limit: 99, expected: "a test file")) { error in
            XCTAssertEqual(error as? FileError, .missing(path: path("absent")))
            XCTAssertEqual("\(error)", "\(path("absent")): no such file")
        }
        XCTAssertThrowsError(try BoundedFile.read(folder.path, limit: 99, expected: "a test file")) { error in
            XCTAssertEqual("\(error)", "\(folder.path): is a directory, not a test file")
        }
        XCTAssertThrowsError(try BoundedFile.checkReadable(path("hundred"), limit: 10, expected: "a test file")) { error in
            guard case .tooLarge? = error as? FileError else { return XCTFail("\(error)") }
        }
    }

    func testTheAtomicWriterReplacesWholeFilesAndLeavesNoTemporary() throws {
        try AtomicFile.write([1, 2, 3], to: path("f"))
        try AtomicFile.write([4, 5], to: path("f"))
        XCTAssertEqual([UInt8](try Data(contentsOf: URL(fileURLWithPath: path("f")))), [4, 5])
        XCTAssertFalse(FileManager.default.fileExists(atPath: AtomicFile.temporaryPath(for: path("f"))))
        XCTAssertThrowsError(try AtomicFile.write([1], to: path("no-folder/f"))) { error in
            guard case .writeFailed(let file, let step, _)? = error as? FileError else { return XCTFail("\(error)") }
            XCTAssertEqual(file, path("no-folder/f"))
            XCTAssertEqual(step, "cannot create \(AtomicFile.temporaryPath(for: path("no-folder/f")))")
        }
    }

    func testTheAppenderAddsWholeRecordsAcrossOpenings() throws {
        try AppendingFile(path: path("log")).append(Array("one\n".utf8))
        try AppendingFile(path: path("log")).append(Array("two\n".utf8))
        XCTAssertEqual(try String(contentsOfFile: path("log"), encoding: .utf8), "one\ntwo\n")
        XCTAssertThrowsError(try AppendingFile(path: path("no-folder/log"))) { error in
            guard case .writeFailed? = error as? FileError else { return XCTFail("\(error)") }
        }
    }

    /// The advice on where to get MNIST is cnn's; the library's line only says the file is missing.
    func testCNNAddsTheFetchHintToAMissingPickle() throws {
        let result = try runCNN(["export-idx", "--out", "idx"], in: folder)
        XCTAssertNotEqual(result.status, 0)
        XCTAssertEqual(result.standardError, "cnn: error: data/mnist.pkl.gz: no such file (run scripts/fetch-mnist.sh)\n")
    }
}
