// PickleHostileInputTests.swift: pickles the restricted decoder must refuse.
//
// A downloaded pickle is untrusted input. Each test here writes one that
// Python's unpickler would act on (or choke on) and checks that MNIST.load
// stops with a DataFileError whose reason says what was wrong and, where the
// test knows it, the exact byte offset; none may crash, hang or load.

import Foundation
import SwiftNet
import XCTest

final class PickleHostileInputTests: DataFileTestCase {
    // MARK: - Valid small pickles, so that the refusals below mean something

    func testSmallPickleLoadsPlainAndGzipped() throws {
        let pickle = SmallMNISTPickle().bytes
        for (name, bytes) in [("small.pkl", pickle), ("small.pkl.gz", storedGzip(pickle))] {
            let mnist = try MNIST.load(contentsOf: try write(bytes, to: name))
            XCTAssertEqual([mnist.training.count, mnist.validation.count, mnist.test.count], [3, 2, 2], name)
            XCTAssertEqual(mnist.training.labels, [0, 1, 2], name)
            XCTAssertEqual(mnist.test.labels, [2, 3], name)
            for (split, dataset) in [mnist.training, mnist.validation, mnist.test].enumerated() {
                let expected = (0..<dataset.count).flatMap { image in
                    (0..<784).map { SmallMNISTPickle.pixelByte(split: split, image: image, index: $0) }
                }
                XCTAssertEqual(dataset.pixels, expected, "\(name) \(dataset.name)")
            }
        }
    }

    func testEveryWholeNumberOf256thsBecomesItsByte() throws {
        var pickle = SmallMNISTPickle()
        pickle.counts = [1, 1, 1]
        pickle.pixels = { _, _, index in index == 300 ? -0.0 : Float(index % 256) / 256 }
        let mnist = try MNIST.load(contentsOf: try write(pickle.bytes))
        XCTAssertEqual(mnist.training.pixels, (0..<784).map { $0 == 300 ? 0 : UInt8($0 % 256) })
    }

    // MARK: - Code execution and objects outside the format

    func testAnotherGlobalIsRefusedWhereItStands() throws {
        var writer = PickleWriter()
        writer.proto()
        writer.global("os", "system")
        writer.shortString("echo owned")
        writer.tuple(of: 1)
        writer.reduce()
        writer.stop()
        try assertRefused(writer.bytes, because: "global 'os.system' is not allowed", at: 2)

        for (module, name) in [("builtins", "eval"), ("__builtin__", "getattr"), ("numpy", "load"),
                               ("numpy.core.multiarray", "scalar"), ("numpy\nx", "dtype")] {
            var other = PickleWriter()
            other.proto()
            other.global(module, name)
            other.stop()
            try assertRefused(other.bytes, because: "is not allowed", at: 2)
        }
    }

    func testUnknownAndDisallowedOpcodes() throws {
        for (opcode, expected) in [(UInt8(0xff), "opcode 0xff is not allowed"), (UInt8(ascii: "i"), "INST"),
                                   (UInt8(ascii: "o"), "OBJ"), (0x81, "NEWOBJ"), (0x93, "STACK_GLOBAL"),
                                   (UInt8(ascii: "d"), "DICT"), (UInt8(ascii: "P"), "PERSID")] {
            var writer = PickleWriter()
            writer.proto()
            writer.none()
            writer.raw([opcode])
            writer.stop()
            try assertRefused(writer.bytes, because: expected, at: 3)
        }
        // Protocols 0 to 5 are read (PickleFixtureTests); a newer one, and a PROTO that is not first, are not.
        try assertRefused([0x80, 6, UInt8(ascii: "N"), UInt8(ascii: ".")], because: "PROTO 6 is newer than this reader knows", at: 0)
        try assertRefused([0x80, 4, 0x95] + [UInt8](repeating: 0, count: 8), because: "the file is truncated")
        try assertRefused([UInt8(ascii: "N"), 0x80, 2], because: "PROTO 2 is not allowed", at: 1)
    }

