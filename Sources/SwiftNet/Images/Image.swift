// Image.swift: an 8-bit picture in memory, and the one error image files give.
//
// SwiftNet draws its own results (the sheet of misclassified digits, the
// learned filters) and reads people's own images, with no plotting stack.
// An Image is the common currency: rows of interleaved 8-bit samples, 1 to 4
// channels (gray, gray+alpha, RGB, RGBA), top row first.  The PNG and PGM
// codecs turn files into Images and back; the drawing helpers here are the
// few that the sheets need: fill a rectangle, paste an enlarged gray tile.

import Foundation

/// An 8-bit image: `height` rows of `width` pixels, each `channels` samples
/// (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA), top row first, interleaved.
public struct Image: Equatable, Sendable {
    /// Pixels per row.
    public let width: Int
    /// Rows.
    public let height: Int
    /// Samples per pixel: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA.
    public let channels: Int
    /// `height * width * channels` samples, row by row.
    public var samples: [UInt8]

    /// A blank image of one colour.
    /// - Parameters:
    ///   - width: pixels per row, positive.
    ///   - height: rows, positive.
    ///   - channels: 1 to 4.
    ///   - fill: the value of every sample.
    public init(width: Int, height: Int, channels: Int, fill: UInt8 = 0) {
        precondition(width > 0 && height > 0, "Image: size \(width)x\(height) must be positive")
        precondition((1...4).contains(channels), "Image: \(channels) channels; expected 1 to 4")
        self.init(width: width, height: height, channels: channels,
                  samples: [UInt8](repeating: fill, count: width * height * channels))
    }

    /// An image from samples that must number `width * height * channels`.
    public init(width: Int, height: Int, channels: Int, samples: [UInt8]) {
        precondition(samples.count == width * height * channels,
                     "Image: \(samples.count) samples for \(width)x\(height)x\(channels); expected \(width * height * channels)")
        self.width = width
        self.height = height
        self.channels = channels
        self.samples = samples
    }

    /// Sets the pixels of a rectangle (clipped to the image) to `color`,
    /// which has one value per channel.
    public mutating func fill(x: Int, y: Int, width w: Int, height h: Int, color: [UInt8]) {
        precondition(color.count == channels, "Image.fill: \(color.count) colour values for \(channels) channels")
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
        precondition(gray.count == tileWidth * tileHeight, "Image.paste: \(gray.count) values for a \(tileWidth)x\(tileHeight) tile")
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

    public var description: String { "\(path): \(problem)" }
}

/// A problem found in bytes before the file's path is attached.
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
