// DigitPreprocessing.swift: a person's picture of a digit, made to look like MNIST.
//
// A network trained on MNIST has only ever seen 28x28 gray digits drawn
// light on a black background, each scaled so that its longer side is 20
// pixels and then shifted so that its centre of mass sits at the centre of
// the field (LeCun et al.'s description of the set).  A phone photo or a
// drawing from a paint program is none of those things, and fed in raw it
// gets a confident, wrong answer.  This file repeats MNIST's steps on any
// image the PNG and PGM readers take: gray (alpha composited on white);
// inverted when the border is light, so dark-on-light and light-on-dark
// both work; the ink stretched to the full range above the border's level;
// cropped to the ink's bounding box; scaled by area averaging (which
// anti-aliases when shrinking) so the longer side is 20 pixels; pasted into
// 28x28 with its centre of mass moved to the nearest whole pixel of
// (14, 14), so that no resampling blurs it a second time.
//
// An image that is already in MNIST's form is used exactly as it is: 28x28
// gray, light on black (at least 90% of its outermost ring of pixels are 0;
// a stroke may touch the edge), its centre of mass within a pixel of
// (14, 14).  Every one of the 70,000 MNIST digits passes this test.  Digits of the MNIST files
// written out as images are such images, so `cnn predict` on them answers
// exactly what `cnn eval` does on the data set; preprocessing them again
// would only blur and shift them slightly.

import Foundation
import SwiftNet

/// MNIST's preprocessing for a picture of one digit.
public enum DigitPreprocessing {
    /// The side of the field the network sees, and of the box the digit is scaled into.
    public static let side = 28, boxSide = 20
    /// Where MNIST puts the centre of mass, in pixel indices (pixel (r, c)
    /// is at (r, c)): its test digits' centres of mass average (13.99, 14.01).
    public static let centre = 14.0
    /// Ink (after stretching to 0...1) below this is background: it removes
    /// paper grain and compression noise without eating anti-aliased edges.
    public static let inkThreshold: Float = 0.05

    /// Reads a PNG or binary PGM file (told apart by their first bytes) and
    /// preprocesses it.
    /// - Returns: 784 bytes, row by row, a pixel's value being byte / 256 as in `Dataset`.
    /// - Throws: `ImageError` "<path>: <problem>" for a file that cannot be
    ///   read or decoded, or that shows no ink.
    public static func mnistPixels(contentsOf path: String) throws -> [UInt8] {
        let image = try Bitmap(contentsOf: path)
        guard let pixels = mnistPixels(of: image) else {
            throw ImageError(path: path, problem: "shows no digit: it has no ink darker or lighter than its border")
        }
        return pixels
    }

    /// MNIST's 28x28 view of `image`, or nil when it has no ink (every pixel
    /// is within a few percent of the border's level).
    /// - Returns: 784 bytes, row by row, a pixel's value being byte / 256 as in `Dataset`.
    public static func mnistPixels(of image: Bitmap) -> [UInt8]? {
        if isAlreadyMNIST(image) { return image.samples }
        guard let ink = inkLevels(of: image) else { return nil }
        let box = boundingBox(of: ink, width: image.width, height: image.height)!
        let scale = Double(boxSide) / Double(max(box.width, box.height))
        let scaledWidth = max(1, Int((Double(box.width) * scale).rounded()))
        let scaledHeight = max(1, Int((Double(box.height) * scale).rounded()))
        let digit = resampleByAreaAveraging(ink, width: image.width, box: box,
                                            toWidth: scaledWidth, toHeight: scaledHeight)
        return centredByMass(digit, width: scaledWidth, height: scaledHeight)
    }

    /// True for a 28x28 gray image with an outer ring at least 90% black,
    /// some ink, and its centre of mass within one pixel of (14, 14): MNIST's own form.
    static func isAlreadyMNIST(_ image: Bitmap) -> Bool {
        guard image.width == side, image.height == side, image.channels == 1 else { return false }
        let samples = image.samples
        var ring: [UInt8] = []
        for index in 0..<side {
            ring += [samples[index], samples[(side - 1) * side + index]]
            if index > 0 && index < side - 1 { ring += [samples[index * side], samples[index * side + side - 1]] }
        }
        guard ring.filter({ $0 == 0 }).count * 10 >= ring.count * 9 else { return false }
        var mass = 0.0, rows = 0.0, columns = 0.0
        for (index, value) in samples.enumerated() where value != 0 {
            mass += Double(value)
            rows += Double(value) * Double(index / side)
            columns += Double(value) * Double(index % side)
        }
        guard mass > 0 else { return false }
        return abs(rows / mass - centre) <= 1 && abs(columns / mass - centre) <= 1
    }

