// Drawing.swift: anti-aliased lines of any thickness, for charts.
//
// A curve drawn one pixel wide with Bresenham's algorithm is hard to read
// and jagged at shallow slopes.  Instead each segment is drawn as the set of
// pixels whose centres lie within half the line's width of it, with the
// pixel's coverage (how far inside the edge its centre is, up to one pixel)
// used to blend the colour over what is there.  Segments meet with round
// joins for free, because the distance to a segment is measured to its end
// points beyond them.

import SwiftNet

extension Bitmap {
    /// Draws the segment from (x0, y0) to (x1, y1), in pixel coordinates
    /// (pixel (x, y) has its centre at (x + 0.5, y + 0.5)), `width` pixels
    /// wide with round ends, blending `color` by coverage.
    /// - Parameters:
    ///   - x0: the start's x.
    ///   - y0: the start's y.
    ///   - x1: the end's x.
    ///   - y1: the end's y.
    ///   - width: the line's width in pixels.
    ///   - color: one value per colour channel (1 or 3); alpha channels are set opaque.
    public mutating func drawLine(from x0: Double, _ y0: Double, to x1: Double, _ y1: Double, width: Double, color: [UInt8]) {
        let colorChannels = channels == 2 || channels == 4 ? channels - 1 : channels
        precondition(color.count == colorChannels, "Bitmap.drawLine: \(color.count) colour values for \(colorChannels) colour channels")
        let half = width / 2
        let left = max(0, Int((min(x0, x1) - half - 1).rounded(.down))), right = min(self.width - 1, Int((max(x0, x1) + half + 1).rounded(.up)))
        let top = max(0, Int((min(y0, y1) - half - 1).rounded(.down))), bottom = min(height - 1, Int((max(y0, y1) + half + 1).rounded(.up)))
        guard left <= right, top <= bottom else { return }
        let dx = x1 - x0, dy = y1 - y0, lengthSquared = dx * dx + dy * dy
        for row in top...bottom {
            for column in left...right {
                let px = Double(column) + 0.5, py = Double(row) + 0.5
                // The nearest point of the segment: its projection, clamped to the ends.
                let t = lengthSquared == 0 ? 0 : max(0, min(1, ((px - x0) * dx + (py - y0) * dy) / lengthSquared))
                let ex = px - (x0 + t * dx), ey = py - (y0 + t * dy)
                let coverage = max(0, min(1, half + 0.5 - (ex * ex + ey * ey).squareRoot()))
                if coverage > 0 { blend(x: column, y: row, color: color, opacity: coverage) }
            }
        }
    }

    /// Mixes `color` into pixel (x, y): opacity 1 replaces it, 0 leaves it.
    mutating func blend(x: Int, y: Int, color: [UInt8], opacity: Double) {
        let base = (y * width + x) * channels
        for (channel, value) in color.enumerated() {
            let old = Double(samples[base + channel])
            samples[base + channel] = UInt8((old + (Double(value) - old) * opacity).rounded())
        }
        if channels == 2 || channels == 4 { samples[base + channels - 1] = 255 }
    }
}