    func testCallsOtherThanNumpysReconstructorsAreRefused() throws {
        var ndarrayCall = PickleWriter()
        ndarrayCall.proto()
        ndarrayCall.global("numpy", "ndarray")
        ndarrayCall.raw([UInt8(ascii: ")")])
        ndarrayCall.reduce()
        ndarrayCall.stop()
        try assertRefused(ndarrayCall.bytes, because: "REDUCE of numpy.ndarray is not allowed")

        var odd = PickleWriter()
        odd.proto()
        odd.global("numpy.core.multiarray", "_reconstruct")
        odd.global("numpy", "dtype") // not ndarray
        odd.int(0)
        odd.tuple(of: 1)
        odd.shortString("b")
        odd.tuple(of: 3)
        odd.reduce()
        odd.stop()
        try assertRefused(odd.bytes, because: "only numpy's _reconstruct(ndarray, (0,), 'b') is allowed")

        var buildOnTuple = PickleWriter()
        buildOnTuple.proto()
        buildOnTuple.raw([UInt8(ascii: ")"), UInt8(ascii: ")")])
        buildOnTuple.build()
        buildOnTuple.stop()
        try assertRefused(buildOnTuple.bytes, because: "BUILD on a tuple of 0 is not allowed")
    }

    // MARK: - Wrong dtypes, shapes and lengths

    func testWrongDtypesAreRefused() throws {
        var float64 = SmallMNISTPickle()
        float64.imageCode = "f8"
        try assertRefused(float64.bytes, because: "dtype 'f8' is not supported")

        var bigEndian = PickleWriter()
        bigEndian.proto()
        bigEndian.array("f4", shape: [1], data: [0, 0, 0, 0], byteOrder: ">")
        bigEndian.stop()
        try assertRefused(bigEndian.bytes, because: "only little-endian")

        var labelsAsFloats = SmallMNISTPickle()
        labelsAsFloats.labelCode = "f4"
        try assertRefused(labelsAsFloats.bytes, because: "holds 24 bytes of array data, but shape (3,) of f4 needs 12")

        var fortran = PickleWriter()
        fortran.proto()
        fortran.array("f4", shape: [1, 1], data: [0, 0, 0, 0], fortranOrder: true)
        fortran.stop()
        try assertRefused(fortran.bytes, because: "Fortran-ordered")
    }

    func testWrongStructureIsRefused() throws {
        var narrow = SmallMNISTPickle()
        narrow.imageColumns = 783
        try assertRefused(narrow.bytes, because: "training images are f4 of shape (3, 783); expected f4 of shape (N, 784)")

        var twoSplits = SmallMNISTPickle()
        twoSplits.counts = [3, 2]
        try assertRefused(twoSplits.bytes, because: "expected a tuple (training, validation, test)")

        var emptyTest = SmallMNISTPickle()
        emptyTest.counts = [3, 2, 0]
        try assertRefused(emptyTest.bytes, because: "the test split has no images")
    }

    func testNegativeAndHugeLengthsAreRefused() throws {
        var negative = PickleWriter()
        negative.proto()
        negative.binstring([], claimedLength: -5)
        negative.stop()
        try assertRefused(negative.bytes, because: "negative length (-5)", at: 2)

        var huge = PickleWriter()
        huge.proto()
        huge.binstring([1, 2, 3], claimedLength: Int32.max)
        huge.stop()
        try assertRefused(huge.bytes, because: "BINSTRING of 2147483647 bytes where only a short string may appear")

        var hugeShape = PickleWriter()
        hugeShape.proto()
        hugeShape.array("f4", shape: [Int32.max, Int32.max, Int32.max], data: [])
        hugeShape.stop()
        try assertRefused(hugeShape.bytes, because: "is too large")

        var negativeShape = PickleWriter()
        negativeShape.proto()
        negativeShape.array("f4", shape: [-1], data: [])
        negativeShape.stop()
        try assertRefused(negativeShape.bytes, because: "sizes of at least 0")

        // A length that matches its shape but runs past the end of the file.
        var beyondFile = PickleWriter()
        beyondFile.proto()
        beyondFile.array("f4", shape: [100_000, 784], data: [])
        // Drop the empty BINSTRING and the TUPLE and BUILD after it.
        var lying = Array(beyondFile.bytes.dropLast(7))
        lying += [UInt8(ascii: "T")] + littleEndian(100_000 * 784 * 4) + float32Bytes([0.5, 0.25])
        try assertRefused(lying, because: "the file is truncated")
    }

