// Bitmap.swift: an 8-bit picture in memory, and the one error image files give.
//
// SwiftNet draws its own results (the sheet of misclassified digits, the
// learned filters) and reads people's own images, with no plotting stack.
// A Bitmap is the common currency: rows of interleaved 8-bit samples, 1 to 4
// channels (gray, gray+alpha, RGB, RGBA), top row first.  The PNG and PGM
// codecs turn files into Images and back; the drawing helpers here are the
// few that the sheets need: fill a rectangle, paste an enlarged gray tile.

import Foundation
import SwiftNet

/// An 8-bit image: `height` rows of `width` pixels, each `channels` samples
/// (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA), top row first, interleaved.
public struct Bitmap: Equatable, Sendable {
    /// Pixels per row.
    public let width: Int
    /// Rows.
    public let height: Int
    /// Samples per pixel: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA.
    public let channels: Int
    /// `height * width * channels` samples, row by row.  Read them here; change
    /// pixels through `subscript(x:y:channel:)` or the drawing methods, which keep
    /// the count right.
    public internal(set) var samples: [UInt8]

    /// A blank image of one colour.
    /// - Parameters:
    ///   - width: pixels per row, positive.
    ///   - height: rows, positive.
    ///   - channels: 1 to 4.
    ///   - fill: the value of every sample.
    /// - Throws: `BitmapError` for a size that is not positive, too large, or a channel count outside 1...4.
    public init(width: Int, height: Int, channels: Int, fill: UInt8 = 0) throws {
        let count = try Self.sampleCount(width: width, height: height, channels: channels)
        self.init(validWidth: width, height: height, channels: channels, samples: [UInt8](repeating: fill, count: count))
    }

    /// An image from samples that must number `width * height * channels`.
    /// - Throws: `BitmapError` for a bad size or channel count, or a sample count that does not match.
    public init(width: Int, height: Int, channels: Int, samples: [UInt8]) throws {
        let expected = try Self.sampleCount(width: width, height: height, channels: channels)
        guard samples.count == expected else { throw BitmapError.sampleCount(samples: samples.count, expected: expected) }
        self.init(validWidth: width, height: height, channels: channels, samples: samples)
    }

    /// A blank image whose size this module computed and knows to be valid.
    init(validWidth width: Int, height: Int, channels: Int, fill: UInt8) {
        self.init(validWidth: width, height: height, channels: channels,
                  samples: [UInt8](repeating: fill, count: width * height * channels))
    }

    /// An image from checked parts (the codecs check sizes before decoding).
    init(validWidth width: Int, height: Int, channels: Int, samples: [UInt8]) {
        precondition(width > 0 && height > 0 && (1...4).contains(channels) && samples.count == width * height * channels,
                     "Bitmap: \(samples.count) samples for \(width)x\(height)x\(channels)")
        self.width = width
        self.height = height
        self.channels = channels
        self.samples = samples
    }

    /// `width * height * channels`, checked.
    static func sampleCount(width: Int, height: Int, channels: Int) throws -> Int {
        guard width > 0, height > 0 else { throw BitmapError.nonPositiveSize(width: width, height: height) }
        guard (1...4).contains(channels) else { throw BitmapError.channels(channels) }
        let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
        guard !overflow, pixels <= PNG.maximumPixels else { throw BitmapError.tooLarge(width: width, height: height) }
        return pixels * channels
    }

    /// One sample: pixel (`x`, `y`), top-left (0, 0), channel `channel`.  Indices
    /// outside the image are a programming error, as for an Array.
    public subscript(x x: Int, y y: Int, channel channel: Int) -> UInt8 {
        get {
            precondition((0..<width).contains(x) && (0..<height).contains(y) && (0..<channels).contains(channel),
                         "Bitmap: sample (\(x), \(y), \(channel)) outside \(width)x\(height)x\(channels)")
            return samples[(y * width + x) * channels + channel]
        }
        set {
            precondition((0..<width).contains(x) && (0..<height).contains(y) && (0..<channels).contains(channel),
                         "Bitmap: sample (\(x), \(y), \(channel)) outside \(width)x\(height)x\(channels)")
            samples[(y * width + x) * channels + channel] = newValue
        }
    }