    /// Each pixel's ink in 0...1 (1 = the strongest stroke), with the
    /// background at 0, or nil when there is no ink.
    static func inkLevels(of image: Bitmap) -> [Float]? {
        var gray = [Float](repeating: 1, count: image.width * image.height)
        let samples = image.samples, channels = image.channels
        for pixel in gray.indices {
            let base = pixel * channels
            let value: Float
            switch channels {
            case 1, 2: value = Float(samples[base]) / 255
            default:  // ITU-R BT.601 luma, the weights of most gray conversions
                value = (0.299 * Float(samples[base]) + 0.587 * Float(samples[base + 1]) + 0.114 * Float(samples[base + 2])) / 255
            }
            let alpha: Float = channels == 2 || channels == 4 ? Float(samples[base + channels - 1]) / 255 : 1
            gray[pixel] = value * alpha + (1 - alpha)  // over white paper
        }
        // The border decides the polarity: its median is the background level.
        var border: [Float] = []
        for column in 0..<image.width { border += [gray[column], gray[(image.height - 1) * image.width + column]] }
        for row in 0..<image.height { border += [gray[row * image.width], gray[row * image.width + image.width - 1]] }
        border.sort()
        let background = border[border.count / 2]
        let invert = background > 0.5
        var ink = invert ? gray.map { 1 - $0 } : gray
        let floor = invert ? 1 - background : background
        let peak = ink.max()!
        guard peak - floor > 0.1 else { return nil }
        for pixel in ink.indices {
            let stretched = (ink[pixel] - floor) / (peak - floor)
            ink[pixel] = stretched < inkThreshold ? 0 : min(1, stretched)
        }
        return ink
    }

    /// The smallest rectangle holding every nonzero pixel, or nil if there is none.
    static func boundingBox(of ink: [Float], width: Int, height: Int) -> (x: Int, y: Int, width: Int, height: Int)? {
        var left = width, right = -1, top = height, bottom = -1
        for row in 0..<height {
            for column in 0..<width where ink[row * width + column] > 0 {
                left = min(left, column); right = max(right, column)
                top = min(top, row); bottom = max(bottom, row)
            }
        }
        guard right >= 0 else { return nil }
        return (left, top, right - left + 1, bottom - top + 1)
    }

    /// The `box` of `ink` resized to toWidth x toHeight, each output pixel the
    /// mean of the source area it covers (partly covered pixels weighted by
    /// the part covered).  Separable: rows first, then columns.
    static func resampleByAreaAveraging(_ ink: [Float], width: Int, box: (x: Int, y: Int, width: Int, height: Int),
                                        toWidth: Int, toHeight: Int) -> [Float] {
        /// For each output index, the source indices it covers and their weights (summing to 1).
        func weights(from source: Int, to target: Int) -> [[(Int, Float)]] {
            let step = Double(source) / Double(target)
            return (0..<target).map { index in
                let start = Double(index) * step, end = Double(index + 1) * step
                var taps: [(Int, Float)] = []
                for sourceIndex in Int(start)..<min(source, Int(end.rounded(.up))) {
                    let covered = min(end, Double(sourceIndex + 1)) - max(start, Double(sourceIndex))
                    if covered > 1e-9 { taps.append((sourceIndex, Float(covered / step))) }
                }
                return taps
            }
        }
        let horizontal = weights(from: box.width, to: toWidth), vertical = weights(from: box.height, to: toHeight)
        var rows = [Float](repeating: 0, count: box.height * toWidth)
        for row in 0..<box.height {
            let sourceRow = (box.y + row) * width + box.x
            for (column, taps) in horizontal.enumerated() {
                rows[row * toWidth + column] = taps.reduce(0) { $0 + $1.1 * ink[sourceRow + $1.0] }
            }
        }
        var result = [Float](repeating: 0, count: toHeight * toWidth)
        for (row, taps) in vertical.enumerated() {
            for column in 0..<toWidth {
                result[row * toWidth + column] = taps.reduce(0) { $0 + $1.1 * rows[$1.0 * toWidth + column] }
            }
        }
        return result
    }

    /// `digit` pasted into the 28x28 field, shifted by whole pixels so that
    /// its centre of mass is as near the centre as a whole shift allows.
    static func centredByMass(_ digit: [Float], width: Int, height: Int) -> [UInt8] {
        let mass = centreOfMass(digit, width: width)
        let top = Int((centre - mass.row).rounded()), left = Int((centre - mass.column).rounded())
        var field = [UInt8](repeating: 0, count: side * side)
        for row in 0..<height where (0..<side).contains(top + row) {
            for column in 0..<width where (0..<side).contains(left + column) {
                field[(top + row) * side + left + column] = UInt8(min(255, (digit[row * width + column] * 255).rounded()))
            }
        }
        return field
    }

    /// The ink-weighted mean position, in pixel-centre coordinates; the
    /// middle of a blank image.
    public static func centreOfMass<Value: BinaryFloatingPoint>(_ values: [Value], width: Int) -> (row: Double, column: Double) {
        var total = 0.0, rows = 0.0, columns = 0.0
        for (index, value) in values.enumerated() {
            let weight = Double(value)
            total += weight
            rows += weight * Double(index / width)
            columns += weight * Double(index % width)
        }
        guard total > 0 else { return (Double(values.count / width - 1) / 2, Double(width - 1) / 2) }
        return (rows / total, columns / total)
    }
}
