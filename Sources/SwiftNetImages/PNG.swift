// PNG.swift: reading and writing PNG files, on zlib through CKernels.
//
// The writer makes 8-bit grayscale and RGB images, choosing each row's
// filter the usual way (the one whose output has the smallest sum of
// absolute values) unless a test asks for one type.  The reader takes the
// 8-bit images people actually have: gray, gray+alpha, RGB, RGBA and
// palette, with any of the five filter types; it refuses Adam7 interlacing,
// other bit depths, bad CRCs, truncation and absurd sizes with one line that
// says which.  Sizes are checked against fixed limits BEFORE anything is
// allocated, so a 40-byte file that claims 100000x100000 pixels costs nothing.

import CKernels
import Foundation
import SwiftNet

/// The five PNG row filters (PNG specification, section 9).
public enum PNGFilter: UInt8, CaseIterable, Sendable {
    /// The five filter types by their numbers in the file: none, the left neighbour (sub), the pixel
    /// above (up), their mean (average), and Paeth's predictor.
    case none = 0, sub = 1, up = 2, average = 3, paeth = 4
}

/// PNG encoding and decoding of 8-bit images.
public enum PNG {
    /// The eight bytes every PNG file starts with.
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    /// The longest side the reader accepts.
    public static let maximumSide = 1 << 15
    /// The most pixels the reader accepts (64 Mi, 256 MiB as RGBA).
    public static let maximumPixels = 1 << 26
    /// The largest file the reader opens.
    static let maximumFileBytes = 1 << 28

    // MARK: Writing

    /// Writes `image` (gray or RGB) as a PNG file, atomically.
    /// - Throws: `ImageError` naming the file when it cannot be written.
    public static func write(_ image: Bitmap, to path: String) throws {
        try ImageFile.write(encode(image), to: path)
    }

    /// The PNG bytes of `image`: gray, gray+alpha, RGB or RGBA, as its channels say.
    /// - Parameters:
    ///   - image: the image to encode.
    ///   - filter: one filter type for every row, or nil to choose per row.
    public static func encode(_ image: Bitmap, filter: PNGFilter? = nil) -> [UInt8] {
        let colorType: [Int: UInt8] = [1: 0, 2: 4, 3: 2, 4: 6]
        return encode(width: image.width, height: image.height, colorType: colorType[image.channels]!,
                      samples: image.samples, filter: filter)
    }

    /// The PNG bytes of raw 8-bit samples of any colour type (0 gray, 2 RGB,
    /// 3 palette, 4 gray+alpha, 6 RGBA); the tests use it to make every kind
    /// of file the reader accepts.
    static func encode(width: Int, height: Int, colorType: UInt8, samples: [UInt8], palette: [UInt8]? = nil,
                       transparency: [UInt8]? = nil, filter: PNGFilter? = nil, interlaced: Bool = false) -> [UInt8] {
        let bytesPerPixel = channelCount(colorType: colorType) ?? 1
        let stride = width * bytesPerPixel
        precondition(samples.count == stride * height, "PNG.encode: \(samples.count) samples for \(width)x\(height)x\(bytesPerPixel)")
        var filtered = [UInt8]()
        filtered.reserveCapacity((stride + 1) * height)
        var previous = [UInt8](repeating: 0, count: stride)
        var candidate = [UInt8](repeating: 0, count: stride)
        for row in 0..<height {
            let current = Array(samples[(row * stride)..<((row + 1) * stride)])
            var best = (type: PNGFilter.none, cost: Int.max, bytes: current)
            for type in filter.map({ [$0] }) ?? PNGFilter.allCases {
                applyFilter(type, to: current, previous: previous, bytesPerPixel: bytesPerPixel, into: &candidate)
                // Sum of the bytes read as signed values, the usual heuristic.
                let cost = candidate.reduce(0) { $0 + abs(Int(Int8(bitPattern: $1))) }
                if cost < best.cost { best = (type, cost, candidate) }
            }
            filtered.append(best.type.rawValue)
            filtered += best.bytes
            previous = current
        }
        var header = bigEndian(UInt32(width)) + bigEndian(UInt32(height))
        header += [8, colorType, 0, 0, interlaced ? 1 : 0]
        var file = signature
        file += chunk("IHDR", header)
        if let palette { file += chunk("PLTE", palette) }
        if let transparency { file += chunk("tRNS", transparency) }
        file += chunk("IDAT", deflate(filtered))
        file += chunk("IEND", [])
        return file
    }

