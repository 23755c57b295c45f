// MNISTRealFileTests.swift: the real network3.py mnist.pkl.gz, decoded.
//
// The pinned numbers (counts per class, pixel sums, a row of pixels from the
// first image of each split) were computed with Python's own unpickler and
// numpy from the same file, sha256 f11bb9e4...1416, so a decoder that drops,
// reorders or rounds anything fails here. Damaging the real file checks that
// zlib's errors reach the caller as DataFileErrors. The file is loaded once
// for all the tests that read it.

import Foundation
import SwiftNet
import XCTest

final class MNISTRealFileTests: DataFileTestCase {
    private static let loaded: Result<DataSplits, any Error>? = {
        guard let path = try? RealMNISTFile.path() else { return nil }
        return Result { try MNIST.load(contentsOf: path) }
    }()

    private func realMNIST() throws -> DataSplits {
        guard let loaded = Self.loaded else {
            _ = try RealMNISTFile.path() // throws the XCTSkip that says what to do
            throw XCTSkip("no MNIST pickle")
        }
        return try loaded.get()
    }

    /// The pixels are kept as bytes, so the whole file needs 70,000 x 784 bytes plus
    /// 70,000 int64 labels (55.44 MB) and a little for the pickle's small values.
    func testTheRealFileFitsAMemoryLimitOf56MB() throws {
        let path = try RealMNISTFile.path()
        XCTAssertNoThrow(try MNIST.load(contentsOf: path, memoryLimit: 56_000_000))
        XCTAssertThrowsError(try MNIST.load(contentsOf: path, memoryLimit: 55_000_000)) { error in
            XCTAssertEqual((error as? DataFileError)?.kind, .tooLarge, "\(error)")
        }
    }

    func testSplitsHaveNetwork3sShapes() throws {
        let mnist = try realMNIST()
        for (dataset, name, count) in [(mnist.training, "training", 50_000), (mnist.validation, "validation", 10_000),
                                       (mnist.test, "test", 10_000)] {
            XCTAssertEqual(dataset.name, name)
            XCTAssertEqual(dataset.count, count, name)
            XCTAssertEqual([dataset.channels, dataset.height, dataset.width], [1, 28, 28], name)
            XCTAssertEqual(dataset.imageSize, 784, name)
            XCTAssertEqual(dataset.pixels.count, count * 784, name)
            XCTAssertEqual(dataset.labels.count, count, name)
        }
    }

    func testEveryClassHasItsPinnedCount() throws {
        let mnist = try realMNIST()
        let expected: [(Dataset, [Int])] = [
            (mnist.training, [4932, 5678, 4968, 5101, 4859, 4506, 4951, 5175, 4842, 4988]),
            (mnist.validation, [991, 1064, 990, 1030, 983, 915, 967, 1090, 1009, 961]),
            (mnist.test, [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]),
        ]
        for (dataset, counts) in expected {
            var found = [Int](repeating: 0, count: 10)
            for label in dataset.labels { found[Int(label)] += 1 }
            XCTAssertEqual(found, counts, dataset.name)
        }
    }

    func testPinnedLabelsAndPixels() throws {
        let mnist = try realMNIST()
        XCTAssertEqual(Array(mnist.training.labels.prefix(10)), [5, 0, 4, 1, 9, 2, 1, 3, 1, 4])
        XCTAssertEqual(Array(mnist.validation.labels.prefix(10)), [3, 8, 6, 9, 6, 4, 5, 3, 8, 4])
        XCTAssertEqual(Array(mnist.test.labels.prefix(10)), [7, 2, 1, 0, 4, 1, 4, 9, 5, 9])
        XCTAssertEqual(Array(mnist.training.labels.suffix(3)), [8, 4, 8])
        XCTAssertEqual(Array(mnist.test.labels.suffix(3)), [4, 5, 6])

        // Row 14 of the first image of each split, as bytes (pixel = byte / 256).
        func row14(_ dataset: Dataset) -> [UInt8] { Array(dataset.pixels[(14 * 28)..<(15 * 28)]) }
        XCTAssertEqual(row14(mnist.training), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 81, 240, 253, 253, 119, 25,
                                               0, 0, 0, 0, 0, 0, 0, 0, 0])
        XCTAssertEqual(row14(mnist.validation), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 207, 254, 254, 65, 0, 0, 0, 0,
                                                 0, 0, 0, 0, 0, 0, 0, 0, 0])
        XCTAssertEqual(row14(mnist.test), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 59, 249, 254, 62, 0,
                                           0, 0, 0, 0, 0, 0, 0])
        // The first ink in the first training image: pixels 152... are 3/256, 18/256, 18/256.
        XCTAssertEqual(Array(mnist.training.pixels[152..<155]), [3, 18, 18])
        XCTAssertEqual(mnist.training.pixels[0..<152].max(), 0)

        for (dataset, sum, lastImageSum) in [(mnist.training, 1_309_089_051, 26_846),
                                             (mnist.validation, 258_209_494, 20_920),
                                             (mnist.test, 264_923_200, 41_833)] {
            XCTAssertEqual(dataset.pixels.reduce(0) { $0 + Int($1) }, sum, dataset.name)
            XCTAssertEqual(dataset.pixels.suffix(784).reduce(0) { $0 + Int($1) }, lastImageSum, dataset.name)
            XCTAssertEqual(dataset.pixels.max(), 255, dataset.name)
        }
    }

    func testPrefixKeepsTheFirstImages() throws {
        let mnist = try realMNIST()
        let first = mnist.test.prefix(3)
        XCTAssertEqual(first.count, 3)
        XCTAssertEqual(first.labels, [7, 2, 1])
        XCTAssertEqual(first.pixels, Array(mnist.test.pixels.prefix(3 * 784)))
        XCTAssertEqual(mnist.validation.prefix(20_000).count, 10_000)
        XCTAssertEqual(mnist.validation.prefix(0).count, 0)
    }

    /// Truncations and flipped bits, each far enough into the compressed data
    /// that only zlib's checks (or the decoder's) can catch it.
    func testDamagedCopiesAreRefused() throws {
        _ = try realMNIST()
        let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: try RealMNISTFile.path())))
        let size = original.count
        var damaged: [(String, [UInt8])] = []
        for length in [0, 1, 9, 20, 4_000, 1_000_000, size - 8, size - 1] {
            damaged.append(("truncated to \(length) bytes", Array(original.prefix(length))))
        }
        // 5,000 and 2,000,000 are inside deflate blocks; size - 6 is in the CRC, size - 2 in the length.
        for offset in [5_000, 2_000_000, size - 6, size - 2] {
            var copy = original
            copy[offset] ^= 0x10
            damaged.append(("bit 4 flipped at byte \(offset)", copy))
        }
        for (what, bytes) in damaged {
            guard let error = try loadError(bytes, name: "damaged.pkl.gz") else { continue }
            print("\(what): \(error)")
        }
    }
}
