// IDXRealFileTests.swift: the real MNIST pickle, written as IDX files and read back.
//
// The standard IDX training file holds 60,000 images; network3's pickle is
// its first 50,000 (training) and last 10,000 (validation).  The real IDX
// files cannot be fetched here, so this checks what can be: the pickle's
// training and validation labels, taken together, have exactly the standard
// training file's published class counts and first labels, and the
// standard test file's; and the four files written from the pickle load
// back, with the default validation size, as splits byte-identical to the
// pickle's.

import Foundation
@testable import SwiftNet
import XCTest

final class IDXRealFileTests: DataFileTestCase {
    func testThePicklesSplitsSurviveARoundTripThroughIDXFiles() throws {
        let pickle = try MNIST.load(contentsOf: try RealMNISTFile.path())
        let trainingFile = try IDX.labelFileBytes([pickle.training, pickle.validation])
        // The standard files' per-class counts (train-labels-idx1-ubyte and t10k-labels-idx1-ubyte).
        func classCounts(_ labels: some Sequence<Int32>) -> [Int] {
            var counts = [Int](repeating: 0, count: 10)
            for label in labels { counts[Int(label)] += 1 }
            return counts
        }
        XCTAssertEqual(classCounts(trainingFile.dropFirst(8).map { Int32($0) }),
                       [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949])
        XCTAssertEqual(classCounts(pickle.test.labels), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
        XCTAssertEqual(Array(trainingFile[8..<18]), [5, 0, 4, 1, 9, 2, 1, 3, 1, 4])

        let contents = [try IDX.imageFileBytes([pickle.training, pickle.validation]), trainingFile,
                        try IDX.imageFileBytes([pickle.test]), try IDX.labelFileBytes([pickle.test])]
        XCTAssertEqual(contents.map(\.count), [16 + 60_000 * 784, 8 + 60_000, 16 + 10_000 * 784, 8 + 10_000])
        // The large training images plain, the rest gzipped by zlib, as a downloaded folder might mix them.
        for (index, name) in IDXFiles.standardNames.enumerated() {
            if index == 0 {
                _ = try write(contents[index], to: name)
            } else {
                _ = try write(IDX.gzip(contents[index], level: 1), to: name + ".gz")
            }
        }
        let loaded = try MNIST.load(idx: try IDXFiles.inFolder(directory.path))
        for (mine, theirs) in [(loaded.training, pickle.training), (loaded.validation, pickle.validation),
                               (loaded.test, pickle.test)] {
            XCTAssertEqual(mine.count, theirs.count, theirs.name)
            XCTAssertEqual([mine.channels, mine.height, mine.width], [1, 28, 28], theirs.name)
            XCTAssertTrue(mine.pixels == theirs.pixels, "\(theirs.name) pixels differ")
            XCTAssertEqual(mine.labels, theirs.labels, theirs.name)
        }
    }
}
