// Resampling.swift: a picture brought to the size and colour a network takes.
//
// A folder of a person's own images holds any sizes and any mix of gray,
// colour and alpha, while a network takes one shape.  Two conversions do it.
// Size: each axis is resampled on its own (rows, then columns), by area
// averaging when it shrinks (every source pixel counts by how much of it an
// output pixel covers, so nothing aliases) and by linear interpolation when
// it grows (between the centres of the nearest source pixels, edges held).
// With `keepAspect` the picture is scaled to fit inside the target and
// centred on black padding.  Colour: gray becomes RGB by copying it to all
// three planes; RGB becomes gray by ITU-R BT.601 luma (0.299 R + 0.587 G +
// 0.114 B), as most image tools do; alpha is composited over white, as a
// viewer shows a transparent picture, and then dropped.

import SwiftNet

extension Bitmap {
    /// The image with its alpha composited over white and dropped: 1 channel
    /// for gray or gray+alpha, 3 for RGB or RGBA.
    public func withoutAlpha() -> Bitmap {
        guard channels == 2 || channels == 4 else { return self }
        let colour = channels - 1
        var out = [UInt8](repeating: 0, count: width * height * colour)
        for pixel in 0..<(width * height) {
            let alpha = Int(samples[pixel * channels + colour])
            for channel in 0..<colour {
                let value = Int(samples[pixel * channels + channel])
                out[pixel * colour + channel] = UInt8((value * alpha + 255 * (255 - alpha) + 127) / 255)
            }
        }
        return Bitmap(validWidth: width, height: height, channels: colour, samples: out)
    }

    /// The image as `count` colour channels: 1 (gray, by BT.601 luma) or 3 (RGB),
    /// alpha composited over white.
    /// - Throws: `BitmapError.channels` for a count other than 1 or 3.
    public func converted(toChannels count: Int) throws -> Bitmap {
        guard count == 1 || count == 3 else { throw BitmapError.channels(count) }
        let opaque = withoutAlpha()
        if opaque.channels == count { return opaque }
        var out = [UInt8](repeating: 0, count: width * height * count)
        for pixel in 0..<(width * height) {
            if count == 3 {
                for channel in 0..<3 { out[pixel * 3 + channel] = opaque.samples[pixel] }
            } else {
                let red = Double(opaque.samples[pixel * 3]), green = Double(opaque.samples[pixel * 3 + 1])
                let blue = Double(opaque.samples[pixel * 3 + 2])
                out[pixel] = UInt8((0.299 * red + 0.587 * green + 0.114 * blue).rounded())
            }
        }
        return Bitmap(validWidth: width, height: height, channels: count, samples: out)
    }

    /// The image resampled to `newWidth` x `newHeight`: area averaging on an axis
    /// that shrinks, linear interpolation on one that grows.  With `keepAspect`
    /// the picture keeps its proportions, fitted inside and centred on black.
    /// - Throws: `BitmapError` for a size that is not positive or too large.
    public func resized(width newWidth: Int, height newHeight: Int, keepAspect: Bool = false) throws -> Bitmap {
        _ = try Bitmap.sampleCount(width: newWidth, height: newHeight, channels: channels)
        if newWidth == width && newHeight == height { return self }
        guard keepAspect else { return resampled(width: newWidth, height: newHeight) }
        let scale = min(Double(newWidth) / Double(width), Double(newHeight) / Double(height))
        let fittedWidth = min(newWidth, max(1, Int((Double(width) * scale).rounded())))
        let fittedHeight = min(newHeight, max(1, Int((Double(height) * scale).rounded())))
        let fitted = resampled(width: fittedWidth, height: fittedHeight)
        var canvas = Bitmap(validWidth: newWidth, height: newHeight, channels: channels, fill: 0)
        let left = (newWidth - fittedWidth) / 2, top = (newHeight - fittedHeight) / 2
        for row in 0..<fittedHeight {
            let source = row * fittedWidth * channels
            let target = ((top + row) * newWidth + left) * channels
            canvas.samples.replaceSubrange(target..<(target + fittedWidth * channels),
                                           with: fitted.samples[source..<(source + fittedWidth * channels)])
        }
        return canvas
    }

    /// Rows resampled to `newWidth`, then columns to `newHeight`, in floating point,
    /// rounded once at the end.
    private func resampled(width newWidth: Int, height newHeight: Int) -> Bitmap {
        let horizontal = ResamplingWeights(from: width, to: newWidth)
        let vertical = ResamplingWeights(from: height, to: newHeight)
        var wide = [Float](repeating: 0, count: height * newWidth * channels)
        for row in 0..<height {
            for column in 0..<newWidth {
                for (source, weight) in horizontal.taps[column] {
                    for channel in 0..<channels {
                        wide[(row * newWidth + column) * channels + channel] +=
                            weight * Float(samples[(row * width + source) * channels + channel])
                    }
                }
            }
        }
        var out = [UInt8](repeating: 0, count: newHeight * newWidth * channels)
        for row in 0..<newHeight {
            for column in 0..<newWidth {
                for channel in 0..<channels {
                    var value: Float = 0
                    for (source, weight) in vertical.taps[row] {
                        value += weight * wide[(source * newWidth + column) * channels + channel]
                    }
                    out[(row * newWidth + column) * channels + channel] = UInt8(min(255, max(0, value.rounded())))
                }
            }
        }
        return Bitmap(validWidth: newWidth, height: newHeight, channels: channels, samples: out)
    }
}

/// For each output index of one axis, the source indices it reads and their
/// weights (summing to 1).
struct ResamplingWeights {
    let taps: [[(Int, Float)]]

    init(from source: Int, to target: Int) {
        let scale = Double(source) / Double(target)
        if target < source {
            // Area averaging: output i covers source [i * scale, (i + 1) * scale).
            taps = (0..<target).map { index in
                let start = Double(index) * scale, end = Double(index + 1) * scale
                var weights: [(Int, Float)] = []
                var pixel = Int(start)
                while Double(pixel) < end && pixel < source {
                    let covered = min(end, Double(pixel + 1)) - max(start, Double(pixel))
                    if covered > 0 { weights.append((pixel, Float(covered / scale))) }
                    pixel += 1
                }
                return weights
            }
        } else {
            // Linear interpolation between source centres; the edges are held.
            taps = (0..<target).map { index in
                let position = min(max((Double(index) + 0.5) * scale - 0.5, 0), Double(source - 1))
                let low = Int(position), fraction = position - Double(low)
                if fraction == 0 || low + 1 >= source { return [(low, 1)] }
                return [(low, Float(1 - fraction)), (low + 1, Float(fraction))]
            }
        }
    }
}