    /// Sets the pixels of a rectangle (clipped to the image) to `color`,
    /// which has one value per channel.
    public mutating func fill(x: Int, y: Int, width w: Int, height h: Int, color: [UInt8]) {
        precondition(color.count == channels, "Bitmap.fill: \(color.count) colour values for \(channels) channels")
        let left = max(0, x), right = min(width, x + w), top = max(0, y), bottom = min(height, y + h)
        guard left < right, top < bottom else { return }
        for row in top..<bottom {
            for column in left..<right {
                let base = (row * width + column) * channels
                for channel in 0..<channels { samples[base + channel] = color[channel] }
            }
        }
    }

    /// Draws a rectangle's outline `thickness` pixels wide, inside the rectangle.
    public mutating func frame(x: Int, y: Int, width w: Int, height h: Int, thickness: Int, color: [UInt8]) {
        fill(x: x, y: y, width: w, height: thickness, color: color)
        fill(x: x, y: y + h - thickness, width: w, height: thickness, color: color)
        fill(x: x, y: y, width: thickness, height: h, color: color)
        fill(x: x + w - thickness, y: y, width: thickness, height: h, color: color)
    }

    /// Pastes a gray tile enlarged `scale` times (each source pixel becomes a
    /// scale x scale block), its top left corner at (x, y), clipped to the image.
    /// - Parameters:
    ///   - gray: `tileWidth * tileHeight` gray values, row by row.
    ///   - tileWidth: the tile's columns.
    ///   - tileHeight: the tile's rows.
    ///   - x: the image column of the tile's left edge.
    ///   - y: the image row of the tile's top edge.
    ///   - scale: how many image pixels each tile pixel becomes, per side.
    public mutating func paste(gray: ArraySlice<UInt8>, tileWidth: Int, tileHeight: Int, x: Int, y: Int, scale: Int) {
        precondition(gray.count == tileWidth * tileHeight, "Bitmap.paste: \(gray.count) values for a \(tileWidth)x\(tileHeight) tile")
        let start = gray.startIndex
        for row in 0..<(tileHeight * scale) {
            let targetRow = y + row
            guard targetRow >= 0, targetRow < height else { continue }
            for column in 0..<(tileWidth * scale) {
                let targetColumn = x + column
                guard targetColumn >= 0, targetColumn < width else { continue }
                let value = gray[start + (row / scale) * tileWidth + column / scale]
                let base = (targetRow * width + targetColumn) * channels
                for channel in 0..<min(channels, 3) { samples[base + channel] = value }
                if channels == 2 || channels == 4 { samples[base + channels - 1] = 255 }
            }
        }
    }
}

/// An image in memory that cannot be made or encoded as asked; one line each.
public enum BitmapError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A width or height of zero or less.
    case nonPositiveSize(width: Int, height: Int)
    /// A channel count outside 1...4.
    case channels(Int)
    /// More pixels than an image may have (`PNG.maximumPixels`).
    case tooLarge(width: Int, height: Int)
    /// `samples` samples were given where the size needs `expected`.
    case sampleCount(samples: Int, expected: Int)
    /// `format` cannot hold an image of `channels` channels.
    case unsupportedChannels(format: String, channels: Int)
    /// A sheet names image `index` of a dataset of `count` images.
    case noSuchImage(index: Int, count: Int)

    /// The problem in one line.
    public var description: String {
        switch self {
        case let .nonPositiveSize(width, height): return "image size \(width)x\(height) must be positive"
        case let .channels(channels): return "\(channels) channels; an image has 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA)"
        case let .tooLarge(width, height): return "image size \(width)x\(height) is larger than \(PNG.maximumPixels) pixels"
        case let .sampleCount(samples, expected): return "\(samples) samples given; the image's size needs \(expected)"
        case let .unsupportedChannels(format, channels): return "\(format) cannot hold an image of \(channels) channels"
        case let .noSuchImage(index, count): return "image \(index) is not one of the dataset's \(count) images"
        }
    }
}

