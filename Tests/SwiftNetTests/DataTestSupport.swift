// DataTestSupport.swift: helpers shared by the data-layer tests.
//
// The hostile-input tests need pickles that Python never wrote, so this file
// has a tiny pickle writer that emits the same opcodes numpy's Python 2
// pickles use (and lets a test emit any others), a gzip writer that stores
// data uncompressed (so a test can make a valid .gz without zlib's deflate
// and then damage it), and a way to find the real mnist.pkl.gz.

import Foundation
import SwiftNet
import XCTest

/// Where the real MNIST pickle is, if anywhere.
enum RealMNISTFile {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// SWIFTNET_MNIST if set (then it must exist: CI relies on these tests running),
    /// else data/mnist.pkl.gz in the package, else the shared CI copy beside it.
    static func path() throws -> String {
        if let path = ProcessInfo.processInfo.environment["SWIFTNET_MNIST"] {
            return path
        }
        for candidate in ["data/mnist.pkl.gz", "../shared/data/mnist.pkl.gz"] {
            let path = packageRoot.appendingPathComponent(candidate).standardizedFileURL.path
            if FileManager.default.fileExists(atPath: path) { return path }
        }
        throw XCTSkip("no MNIST pickle: run scripts/fetch-mnist.sh or set SWIFTNET_MNIST")
    }
}

/// Writes pickle opcodes; each method appends one opcode and its argument.
struct PickleWriter {
    private(set) var bytes: [UInt8] = []

    mutating func raw(_ more: [UInt8]) { bytes += more }
    mutating func proto(_ version: UInt8 = 2) { bytes += [0x80, version] }
    mutating func global(_ module: String, _ name: String) {
        bytes += [UInt8(ascii: "c")] + Array("\(module)\n\(name)\n".utf8)
    }
    mutating func binput(_ index: UInt8) { bytes += [UInt8(ascii: "q"), index] }
    mutating func binget(_ index: UInt8) { bytes += [UInt8(ascii: "h"), index] }
    mutating func int(_ value: Int32) {
        switch value {
        case 0...0xff: bytes += [UInt8(ascii: "K"), UInt8(value)]
        case 0x100...0xffff: bytes += [UInt8(ascii: "M"), UInt8(value & 0xff), UInt8(value >> 8)]
        default: bytes += [UInt8(ascii: "J")] + littleEndian(UInt32(bitPattern: value))
        }
    }
    mutating func shortString(_ text: String) {
        let utf8 = Array(text.utf8)
        bytes += [UInt8(ascii: "U"), UInt8(utf8.count)] + utf8
    }
    /// BINSTRING with the given length field, which a hostile test may make wrong.
    mutating func binstring(_ data: [UInt8], claimedLength: Int32? = nil) {
        bytes += [UInt8(ascii: "T")] + littleEndian(UInt32(bitPattern: claimedLength ?? Int32(data.count))) + data
    }
    mutating func mark() { bytes += [UInt8(ascii: "(")] }
    mutating func tuple() { bytes += [UInt8(ascii: "t")] }
    mutating func tuple(of count: Int) { bytes += [0x84 + UInt8(count)] }
    mutating func reduce() { bytes += [UInt8(ascii: "R")] }
    mutating func build() { bytes += [UInt8(ascii: "b")] }
    mutating func none() { bytes += [UInt8(ascii: "N")] }
    mutating func bool(_ value: Bool) { bytes += [value ? 0x88 : 0x89] }
    mutating func stop() { bytes += [UInt8(ascii: ".")] }

    /// `dtype(code, 0, 1)` built with numpy's state (3, byteOrder, None, None, None, -1, -1, 0).
    mutating func dtype(_ code: String, byteOrder: String = "<") {
        global("numpy", "dtype")
        shortString(code)
        int(0)
        int(1)
        tuple(of: 3)
        reduce()
        mark()
        int(3)
        shortString(byteOrder)
        none()
        none()
        none()
        int(-1)
        int(-1)
        int(0)
        tuple()
        build()
    }

    /// An ndarray exactly as numpy's Python 2 pickles spell it, with its raw data.
    mutating func array(_ code: String, shape: [Int32], data: [UInt8], byteOrder: String = "<",
                        fortranOrder: Bool = false) {
        global("numpy.core.multiarray", "_reconstruct")
        global("numpy", "ndarray")
        int(0)
        tuple(of: 1)
        shortString("b")
        tuple(of: 3)
        reduce()
        mark()
        int(1)
        mark()
        for extent in shape { int(extent) }
        tuple()
        dtype(code, byteOrder: byteOrder)
        bool(fortranOrder)
        binstring(data)
        tuple()
        build()
    }
}