    // MARK: - The stack machine's own limits

    func testStackUnderflowAndMemoMisuse() throws {
        try assertRefused([0x80, 2, 0x86, UInt8(ascii: ".")], because: "stack underflow: TUPLE2 needs 2 values but none are", at: 2)
        try assertRefused([0x80, 2, UInt8(ascii: "N"), UInt8(ascii: "R")], because: "stack underflow: REDUCE", at: 3)
        try assertRefused([0x80, 2, UInt8(ascii: "N"), UInt8(ascii: "("), UInt8(ascii: "b")],
                          because: "above the last MARK", at: 4)
        try assertRefused([0x80, 2, UInt8(ascii: "t")], because: "TUPLE without a MARK")
        try assertRefused([0x80, 2, UInt8(ascii: "h"), 7], because: "BINGET 7: that memo index was never stored", at: 2)
        try assertRefused([0x80, 2, UInt8(ascii: "j"), 0xff, 0xff, 0xff, 0xff], because: "LONG_BINGET 4294967295")
        try assertRefused([0x80, 2, UInt8(ascii: "q"), 1], because: "nothing on the stack to store")
        try assertRefused([0x80, 2, UInt8(ascii: "."),], because: "STOP with 0 values")
        try assertRefused([0x80, 2, UInt8(ascii: "N"), UInt8(ascii: "N"), UInt8(ascii: ".")], because: "STOP with 2 values")
    }

    func testResourceLimits() throws {
        try assertRefused([0x80, 2] + [UInt8](repeating: UInt8(ascii: "N"), count: 5_000), because: "more than 1000 values")
        try assertRefused([0x80, 2] + [UInt8](repeating: UInt8(ascii: "("), count: 5_000), because: "nested MARKs")
        try assertRefused([0x80, 2, UInt8(ascii: ")")] + [UInt8](repeating: 0x85, count: 5_000), because: "nest more than")
        // Doubling a tuple through the memo: 2^40 leaves if anything walked it.
        var doubling: [UInt8] = [0x80, 2, UInt8(ascii: ")")]
        for _ in 0..<40 { doubling += [UInt8(ascii: "q"), 0, UInt8(ascii: "h"), 0, 0x86, 0x85] }
        try assertRefused(doubling, because: "nest more than")
        try assertRefused([0x80, 2, UInt8(ascii: "c")] + [UInt8](repeating: UInt8(ascii: "a"), count: 10_000),
                          because: "GLOBAL name longer than")
    }

    // MARK: - Values the data layer cannot store exactly

    func testPixelsThatAreNotByteOver256AreRefusedAtTheirOffset() throws {
        for bad: Float in [0.3, 1.0, -1.0 / 256, 1.0 / 512, .nan, .infinity, .leastNonzeroMagnitude] {
            var pickle = SmallMNISTPickle()
            pickle.pixels = { split, image, index in split == 0 && image == 1 && index == 5 ? bad : 0 }
            let bytes = pickle.bytes
            // The first image array's data starts after its BINSTRING header; find it by its size.
            let dataOffset = try XCTUnwrap(findBinstring(ofLength: 3 * 784 * 4, in: bytes))
            try assertRefused(bytes, because: "is not a whole number of 256ths in [0, 1)",
                              at: Int64(dataOffset + (784 + 5) * 4))
        }
    }

