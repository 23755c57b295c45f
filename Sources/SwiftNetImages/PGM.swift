// PGM.swift: binary PGM ("P5") files, the simplest gray image format.
//
// PGM is handy for people who make digits with netpbm tools or a few lines
// of script: an ASCII header ("P5", width, height, maximum value, with
// optional # comments) and then the raw bytes.  We read 8-bit files (maximum
// value 1 to 255, rescaled to 0...255) and write maximum value 255.  The
// header's size is checked against the same limits as PNG before anything
// is allocated.

import Foundation
import SwiftNet

/// Binary PGM (P5) encoding and decoding of 8-bit gray images.
public enum PGM {
    /// Writes a gray image as a binary PGM file, atomically.
    /// - Throws: `BitmapError.unsupportedChannels` for an image that is not gray, or
    ///   `ImageError` naming the file when it cannot be written.
    public static func write(_ image: Bitmap, to path: String) throws {
        try ImageFile.write(encode(image), to: path)
    }

    /// The P5 bytes of a gray (1-channel) image.
    /// - Throws: `BitmapError.unsupportedChannels` for an image of more channels.
    public static func encode(_ image: Bitmap) throws -> [UInt8] {
        guard image.channels == 1 else { throw BitmapError.unsupportedChannels(format: "PGM", channels: image.channels) }
        return Array("P5\n\(image.width) \(image.height)\n255\n".utf8) + image.samples
    }

    /// Reads a binary PGM file with at most 8 bits per sample.
    /// - Throws: `ImageError` "<path>: <problem>" for a missing, damaged,
    ///   truncated, 16-bit or absurdly large file.
    public static func read(contentsOf path: String) throws -> Bitmap {
        let bytes = try ImageFile.read(path, limit: PNG.maximumPixels + 4096)
        do {
            return try decode(bytes)
        } catch let problem as ImageFormatProblem {
            throw ImageError(path: path, problem: problem.problem)
        }
    }

    /// Decodes P5 bytes; problems are thrown as `ImageFormatProblem`.
    static func decode(_ bytes: [UInt8], maximumPixels: Int = PNG.maximumPixels) throws -> Bitmap {
        guard bytes.count >= 2, bytes[0] == UInt8(ascii: "P"), bytes[1] == UInt8(ascii: "5") else {
            throw ImageFormatProblem("is not a binary PGM file (it does not start with P5)")
        }
        var offset = 2
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || (0x09...0x0d).contains(byte) }
        /// The next decimal field of the header, skipping white space and comments.
        func field(_ name: String) throws -> Int {
            while offset < bytes.count {
                if isSpace(bytes[offset]) {
                    offset += 1
                } else if bytes[offset] == UInt8(ascii: "#") {
                    while offset < bytes.count, bytes[offset] != 0x0a { offset += 1 }
                } else {
                    break
                }
            }
            var value = 0, digits = 0
            while offset < bytes.count, (48...57).contains(bytes[offset]) {
                value = value * 10 + Int(bytes[offset] - 48)
                digits += 1
                offset += 1
                guard value <= 1 << 30 else { throw ImageFormatProblem("has an absurd \(name) in its header") }
            }
            guard digits > 0 else {
                throw ImageFormatProblem(offset >= bytes.count ? "is truncated inside its header"
                                                               : "is damaged: its header's \(name) is not a number")
            }
            return value
        }
        let width = try field("width"), height = try field("height"), maximum = try field("maximum value")
        guard width > 0, height > 0 else { throw ImageFormatProblem("is damaged: it claims a size of \(width)x\(height) pixels") }
        guard width <= PNG.maximumSide, height <= PNG.maximumSide, width * height <= maximumPixels else {
            throw ImageFormatProblem("claims \(width)x\(height) pixels; this reader takes at most \(PNG.maximumSide) on a side "
                + "and \(maximumPixels) pixels in all")
        }
        guard (1...255).contains(maximum) else {
            throw ImageFormatProblem(maximum > 255 ? "has 16-bit samples (maximum value \(maximum)); this reader takes 8-bit PGMs only"
                                                   : "is damaged: its maximum value is 0")
        }
        // Exactly one white-space byte separates the header from the samples.
        guard offset < bytes.count, isSpace(bytes[offset]) else { throw ImageFormatProblem("is truncated after its header") }
        offset += 1
        let count = width * height
        guard bytes.count - offset >= count else {
            throw ImageFormatProblem("is truncated: a \(width)x\(height) image needs \(count) sample bytes, it has \(bytes.count - offset)")
        }
        var samples = Array(bytes[offset..<(offset + count)])
        if maximum != 255 {
            for index in samples.indices {
                guard Int(samples[index]) <= maximum else {
                    throw ImageFormatProblem("is damaged: sample \(index) is \(samples[index]), above its maximum value \(maximum)")
                }
                samples[index] = UInt8((Int(samples[index]) * 255 + maximum / 2) / maximum)
            }
        }
        return Bitmap(validWidth: width, height: height, channels: 1, samples: samples)
    }
}