func littleEndian(_ value: UInt32) -> [UInt8] {
    (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
}

func float32Bytes(_ values: [Float]) -> [UInt8] {
    values.flatMap { littleEndian($0.bitPattern) }
}

func int64Bytes(_ values: [Int64]) -> [UInt8] {
    values.flatMap { value in (0..<8).map { UInt8(truncatingIfNeeded: UInt64(bitPattern: value) >> (8 * $0)) } }
}

/// A small MNIST-shaped pickle: the three splits with the given numbers of
/// 784-pixel images. Pixel i of image n of split s is ((s + 3n + i) % 256) / 256,
/// label n of split s is (s + n) % 10, unless `pixels` / `labels` override them.
struct SmallMNISTPickle {
    var counts = [3, 2, 2]
    var imageCode = "f4"
    var labelCode = "i8"
    var imageColumns: Int32 = 784
    var pixels: ((Int, Int, Int) -> Float)?
    var labels: ((Int, Int) -> Int64)?

    static func pixelByte(split: Int, image: Int, index: Int) -> UInt8 {
        UInt8((split + 3 * image + index) % 256)
    }

    var bytes: [UInt8] {
        var writer = PickleWriter()
        writer.proto()
        writer.mark()
        for (split, count) in counts.enumerated() {
            var values: [Float] = []
            for image in 0..<count {
                for index in 0..<Int(imageColumns) {
                    values.append(pixels?(split, image, index)
                        ?? Float(Self.pixelByte(split: split, image: image, index: index)) / 256)
                }
            }
            writer.array(imageCode, shape: [Int32(count), imageColumns], data: float32Bytes(values))
            let digits = (0..<count).map { labels?(split, $0) ?? Int64((split + $0) % 10) }
            writer.array(labelCode, shape: [Int32(count)], data: int64Bytes(digits))
            writer.tuple(of: 2)
        }
        writer.tuple()
        writer.stop()
        return writer.bytes
    }
}

/// A valid gzip file holding `data` in stored (uncompressed) deflate blocks.
func storedGzip(_ data: [UInt8]) -> [UInt8] {
    var out: [UInt8] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]
    var start = 0
    repeat {
        let length = min(65_535, data.count - start)
        let isFinal = start + length == data.count
        out.append(isFinal ? 1 : 0)
        out += [UInt8(length & 0xff), UInt8(length >> 8), UInt8(~length & 0xff), UInt8((~length >> 8) & 0xff)]
        out += data[start..<(start + length)]
        start += length
    } while start < data.count
    out += littleEndian(crc32(data)) + littleEndian(UInt32(truncatingIfNeeded: data.count))
    return out
}

func crc32(_ data: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xffff_ffff
    for byte in data {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = (crc >> 1) ^ (0xedb8_8320 & (0 &- (crc & 1))) }
    }
    return ~crc
}

/// A temporary directory for one test, removed when the test ends.
class DataFileTestCase: XCTestCase {
    private(set) var directory = URL(fileURLWithPath: "/nonexistent")

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("swiftnet-data-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func write(_ bytes: [UInt8], to name: String = "file.pkl") throws -> String {
        let url = directory.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    /// The error MNIST.load throws for these bytes; fails the test if it loads
    /// them or throws anything but a one-line DataFileError naming the file.
    func loadError(_ bytes: [UInt8], name: String = "file.pkl",
                   file: StaticString = #filePath, line: UInt = #line) throws -> DataFileError? {
        let path = try write(bytes, to: name)
        do {
            _ = try MNIST.load(contentsOf: path)
            XCTFail("loaded \(bytes.count) bytes that should have been refused", file: file, line: line)
            return nil
        } catch let error as DataFileError {
            XCTAssertEqual(error.path, path, file: file, line: line)
            XCTAssertTrue(error.description.hasPrefix(path + ": "), error.description, file: file, line: line)
            XCTAssertFalse(error.description.contains("\n"), error.description, file: file, line: line)
            return error
        }
    }

    /// Asserts that loading `bytes` fails with a reason containing `expected`
    /// (and, if given, at `offset`).
    func assertRefused(_ bytes: [UInt8], because expected: String, at offset: Int64? = nil,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        guard let error = try loadError(bytes, file: file, line: line) else { return }
        XCTAssertTrue(error.reason.contains(expected), "reason \"\(error.reason)\" lacks \"\(expected)\"",
                      file: file, line: line)
        if let offset {
            XCTAssertEqual(error.offset, offset, error.description, file: file, line: line)
        }
    }
}

extension Dataset {
    /// A dataset the test builds from values it knows to be valid; a mistake in
    /// the test itself stops it here with the DatasetError's line.
    static func valid(name: String, channels: Int, height: Int, width: Int, pixels: [UInt8], labels: [Int32],
                      classCount: Int, classNames: [String]? = nil) -> Dataset {
        do {
            return try Dataset(name: name, channels: channels, height: height, width: width, pixels: pixels,
                               labels: labels, classCount: classCount, classNames: classNames)
        } catch {
            preconditionFailure("test data: \(error)")
        }
    }
}