/// An image file that cannot be read or written; its description is one
/// line, "<path>: <problem>".
public struct ImageError: Error, CustomStringConvertible {
    /// The file as the caller named it.
    public let path: String
    /// What is wrong, in words, without the path.
    public let problem: String
    /// The file system's error, when the file could not be read or written at all
    /// (so code can tell a missing picture from an undecodable one); nil for a problem
    /// in the image's bytes.
    public let fileError: FileError?

    /// Creates an error about an image file.
    public init(path: String, problem: String) {
        self.path = path
        self.problem = problem
        fileError = nil
    }

    /// The image codecs' view of a file that could not be read or written.
    public init(_ error: FileError) {
        path = error.path
        problem = error.problem
        fileError = error
    }

    /// The problem in one line.
    public var description: String { "\(path): \(problem)" }
}

/// A problem found in bytes before the file's path is attached.
extension Bitmap {
    /// Reads a PNG or binary PGM file, told apart by their first bytes.
    /// - Throws: `ImageError` "<path>: <problem>" for a file that is missing, too large,
    ///   damaged, or neither format.
    public init(contentsOf path: String) throws {
        try self.init(encoded: ImageFile.read(path, limit: PNG.maximumFileBytes), name: path)
    }

    /// Decodes the bytes of a PNG or binary PGM file held in memory (an upload, say),
    /// told apart by their first bytes, under the same limits as a file.
    /// - Parameters:
    ///   - bytes: the file's bytes.
    ///   - name: what errors call the image, in place of a path.
    ///   - maximumPixels: the most pixels the image may claim, checked from its header before
    ///     anything is decoded (a server sets less than a file reader's `PNG.maximumPixels`).
    /// - Throws: `ImageError` "<name>: <problem>" for bytes that are too many, damaged,
    ///   absurdly large once decoded, or neither format.
    public init(encoded bytes: [UInt8], name: String, maximumPixels: Int = PNG.maximumPixels) throws {
        guard bytes.count <= PNG.maximumFileBytes else {
            throw ImageError(path: name, problem: "is \(bytes.count) bytes, more than an image may be (\(PNG.maximumFileBytes))")
        }
        do {
            if bytes.starts(with: PNG.signature) {
                self = try PNG.decode(bytes, maximumPixels: maximumPixels)
            } else if bytes.starts(with: Array("P5".utf8)) {
                self = try PGM.decode(bytes, maximumPixels: maximumPixels)
            } else {
                throw ImageFormatProblem("is neither a PNG nor a binary PGM (P5) file")
            }
        } catch let problem as ImageFormatProblem {
            throw ImageError(path: name, problem: problem.problem)
        }
    }
}

struct ImageFormatProblem: Error {
    let problem: String
    init(_ problem: String) { self.problem = problem }
}

/// Images read and written through Files/: bounded reads, atomic writes, every failure an ImageError.
enum ImageFile {
    /// The file's bytes, refusing files larger than `limit`.
    static func read(_ path: String, limit: Int) throws -> [UInt8] {
        do {
            return try BoundedFile.read(path, limit: limit, expected: "an image")
        } catch let error as FileError {
            throw ImageError(error)
        }
    }

    /// Replaces `path` with `bytes` atomically (Files/AtomicFile), so a failure
    /// never leaves a half-written image.
    static func write(_ bytes: [UInt8], to path: String) throws {
        do {
            try AtomicFile.write(bytes, to: path)
        } catch let error as FileError {
            throw ImageError(error)
        }
    }
}
