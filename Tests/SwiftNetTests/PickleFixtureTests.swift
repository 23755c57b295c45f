// PickleFixtureTests.swift: pickles that real Python wrote, read exactly.
//
// The fixtures in Tests/Fixtures/Pickles (outside the test target, so that
// SwiftPM does not warn about files it is not told of) were written by Python 2.7's cPickle with
// numpy 1.16 (protocols 0 to 2) and by Python 3.11's pickle with numpy 1.26
// and 2.4 (protocols 0 to 5); scripts/make-pickle-fixtures.py made them and
// says how.  Each test here computes the values that script stored and
// checks that the restricted decoder returns them bit for bit, so that every
// spelling of an array (STRING, BINSTRING, _codecs.encode of UNICODE or
// BINUNICODE text, BINBYTES, protocol 5's BYTEARRAY8 and _frombuffer) and of
// its containers (the memo, lists, frames) is covered by a file Python wrote.

import Foundation
@testable import SwiftNet
import XCTest

/// The committed fixtures, found from this file's place in the package.
enum PickleFixtures {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/Pickles")

    /// Which interpreter and numpy wrote which protocols.
    static let writers: [(tag: String, protocols: ClosedRange<Int>)] = [
        ("py2.7-np1.16.6", 0...2), ("py3.11-np1.26.4", 0...5), ("py3.11-np2.4.6", 0...5),
    ]

    /// The paths of every fixture of `kind` ("mnist", "params" or "seed"), failing the test if one is missing.
    static func paths(_ kind: String, file: StaticString = #filePath, line: UInt = #line) -> [String] {
        var paths: [String] = []
        for (tag, protocols) in writers {
            for number in protocols where kind != "seed" || (tag.hasPrefix("py3") && number >= 4) {
                let path = folder.appendingPathComponent("\(kind)-\(tag)-p\(number).pkl.gz").path
                XCTAssertTrue(FileManager.default.fileExists(atPath: path), "missing fixture \(path)", file: file, line: line)
                paths.append(path)
            }
        }
        return paths
    }

    /// The bytes of a fixture after gunzip.
    static func uncompressed(_ path: String) throws -> [UInt8] {
        let input = try UncompressedByteStream(path: path)
        var bytes: [UInt8] = []
        while let byte = try input.readByte() { bytes.append(byte) }
        return bytes
    }

    /// ((37 i) % 101 - 50) / 16, the script's values() for the params fixtures.
    static func value(_ index: Int) -> Double { Double((37 * index) % 101 - 50) / 16 }
}

final class PickleFixtureTests: XCTestCase {
    func testMNISTFixturesLoadWithTheirValues() throws {
        let paths = PickleFixtures.paths("mnist")
        XCTAssertEqual(paths.count, 15)
        for path in paths {
            let name = URL(fileURLWithPath: path).lastPathComponent
            let mnist = try MNIST.load(contentsOf: path)
            for (split, dataset) in [mnist.training, mnist.validation, mnist.test].enumerated() {
                XCTAssertEqual(dataset.count, [2, 1, 1][split], name)
                XCTAssertEqual(dataset.labels, (0..<dataset.count).map { Int32((split + $0) % 10) }, "\(name) \(dataset.name)")
                let expected = (0..<dataset.count).flatMap { image in
                    (0..<784).map { SmallMNISTPickle.pixelByte(split: split, image: image, index: $0) }
                }
                XCTAssertEqual(dataset.pixels, expected, "\(name) \(dataset.name)")
            }
        }
    }

