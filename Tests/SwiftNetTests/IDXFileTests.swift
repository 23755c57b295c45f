// IDXFileTests.swift: the IDX reader and writer on files written here.
//
// Small image and label files are written by the library's own writer, plain
// and gzipped by zlib, and read back; a gzip file is recognised by its first
// bytes whatever its name.  A folder of the four standard files (in any of
// their usual spellings) loads as training, validation (the last images of
// the training file) and test splits.  Every damaged or inconsistent file is
// refused with one line that names it.

import Foundation
@testable import SwiftNet
import XCTest

final class IDXFileTests: DataFileTestCase {
    /// `count` images of 1x5x4 pixels: pixel i of image n is (7n + i + seed) % 256; label n is (n + seed) % 10.
    private func smallSplit(_ name: String, count: Int, seed: Int = 0, channels: Int = 1) -> Dataset {
        let size = channels * 5 * 4
        return Dataset.valid(name: name, channels: channels, height: 5, width: 4,
                       pixels: (0..<(count * size)).map { UInt8((7 * ($0 / size) + $0 % size + seed) % 256) },
                       labels: (0..<count).map { Int32(($0 + seed) % 10) }, classCount: 10)
    }

    /// Writes the four standard files for `training` and `test` into the test's folder.
    private func writeFolder(training: Dataset, test: Dataset, gzipped: Bool = false) throws -> IDXFiles {
        let suffix = gzipped ? ".gz" : ""
        let names = IDXFiles.standardNames.map { $0 + suffix }
        let contents = [try IDX.imageFileBytes([training]), try IDX.labelFileBytes([training]),
                        try IDX.imageFileBytes([test]), try IDX.labelFileBytes([test])]
        let paths = try zip(names, contents).map { name, bytes in try write(gzipped ? IDX.gzip(bytes) : bytes, to: name) }
        return IDXFiles(trainingImages: paths[0], trainingLabels: paths[1], testImages: paths[2], testLabels: paths[3])
    }

    /// Asserts that `body` throws a one-line DataFileError naming `path` whose reason contains `expected`.
    private func assertRefused(_ path: String, because expected: String, file: StaticString = #filePath, line: UInt = #line,
                               _ body: () throws -> Void) {
        do {
            try body()
            XCTFail("\(path) was accepted; expected a refusal because \(expected)", file: file, line: line)
        } catch let error as DataFileError {
            XCTAssertEqual(error.path, path, error.description, file: file, line: line)
            XCTAssertTrue(error.description.hasPrefix(path + ": "), error.description, file: file, line: line)
            XCTAssertFalse(error.description.contains("\n"), error.description, file: file, line: line)
            XCTAssertTrue(error.reason.contains(expected), "reason \"\(error.reason)\" lacks \"\(expected)\"", file: file, line: line)
        } catch {
            XCTFail("threw \(error), not a DataFileError", file: file, line: line)
        }
    }

    func testTheHeaderIsTheStandardOne() throws {
        let images = try IDX.imageFileBytes([smallSplit("a", count: 3)])
        XCTAssertEqual(Array(images.prefix(16)), [0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 5, 0, 0, 0, 4])
        XCTAssertEqual(images.count, 16 + 3 * 20)
        let labels = try IDX.labelFileBytes([smallSplit("a", count: 300)])
        XCTAssertEqual(Array(labels.prefix(8)), [0, 0, 8, 1, 0, 0, 1, 44])
        XCTAssertEqual(Array(labels.suffix(3)), [7, 8, 9])
    }

    func testPlainAndGzippedFilesReadTheSameWhateverTheirNames() throws {
        let split = smallSplit("training", count: 9, seed: 4)
        let plain = try IDX.imageFileBytes([split])
        let gzipped = try IDX.gzip(plain)
        XCTAssertEqual(Array(gzipped.prefix(2)), [0x1f, 0x8b], "zlib wrote a gzip member")
        for (bytes, name) in [(plain, "images"), (gzipped, "images.gz"), (gzipped, "gzipped-without-suffix"),
                              (plain, "plain-with-suffix.gz")] {
            let images = try IDX.readImages(contentsOf: try write(bytes, to: name))
            XCTAssertEqual([images.count, images.channels, images.height, images.width], [9, 1, 5, 4], name)
            XCTAssertEqual(images.pixels, split.pixels, name)
        }
        let labels = try IDX.labelFileBytes([split])
        for (bytes, name) in [(labels, "labels"), (try IDX.gzip(labels, level: 9), "labels.gz")] {
            XCTAssertEqual(try IDX.readLabels(contentsOf: try write(bytes, to: name)), split.labels, name)
        }
    }

    func testFourDimensionalFilesAreChannelsFirst() throws {
        let split = smallSplit("training", count: 3, channels: 3)
        let bytes = try IDX.imageFileBytes([split])
        XCTAssertEqual(Array(bytes.prefix(4)), [0, 0, 8, 4])
        let images = try IDX.readImages(contentsOf: try write(bytes, to: "rgb"))
        XCTAssertEqual([images.count, images.channels, images.height, images.width], [3, 3, 5, 4])
        XCTAssertEqual(images.pixels, split.pixels)
    }