    func testLabelsOutsideZeroToNineAreRefusedAtTheirOffset() throws {
        for bad: Int64 in [10, -1, Int64.max] {
            var pickle = SmallMNISTPickle()
            pickle.labels = { split, image in split == 1 && image == 1 ? bad : 0 }
            let bytes = pickle.bytes
            // Validation is the first split with two labels, 16 bytes of data.
            let offset = try XCTUnwrap(findBinstring(ofLength: 2 * 8, in: bytes))
            try assertRefused(bytes, because: "validation label \(bad) (image 1) is not a digit 0...9",
                              at: Int64(offset + 8))
        }
    }

    // MARK: - Truncation, damage, trailing data, missing files

    func testTruncationAtEveryOffsetIsRefused() throws {
        var small = SmallMNISTPickle()
        small.counts = [1, 1, 1]
        let pickle = small.bytes
        for length in 0..<pickle.count {
            guard let error = try loadError(Array(pickle[..<length])) else { continue }
            let expected = length == 0 ? "the file is empty" : "the file is truncated"
            XCTAssertTrue(error.reason.contains(expected), "\(length): \(error)")
            XCTAssertLessThanOrEqual(error.offset ?? -1, Int64(length), "\(length): \(error)")
        }
    }

    func testTruncatedGzipAtEveryOffsetIsRefused() throws {
        var small = SmallMNISTPickle()
        small.counts = [1, 1, 1]
        let gzip = storedGzip(small.bytes)
        for length in 0..<gzip.count {
            _ = try loadError(Array(gzip[..<length]), name: "small.pkl.gz")
        }
    }

    func testFlippedBitsInGzipAreRefused() throws {
        var small = SmallMNISTPickle()
        small.counts = [1, 1, 1]
        let gzip = storedGzip(small.bytes)
        // Bytes 4...9 (time stamp, flags, OS) are outside gzip's checks: a flip there is harmless.
        for offset in 0..<gzip.count where !(4...9).contains(offset) {
            var damaged = gzip
            damaged[offset] ^= 1 << UInt8(offset % 8)
            _ = try loadError(damaged, name: "small.pkl.gz")
        }
    }

    func testDataAfterStopIsRefused() throws {
        let pickle = SmallMNISTPickle().bytes
        try assertRefused(pickle + [0], because: "unexpected data after the pickle's STOP opcode", at: Int64(pickle.count))
        let gzip = storedGzip(pickle + Array("trailing".utf8))
        guard let error = try loadError(gzip, name: "small.pkl.gz") else { return }
        XCTAssertEqual(error.offset, Int64(pickle.count), error.description)
    }

    func testMissingFileAndDirectory() throws {
        let missing = directory.appendingPathComponent("data/mnist.pkl.gz").path
        XCTAssertThrowsError(try MNIST.load(contentsOf: missing)) { error in
            // The library says what is wrong; where to get the file is cnn's advice (DataCommandTests).
            XCTAssertEqual("\(error)", "\(missing): no such file")
            XCTAssertEqual((error as? DataFileError)?.kind, .missing)
            XCTAssertNil((error as? DataFileError)?.offset)
        }
        XCTAssertThrowsError(try MNIST.load(contentsOf: directory.path)) { error in
            XCTAssertEqual("\(error)", "\(directory.path): is a directory, not a data file")
            XCTAssertEqual((error as? DataFileError)?.kind, .notReadable)
        }
    }

    func testErrorDescriptionFormats() {
        XCTAssertEqual(DataFileError(.unexpectedContents, path: "a.pkl", reason: "bad").description, "a.pkl: bad")
        XCTAssertEqual(DataFileError(.damaged, path: "a.pkl", offset: 12, reason: "bad").description, "a.pkl: at byte 12: bad")
    }
}

/// The offset just after the header of the first BINSTRING whose length field is `length`.
private func findBinstring(ofLength length: Int, in bytes: [UInt8]) -> Int? {
    let header = [UInt8(ascii: "T")] + littleEndian(UInt32(length))
    guard bytes.count >= header.count else { return nil }
    for index in 0...(bytes.count - header.count) where Array(bytes[index..<(index + header.count)]) == header {
        return index + header.count
    }
    return nil
}