    func testParameterFixturesDecodeToTheirValuesBitForBit() throws {
        var w1 = (0..<18).map { Float(PickleFixtures.value($0)) }
        // Bit patterns holding ' \ newline " CR 0x1a 0x80 0xff, which protocol 0 escapes.
        for (index, bits) in [UInt32(0x220a_5c27), 0x1a0d_0080, 0xff7f_5c0a].enumerated() { w1[index] = Float(bitPattern: bits) }
        var w2 = (0..<12).map(PickleFixtures.value)
        w2[0] = Double(bitPattern: 0x0a5c_2722_0d1a_80ff)
        let b1 = (0..<2).map { Float(PickleFixtures.value($0)) }, b2 = (0..<3).map(PickleFixtures.value)

        let paths = PickleFixtures.paths("params")
        XCTAssertEqual(paths.count, 15)
        for path in paths {
            let name = URL(fileURLWithPath: path).lastPathComponent
            let values = try RestrictedPickleDecoder.decodeSequence(from: UncompressedByteStream(path: path), purpose: .parameters)
            guard values.count == 1, case .list(let list) = values[0], list.items.count == 2,
                  case .tuple(let first) = list.items[0], case .tuple(let second) = list.items[1],
                  first.items.count == 2, second.items.count == 2
            else {
                XCTFail("\(name): not [(w1, b1), (w2, b2)] but \(values.map(\.summary))")
                continue
            }
            let arrays = (first.items + second.items).map { item -> NumpyArrayContents? in
                if case .array(let array) = item { return array.contents }
                return nil
            }
            XCTAssertEqual(arrays.map { $0?.shape }, [[2, 1, 3, 3], [2], [4, 3], [3]], name)
            XCTAssertEqual(float32Bits(arrays[0]), w1.map(\.bitPattern), "\(name) w1")
            XCTAssertEqual(float32Bits(arrays[1]), b1.map(\.bitPattern), "\(name) b1")
            XCTAssertEqual(float64Bits(arrays[2]), w2.map(\.bitPattern), "\(name) w2")
            XCTAssertEqual(float64Bits(arrays[3]), b2.map(\.bitPattern), "\(name) b2")
        }
    }

    /// network3's own format as a Python 3 port writes it at protocols 4 and 5:
    /// one pickle per array, read into the layers in order with conv filters rotated.
    func testSeedFormatAtProtocols4And5ReadsIntoLayers() throws {
        let layers: [any Layer] = [
            ConvPoolLayer(filterShape: (2, 1, 5, 5), imageShape: (1, 1, 28, 28), poolSize: (2, 2), activation: .sigmoid),
            SoftmaxLayer(nIn: 288, nOut: 10),
        ]
        func values(_ count: Int) -> [Float] { (0..<count).map { Float($0 % 17 - 8) / 64 } }
        let convWeights = values(50)
        let rotated = (0..<2).flatMap { filter in convWeights[(filter * 25)..<((filter + 1) * 25)].reversed() }
        let expected = rotated + values(2880) + values(2) + values(10)
        let paths = PickleFixtures.paths("seed")
        XCTAssertEqual(paths.count, 4)
        for path in paths {
            let parameters = try Network3ParameterFile.read(contentsOf: path, layers: layers)
            XCTAssertEqual(parameters.map(\.bitPattern), expected.map(\.bitPattern), URL(fileURLWithPath: path).lastPathComponent)
        }
    }

    /// The same files, uncompressed, decode the same way: the gzip layer adds nothing.
    func testUncompressedFixturesDecodeAlike() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("swiftnet-fixtures-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        for path in PickleFixtures.paths("mnist") {
            let plain = folder.appendingPathComponent("plain.pkl").path
            try Data(PickleFixtures.uncompressed(path)).write(to: URL(fileURLWithPath: plain))
            XCTAssertEqual(try MNIST.load(contentsOf: plain).training.pixels, try MNIST.load(contentsOf: path).training.pixels, path)
        }
    }
}

private func float32Bits(_ contents: NumpyArrayContents?) -> [UInt32]? {
    guard case .float32(let values)? = contents?.elements else { return nil }
    return values.map(\.bitPattern)
}

private func float64Bits(_ contents: NumpyArrayContents?) -> [UInt64]? {
    guard case .float64(let values)? = contents?.elements else { return nil }
    return values.map(\.bitPattern)
}