    /// One chunk: length, type, data, CRC of type and data.
    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let typeAndData = Array(type.utf8) + data
        let crc = typeAndData.withUnsafeBytes { ck_crc32(0, $0.baseAddress, $0.count) }
        return bigEndian(UInt32(data.count)) + typeAndData + bigEndian(crc)
    }

    static func deflate(_ bytes: [UInt8]) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: ck_zlib_compress_bound(bytes.count))
        var length = output.count
        let status = output.withUnsafeMutableBufferPointer { out in
            bytes.withUnsafeBufferPointer { ck_zlib_compress(out.baseAddress, &length, $0.baseAddress, $0.count, 6) }
        }
        precondition(status == Int32(CK_ZLIB_OK), "PNG.deflate: zlib's compress2 failed on \(bytes.count) bytes")
        return Array(output[0..<length])
    }

    static func applyFilter(_ type: PNGFilter, to row: [UInt8], previous: [UInt8], bytesPerPixel: Int, into out: inout [UInt8]) {
        for index in 0..<row.count {
            let left = index >= bytesPerPixel ? row[index - bytesPerPixel] : 0
            let above = previous[index]
            let upperLeft = index >= bytesPerPixel ? previous[index - bytesPerPixel] : 0
            let predictor: UInt8
            switch type {
            case .none: predictor = 0
            case .sub: predictor = left
            case .up: predictor = above
            case .average: predictor = UInt8((Int(left) + Int(above)) / 2)
            case .paeth: predictor = paeth(left, above, upperLeft)
            }
            out[index] = row[index] &- predictor
        }
    }

    static func paeth(_ a: UInt8, _ b: UInt8, _ c: UInt8) -> UInt8 {
        let p = Int(a) + Int(b) - Int(c)
        let pa = abs(p - Int(a)), pb = abs(p - Int(b)), pc = abs(p - Int(c))
        if pa <= pb && pa <= pc { return a }
        return pb <= pc ? b : c
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8((value >> 16) & 0xff), UInt8((value >> 8) & 0xff), UInt8(value & 0xff)]
    }

    static func channelCount(colorType: UInt8) -> Int? {
        switch colorType {
        case 0: return 1
        case 2: return 3
        case 3: return 1
        case 4: return 2
        case 6: return 4
        default: return nil
        }
    }

    // MARK: Reading

    /// Reads a PNG file: 8-bit gray, gray+alpha, RGB, RGBA or palette (which
    /// becomes RGB, or RGBA when it has transparency), not interlaced.
    /// - Throws: `ImageError` "<path>: <problem>" for a missing, damaged,
    ///   truncated, interlaced, unsupported or absurdly large file.
    public static func read(contentsOf path: String) throws -> Bitmap {
        let bytes = try ImageFile.read(path, limit: maximumFileBytes)
        do {
            return try decode(bytes)
        } catch let problem as ImageFormatProblem {
            throw ImageError(path: path, problem: problem.problem)
        }
    }

    /// Decodes PNG bytes; problems are thrown as `ImageFormatProblem`.
    static func decode(_ bytes: [UInt8], maximumPixels: Int = maximumPixels) throws -> Bitmap {
        guard bytes.count >= 8, Array(bytes[0..<8]) == signature else {
            throw ImageFormatProblem("is not a PNG file (it does not start with the PNG signature)")
        }
        var offset = 8
        var header: (width: Int, height: Int, colorType: UInt8)?
        var palette: [UInt8]?
        var transparency: [UInt8]?
        var compressed = [UInt8]()
        var ended = false
        while !ended {
            guard offset + 8 <= bytes.count else {
                throw ImageFormatProblem("is truncated: it ends at byte \(bytes.count) before its IEND chunk")
            }
            let length = Int(readUInt32(bytes, offset))
            let typeBytes = Array(bytes[(offset + 4)..<(offset + 8)])
            let type = String(decoding: typeBytes, as: UTF8.self)
            guard typeBytes.allSatisfy({ (65...90).contains($0) || (97...122).contains($0) }) else {
                throw ImageFormatProblem("is damaged: the chunk at byte \(offset) has no valid type")
            }
            guard length <= Int(Int32.max), offset + 12 + length <= bytes.count else {
                throw ImageFormatProblem("is truncated: chunk \(type) at byte \(offset) needs \(length) data bytes and a CRC, "
                    + "but the file ends at byte \(bytes.count)")
            }
            let dataStart = offset + 8
            let stored = readUInt32(bytes, dataStart + length)
            let computed = bytes.withUnsafeBytes { ck_crc32(0, $0.baseAddress! + offset + 4, length + 4) }
            guard stored == computed else {
                throw ImageFormatProblem("is damaged: chunk \(type) at byte \(offset) has a bad CRC "
                    + "(stored \(hex(stored)), computed \(hex(computed)))")
            }
            let data = bytes[dataStart..<(dataStart + length)]
            if header == nil && type != "IHDR" {
                throw ImageFormatProblem("is damaged: its first chunk is \(type), not IHDR")
            }
            switch type {
            case "IHDR":
                guard header == nil else { throw ImageFormatProblem("is damaged: it has two IHDR chunks") }
                header = try readHeader(Array(data), maximumPixels: maximumPixels)
            case "PLTE":
                guard length % 3 == 0, (3...768).contains(length) else {
                    throw ImageFormatProblem("is damaged: its PLTE chunk has \(length) bytes, not 3 to 768 in threes")
                }
                palette = Array(data)
            case "tRNS":
                transparency = Array(data)
            case "IDAT":
                // Compressed data can at most be this much larger than the raw image.
                guard compressed.count + length <= maximumFileBytes else {
                    throw ImageFormatProblem("is damaged: more than \(maximumFileBytes >> 20) MiB of compressed pixels")
                }
                compressed += data
            case "IEND":
                ended = true
            default:
                // Ancillary chunks (first letter lower case) may be skipped; critical ones may not.
                if (65...90).contains(typeBytes[0]) {
                    throw ImageFormatProblem("uses critical chunk \(type), which this reader does not know")
                }
            }
            offset = dataStart + length + 4
        }
        guard let header else { throw ImageFormatProblem("is damaged: it has no IHDR chunk") }
        guard !compressed.isEmpty else { throw ImageFormatProblem("is damaged: it has no IDAT (pixel data) chunk") }
        let bytesPerPixel = channelCount(colorType: header.colorType)!
        let stride = header.width * bytesPerPixel
        // Deflate expands at most 1032-fold, so a file whose compressed data is
        // too short for its size is refused before the pixel buffer is allocated.
        let rawCount = (stride + 1) * header.height
        guard rawCount <= compressed.count * 1032 + 1024 else {
            throw ImageFormatProblem("is truncated: \(compressed.count) bytes of compressed pixel data cannot hold "
                + "a \(header.width)x\(header.height) image")
        }
        var raw = [UInt8](repeating: 0, count: rawCount)
        var produced = 0
        let status = raw.withUnsafeMutableBufferPointer { out in
            compressed.withUnsafeBufferPointer {
                ck_zlib_uncompress(out.baseAddress, out.count, &produced, $0.baseAddress, $0.count)
            }
        }
        switch status {
        case Int32(CK_ZLIB_OK):
            guard produced == raw.count else {
                throw ImageFormatProblem("is damaged: its pixel data holds \(produced) bytes; a \(header.width)x\(header.height) "
                    + "image needs \(raw.count)")
            }
        case Int32(CK_ZLIB_TRUNCATED):
            throw ImageFormatProblem("is truncated: its compressed pixel data ends early (\(produced) of \(raw.count) bytes)")
        case Int32(CK_ZLIB_TOO_LONG):
            throw ImageFormatProblem("is damaged: its pixel data is longer than a \(header.width)x\(header.height) image")
        default:
            throw ImageFormatProblem("is damaged: its compressed pixel data is not a valid zlib stream")
        }
        var samples = [UInt8](repeating: 0, count: stride * header.height)
        try unfilter(raw, into: &samples, stride: stride, rows: header.height, bytesPerPixel: bytesPerPixel)
        if header.colorType == 3 {
            return try expandPalette(samples, width: header.width, height: header.height, palette: palette, transparency: transparency)
        }
        return Bitmap(validWidth: header.width, height: header.height, channels: bytesPerPixel, samples: samples)
    }

    static func readHeader(_ data: [UInt8], maximumPixels: Int = maximumPixels) throws -> (width: Int, height: Int, colorType: UInt8) {
        guard data.count == 13 else { throw ImageFormatProblem("is damaged: its IHDR chunk has \(data.count) bytes, not 13") }
        let width = Int(readUInt32(data, 0)), height = Int(readUInt32(data, 4))
        let depth = data[8], colorType = data[9]
        guard width > 0, height > 0 else { throw ImageFormatProblem("is damaged: it claims a size of \(width)x\(height) pixels") }
        guard width <= maximumSide, height <= maximumSide, width * height <= maximumPixels else {
            throw ImageFormatProblem("claims \(width)x\(height) pixels; this reader takes at most \(maximumSide) on a side "
                + "and \(maximumPixels) pixels in all")
        }
        guard channelCount(colorType: colorType) != nil else {
            throw ImageFormatProblem("is damaged: its colour type is \(colorType), not 0, 2, 3, 4 or 6")
        }
        guard depth == 8 else {
            throw ImageFormatProblem("has \(depth)-bit samples; this reader takes 8-bit PNGs only (re-save it with 8 bits per sample)")
        }
        guard data[10] == 0, data[11] == 0 else {
            throw ImageFormatProblem("is damaged: its compression or filter method is not 0")
        }
        switch data[12] {
        case 0: break
        case 1: throw ImageFormatProblem("is interlaced (Adam7), which this reader does not support; re-save it without interlacing")
        default: throw ImageFormatProblem("is damaged: its interlace method is \(data[12]), not 0 or 1")
        }
        return (width, height, colorType)
    }

    static func unfilter(_ raw: [UInt8], into samples: inout [UInt8], stride: Int, rows: Int, bytesPerPixel: Int) throws {
        for row in 0..<rows {
            let source = row * (stride + 1)
            guard let type = PNGFilter(rawValue: raw[source]) else {
                throw ImageFormatProblem("is damaged: row \(row) has filter type \(raw[source]), not 0 to 4")
            }
            let target = row * stride
            for index in 0..<stride {
                let left = index >= bytesPerPixel ? Int(samples[target + index - bytesPerPixel]) : 0
                let above = row > 0 ? Int(samples[target - stride + index]) : 0
                let upperLeft = row > 0 && index >= bytesPerPixel ? Int(samples[target - stride + index - bytesPerPixel]) : 0
                let predictor: Int
                switch type {
                case .none: predictor = 0
                case .sub: predictor = left
                case .up: predictor = above
                case .average: predictor = (left + above) / 2
                case .paeth: predictor = Int(paeth(UInt8(left), UInt8(above), UInt8(upperLeft)))
                }
                samples[target + index] = raw[source + 1 + index] &+ UInt8(predictor)
            }
        }
    }

    static func expandPalette(_ indices: [UInt8], width: Int, height: Int, palette: [UInt8]?, transparency: [UInt8]?) throws -> Bitmap {
        guard let palette else { throw ImageFormatProblem("is damaged: it is a palette image without a PLTE chunk") }
        let entries = palette.count / 3
        let channels = transparency == nil ? 3 : 4
        var samples = [UInt8](repeating: 0, count: width * height * channels)
        for (pixel, index) in indices.enumerated() {
            let entry = Int(index)
            guard entry < entries else {
                throw ImageFormatProblem("is damaged: pixel \(pixel) uses palette entry \(entry) of \(entries)")
            }
            for channel in 0..<3 { samples[pixel * channels + channel] = palette[entry * 3 + channel] }
            if let transparency { samples[pixel * channels + 3] = entry < transparency.count ? transparency[entry] : 255 }
        }
        return Bitmap(validWidth: width, height: height, channels: channels, samples: samples)
    }

    static func readUInt32<C: RandomAccessCollection>(_ bytes: C, _ offset: Int) -> UInt32 where C.Element == UInt8, C.Index == Int {
        let start = bytes.startIndex + offset
        return UInt32(bytes[start]) << 24 | UInt32(bytes[start + 1]) << 16 | UInt32(bytes[start + 2]) << 8 | UInt32(bytes[start + 3])
    }

    static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
    }
}
