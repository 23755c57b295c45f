// ImageCodecTests.swift: the PNG and PGM codecs, round trips and hostile files.
//
// Every colour type the reader accepts is written with every filter type and
// read back exactly.  Files our writer makes are also decoded by an
// independent decoder, a short Python script on Python's own zlib that
// checks the signature and every chunk's CRC and undoes the filters itself,
// so that a bug shared by our writer and reader cannot hide.  Damaged and
// hostile files must end in one line naming the file and the problem.

import Foundation
@testable import SwiftNet
@testable import SwiftNetImages
import XCTest

final class ImageCodecTests: XCTestCase {
    private var folder = URL(fileURLWithPath: "/nonexistent")

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("swiftnet-image-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    private func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    /// Samples with smooth and sharp parts, so every filter's predictor matters.
    private func samples(width: Int, height: Int, channels: Int, seed: Int) -> [UInt8] {
        (0..<(width * height * channels)).map { index in
            let pixel = index / channels, channel = index % channels
            let x = pixel % width, y = pixel / width
            let smooth = x * 9 + y * 5 + channel * 60
            let sharp = (x * 31 + y * 17 + seed) % 7 == 0 ? 200 : 0
            return UInt8((smooth + sharp + seed) % 256)
        }
    }

    func testEveryColourTypeAndFilterRoundTrips() throws {
        let width = 13, height = 7
        for filter in [nil] + PNGFilter.allCases.map({ Optional($0) }) {
            for channels in [1, 3] {
                let image = try Bitmap(width: width, height: height, channels: channels,
                                  samples: samples(width: width, height: height, channels: channels, seed: channels))
                let decoded = try PNG.decode(PNG.encode(image, filter: filter))
                XCTAssertEqual(decoded, image, "\(channels) channels, filter \(String(describing: filter))")
            }
            for (colorType, channels) in [(UInt8(4), 2), (6, 4)] {
                let raw = samples(width: width, height: height, channels: channels, seed: Int(colorType))
                let bytes = PNG.encode(width: width, height: height, colorType: colorType, samples: raw, filter: filter)
                XCTAssertEqual(try PNG.decode(bytes), try Bitmap(width: width, height: height, channels: channels, samples: raw),
                               "colour type \(colorType), filter \(String(describing: filter))")
            }
            // Palette: indices into 5 entries; with tRNS the result gains alpha.
            let palette: [UInt8] = [0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255, 250, 250, 250]
            let indices = (0..<(width * height)).map { UInt8(($0 * 3 + $0 / width) % 5) }
            let rgb = indices.flatMap { Array(palette[(Int($0) * 3)..<(Int($0) * 3 + 3)]) }
            let plain = PNG.encode(width: width, height: height, colorType: 3, samples: indices, palette: palette, filter: filter)
            XCTAssertEqual(try PNG.decode(plain), try Bitmap(width: width, height: height, channels: 3, samples: rgb))
            let alpha: [UInt8] = [0, 128]
            let transparent = PNG.encode(width: width, height: height, colorType: 3, samples: indices, palette: palette,
                                         transparency: alpha, filter: filter)
            let rgba = indices.flatMap { Array(palette[(Int($0) * 3)..<(Int($0) * 3 + 3)]) + [Int($0) < 2 ? alpha[Int($0)] : 255] }
            XCTAssertEqual(try PNG.decode(transparent), try Bitmap(width: width, height: height, channels: 4, samples: rgba))
        }
    }

    func testTheAdaptiveWriterUsesSeveralFilters() throws {
        let image = try Bitmap(width: 40, height: 30, channels: 3, samples: samples(width: 40, height: 30, channels: 3, seed: 5))
        let bytes = PNG.encode(image)
        // Undo our own deflate to look at the filter bytes the writer chose.
        let raw = try XCTUnwrap(PythonPNGCheck.filterTypes(of: bytes, in: folder))
        XCTAssertEqual(raw.count, 30)
        XCTAssertGreaterThan(Set(raw).count, 1, "the adaptive writer chose the same filter for every row: \(raw)")
    }

    func testFilesWeWriteDecodeWithAnIndependentDecoder() throws {
        var expected: [(String, Bitmap)] = []
        for (index, filter) in ([nil] + PNGFilter.allCases.map({ Optional($0) })).enumerated() {
            for channels in [1, 3] {
                let image = try Bitmap(width: 17, height: 9, channels: channels,
                                  samples: samples(width: 17, height: 9, channels: channels, seed: index))
                let name = "independent-\(index)-\(channels).png"
                try Data(PNG.encode(image, filter: filter)).write(to: URL(fileURLWithPath: path(name)))
                expected.append((name, image))
            }
        }
        let image = try Bitmap(width: 300, height: 200, channels: 3, samples: samples(width: 300, height: 200, channels: 3, seed: 9))
        try PNG.write(image, to: path("large.png"))
        expected.append(("large.png", image))
        for (name, image) in expected {
            let decoded = try PythonPNGCheck.decode(path(name))
            XCTAssertEqual(decoded.width, image.width, name)
            XCTAssertEqual(decoded.height, image.height, name)
            XCTAssertEqual(decoded.channels, image.channels, name)
            XCTAssertEqual(decoded.samples, image.samples, "\(name): Python's decoding differs from what we wrote")
        }
    }

    /// The one-line error reading `bytes` gives; fails unless it names the file.
    private func readError(_ bytes: [UInt8], name: String = "damaged.png", file: StaticString = #filePath,
                           line: UInt = #line) throws -> String {
        let filePath = path(name)
        try Data(bytes).write(to: URL(fileURLWithPath: filePath))
        do {
            let image = name.hasSuffix(".pgm") ? try PGM.read(contentsOf: filePath) : try PNG.read(contentsOf: filePath)
            XCTFail("read a \(image.width)x\(image.height) image from bytes that should have been refused", file: file, line: line)
            return ""
        } catch let error as ImageError {
            let message = error.description
            XCTAssertTrue(message.hasPrefix("\(filePath): "), message, file: file, line: line)
            XCTAssertFalse(message.contains("\n"), message, file: file, line: line)
            return message
        }
    }

    private var goodPNG: [UInt8] {
        get throws {
            try PNG.encode(Bitmap(width: 12, height: 10, channels: 3, samples: samples(width: 12, height: 10, channels: 3, seed: 1)))
        }
    }

    func testDamagedAndHostilePNGsGiveOneClearLine() throws {
        let good = try goodPNG
        // A flipped bit in the IDAT data: the chunk's CRC catches it.
        var flipped = good
        flipped[45] ^= 0x10
        XCTAssertTrue(try readError(flipped).contains("bad CRC"))
        // Cut short at every kind of place: inside the signature, a chunk header, the data, the IEND chunk.
        for length in [0, 5, 8, 20, 40, good.count - 30, good.count - 1] {
            let message = try readError(Array(good[0..<length]))
            XCTAssertTrue(message.contains("truncated") || message.contains("not a PNG"), "\(length) bytes: \(message)")
        }
        XCTAssertTrue(try readError(Array("P5\n2 2\n255\nabcd".utf8)).contains("not a PNG"))
        XCTAssertTrue(try readError([UInt8](repeating: 0, count: 100)).contains("not a PNG"))
        // A valid header, CRC included, claiming 100000x100000 RGBA pixels (40 GB): refused before allocating.
        var header = PNG.bigEndian(100_000) + PNG.bigEndian(100_000)
        header += [8, 6, 0, 0, 0]
        let huge = PNG.signature + PNG.chunk("IHDR", header) + PNG.chunk("IDAT", PNG.deflate([0, 0, 0, 0])) + PNG.chunk("IEND", [])
        let hugeMessage = try readError(huge)
        XCTAssertTrue(hugeMessage.contains("claims 100000x100000 pixels"), hugeMessage)
        // Within the limits (8192x8192 RGBA, 256 MiB) but with far too little data to fill it: refused before allocating.
        var large = PNG.bigEndian(8192) + PNG.bigEndian(8192)
        large += [8, 6, 0, 0, 0]
        let bluff = PNG.signature + PNG.chunk("IHDR", large) + PNG.chunk("IDAT", PNG.deflate([0, 0, 0, 0])) + PNG.chunk("IEND", [])
        XCTAssertTrue(try readError(bluff).contains("cannot hold a 8192x8192 image"))
        // Interlaced and 16-bit images are named as such.
        let interlaced = PNG.encode(width: 4, height: 4, colorType: 0, samples: [UInt8](repeating: 9, count: 16), interlaced: true)
        XCTAssertTrue(try readError(interlaced).contains("interlaced (Adam7)"))
        var sixteen = PNG.bigEndian(4) + PNG.bigEndian(4)
        sixteen += [16, 0, 0, 0, 0]
        XCTAssertTrue(try readError(PNG.signature + PNG.chunk("IHDR", sixteen) + PNG.chunk("IEND", [])).contains("16-bit"))
        // Pixel data that is too short for its header, with every CRC right.
        let short = PNG.signature + Array(good[8..<33]) + PNG.chunk("IDAT", PNG.deflate([0, 1, 2])) + PNG.chunk("IEND", [])
        XCTAssertTrue(try readError(short).contains("needs"))
        // A bad filter type byte.
        let badFilter = PNG.signature + PNG.chunk("IHDR", PNG.bigEndian(2) + PNG.bigEndian(1) + [8, 0, 0, 0, 0])
            + PNG.chunk("IDAT", PNG.deflate([7, 1, 2])) + PNG.chunk("IEND", [])
        XCTAssertTrue(try readError(badFilter).contains("filter type 7"))
        // Missing file.
        XCTAssertThrowsError(try PNG.read(contentsOf: path("absent.png"))) { error in
            XCTAssertEqual(String(describing: error), "\(path("absent.png")): no such file")
        }
    }

    func testPGMRoundTripsAndRefusesDamage() throws {
        let image = try Bitmap(width: 9, height: 5, channels: 1, samples: samples(width: 9, height: 5, channels: 1, seed: 3))
        try PGM.write(image, to: path("round.pgm"))
        XCTAssertEqual(try PGM.read(contentsOf: path("round.pgm")), image)
        // Comments in the header and a smaller maximum value, rescaled to 0...255.
        let commented = Array("P5\n# made by hand\n2 1 # size\n15\n".utf8) + [0, 15]
        XCTAssertEqual(try PGM.decode(commented).samples, [0, 255])
        XCTAssertTrue(try readError(Array("P5\n4 4\n255\n".utf8) + [1, 2, 3], name: "short.pgm").contains("truncated"))
        XCTAssertTrue(try readError(Array("P5\n100000 100000\n255\n".utf8), name: "huge.pgm").contains("claims 100000x100000"))
        XCTAssertTrue(try readError(Array("P2\n1 1\n255\n0".utf8), name: "ascii.pgm").contains("not a binary PGM"))
        XCTAssertTrue(try readError(Array("P5\n1 1\n65535\n".utf8) + [0, 0], name: "deep.pgm").contains("16-bit"))
    }

    func testTheFontDrawsEveryDigitDifferently() throws {
        var drawings = Set<[UInt8]>()
        for digit in 0...9 {
            var image = try Bitmap(width: 5, height: 7, channels: 1)
            BitmapFont.draw("\(digit)", into: &image, x: 0, y: 0, scale: 1, color: [255])
            XCTAssertGreaterThan(image.samples.filter { $0 == 255 }.count, 6, "digit \(digit) has almost no ink")
            drawings.insert(image.samples)
        }
        XCTAssertEqual(drawings.count, 10)
        XCTAssertEqual(BitmapFont.width(of: "98.5%", scale: 2), (5 * 6 - 1) * 2)
        for (_, glyph) in BitmapFont.glyphs {
            XCTAssertEqual(glyph.count, BitmapFont.glyphHeight)
            XCTAssertTrue(glyph.allSatisfy { $0.count == BitmapFont.glyphWidth }, "\(glyph)")
        }
    }
}

/// An independent PNG decoder in Python (its zlib, its CRC, its own unfiltering).
enum PythonPNGCheck {
    static let script = #"""
import struct, sys, zlib
data = open(sys.argv[1], 'rb').read()
assert data[:8] == b'\x89PNG\r\n\x1a\n', 'bad signature'
pos, idat, ihdr, types = 8, b'', None, []
while True:
    length, kind = struct.unpack('>I4s', data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + length]
    crc, = struct.unpack('>I', data[pos + 8 + length:pos + 12 + length])
    assert zlib.crc32(kind + body) & 0xffffffff == crc, 'bad CRC in ' + kind.decode()
    types.append(kind)
    if kind == b'IHDR': ihdr = struct.unpack('>IIBBBBB', body)
    if kind == b'IDAT': idat += body
    pos += 12 + length
    if kind == b'IEND': break
assert pos == len(data), 'bytes after IEND'
assert types[0] == b'IHDR' and types[-1] == b'IEND'
width, height, depth, color, _, _, interlace = ihdr
assert depth == 8 and interlace == 0
bpp = {0: 1, 2: 3}[color]
raw = zlib.decompress(idat)
stride = width * bpp
assert len(raw) == height * (stride + 1), 'wrong amount of pixel data'
out, prev, filters = bytearray(), bytearray(stride), []
for y in range(height):
    f = raw[y * (stride + 1)]
    filters.append(f)
    row = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = row[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if f == 0: p = 0
        elif f == 1: p = a
        elif f == 2: p = b
        elif f == 3: p = (a + b) // 2
        elif f == 4:
            q = a + b - c
            pa, pb, pc = abs(q - a), abs(q - b), abs(q - c)
            p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
        else: raise AssertionError('filter %d' % f)
        row[i] = (row[i] + p) & 0xff
    out += row
    prev = row
open(sys.argv[2], 'wb').write(out)
print(width, height, bpp, ' '.join(map(str, filters)))
"""#

    /// Runs the script on `path`: the image it decoded, or a test failure saying why not.
    static func decode(_ path: String) throws -> Bitmap {
        let result = try run(path)
        return try Bitmap(width: result.fields[0], height: result.fields[1], channels: result.fields[2], samples: result.samples)
    }

    /// The filter type of each row, as the independent decoder saw them.
    static func filterTypes(of bytes: [UInt8], in folder: URL) throws -> [Int]? {
        let file = folder.appendingPathComponent("filters-\(UUID().uuidString).png").path
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        return Array(try run(file).fields.dropFirst(3))
    }

    private static func run(_ path: String) throws -> (fields: [Int], samples: [UInt8]) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let output = path + ".raw"
        process.arguments = ["python3", "-c", script, path, output]
        let pipe = Pipe(), errors = Pipe()
        process.standardOutput = pipe
        process.standardError = errors
        do { try process.run() } catch { throw XCTSkip("python3 is not available to check PNG files independently") }
        let printed = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let complaint = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        if process.terminationStatus == 127 { throw XCTSkip("python3 is not installed") }
        guard process.terminationStatus == 0 else {
            XCTFail("Python's decoder refused \(path): \(complaint)")
            throw ImageError(path: path, problem: "refused by the independent decoder")
        }
        let fields = printed.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { Int($0) }
        return (fields, [UInt8](try Data(contentsOf: URL(fileURLWithPath: output))))
    }
}