    func testAFolderSplitsItsTrainingFileFromTheEnd() throws {
        let training = smallSplit("training", count: 12), test = smallSplit("test", count: 5, seed: 9)
        let files = try writeFolder(training: training, test: test, gzipped: true)
        XCTAssertEqual(try IDXFiles.inFolder(directory.path), files)
        let mnist = try MNIST.load(idx: try IDXFiles.inFolder(directory.path), validationSize: 4)
        XCTAssertEqual(mnist.training.pixels, training.prefix(8).pixels)
        XCTAssertEqual(mnist.training.labels, Array(training.labels[0..<8]))
        XCTAssertEqual(mnist.validation.pixels, Array(training.pixels[(8 * 20)...]))
        XCTAssertEqual(mnist.validation.labels, Array(training.labels[8...]))
        XCTAssertEqual(mnist.test.pixels, test.pixels)
        XCTAssertEqual(mnist.test.labels, test.labels)
        XCTAssertEqual([mnist.training.name, mnist.validation.name, mnist.test.name], ["training", "validation", "test"])
        XCTAssertEqual([mnist.validation.channels, mnist.validation.height, mnist.validation.width], [1, 5, 4])
    }

    func testEverySpellingIsFoundAndThePlainFileWins() throws {
        let bytes = try IDX.labelFileBytes([smallSplit("a", count: 1)])
        let written = try ["train-images.idx3-ubyte", "train-labels-idx1-ubyte.gz", "t10k-images.idx3-ubyte.gz",
                           "t10k-labels-idx1-ubyte", "t10k-labels-idx1-ubyte.gz"].map { try write(bytes, to: $0) }
        let files = try IDXFiles.inFolder(directory.path + "/")
        XCTAssertEqual([files.trainingImages, files.trainingLabels, files.testImages, files.testLabels],
                       [written[0], written[1], written[2], written[3]])
        try FileManager.default.removeItem(atPath: written[1])
        assertRefused(directory.path + "/", because: "no train-labels-idx1-ubyte") { _ = try IDXFiles.inFolder(directory.path + "/") }
    }

    func testDamagedFilesAreRefusedNamingThem() throws {
        let split = smallSplit("training", count: 6)
        let images = try IDX.imageFileBytes([split]), labels = try IDX.labelFileBytes([split])
        var cases: [(String, [UInt8], String, Bool)] = [  // name, bytes, reason, read as images?
            ("empty", [], "the file is empty", true),
            ("short magic", [0, 0, 8], "inside its 4-byte IDX magic", true),
            ("foreign magic", Array("PK\u{3}\u{4}rest of a zip file".utf8), "not an IDX magic number", true),
            ("floats", [0, 0, 0x0D, 3] + images.dropFirst(4), "0x0d (32-bit floats)", true),
            ("labels as images", labels, "is a label file; expected an IDX image file", true),
            ("images as labels", images, "is an image file; expected an IDX label file", false),
            ("2 dimensions", [0, 0, 8, 2, 0, 0, 0, 1, 0, 0, 0, 1, 0], "2 dimensions", true),
            ("short header", Array(images.prefix(10)), "in extent 2 of 3", true),
            ("truncated pixels", Array(images.dropLast(5)), "ends after 115 of the 120 bytes of its 6 images", true),
            ("truncated labels", Array(labels.dropLast(1)), "ends after 5 of the 6 bytes of its 6 labels", false),
            ("trailing bytes", images + [0], "unexpected data after the 120 bytes of its 6 images", true),
            ("no images", try IDX.header([0, 5, 4]), "holds no images", true),
            ("no labels", try IDX.header([0]), "holds no labels", false),
            ("zero rows", try IDX.header([3, 0, 4]), "every extent must be positive", true),
            ("lying header", try IDX.header([0xFFFF_FFFF, 28, 28]) + images.suffix(10), "promise more than 1024 MiB", true),
        ]
        var badLabel = labels
        badLabel[8 + 4] = 10
        cases.append(("label 10", badLabel, "label 10 (image 4) is not a class 0...9", false))
        for (name, bytes, reason, asImages) in cases {
            for gzipped in [false, true] {
                let path = try write(gzipped ? IDX.gzip(bytes) : bytes, to: name + (gzipped ? ".gz" : ""))
                assertRefused(path, because: reason) {
                    if asImages { _ = try IDX.readImages(contentsOf: path) } else { _ = try IDX.readLabels(contentsOf: path) }
                }
            }
        }
        XCTAssertEqual(try IDX.readLabels(contentsOf: try write(badLabel, to: "eleven classes"), classes: 11)[4], 10)
        // A gzip stream cut short: zlib's own check, reported at the last good byte.
        let cut = try write(Array(IDX.gzip(images).dropLast(12)), to: "cut.gz")
        assertRefused(cut, because: "damaged or truncated") { _ = try IDX.readImages(contentsOf: cut) }
        let missing = directory.appendingPathComponent("missing").path
        assertRefused(missing, because: "no such file") { _ = try IDX.readImages(contentsOf: missing) }
    }

    func testInconsistentFilesAreRefusedNamingTheOneAtFault() throws {
        let training = smallSplit("training", count: 6), test = smallSplit("test", count: 3)
        var files = try writeFolder(training: training, test: test)
        for size in [0, 6, 7] {
            assertRefused(files.trainingImages, because: "a validation size of \(size) does not fit its 6 images") {
                _ = try MNIST.load(idx: files, validationSize: size)
            }
        }
        XCTAssertEqual(try MNIST.load(idx: files, validationSize: 5).training.count, 1)

        files.testLabels = files.trainingLabels
        assertRefused(files.trainingLabels, because: "holds 6 labels, but \(files.testImages) holds 3 images") {
            _ = try MNIST.load(idx: files, validationSize: 2)
        }
        let wide = Dataset.valid(name: "test", channels: 1, height: 4, width: 5, pixels: test.pixels, labels: test.labels, classCount: 10)
        files = try writeFolder(training: training, test: wide)
        assertRefused(files.testImages, because: "its images are 1x4x5; the training images") {
            _ = try MNIST.load(idx: files, validationSize: 2)
        }
    }
}
