// Chart.swift: line charts with labelled axes, drawn into a Bitmap.
//
// `cnn plot` compares training runs as the book's figures do: validation
// accuracy and training cost against epoch.  A chart needs little: a plot
// area with a frame, "nice" tick values (1, 2 or 5 times a power of ten)
// with numeric labels and light grid lines, a title, and polylines.  The
// arithmetic that places a value on the page lives in ChartPanel, so tests
// can ask where a point should be drawn and look there.
//
// A log may hold any finite number, and a cost of 1e308 made the range
// (high - low) infinite, the step NaN and the tick count a trap.  So values
// are clamped to ±ChartAxis.largestMagnitude, far beyond anything a chart
// can tell apart yet small enough that every sum and difference of two of
// them, and of their ticks, stays finite; ticks that large are labelled in
// exponent form, not with hundreds of digits.

import Foundation
import SwiftNet

/// One axis: a range that starts and ends on a tick, and the tick spacing.
public struct ChartAxis: Equatable, Sendable {
    /// The first and last tick values, and the spacing between ticks.
    public let lower: Double, upper: Double, step: Double

    /// Values beyond ±this are drawn at ±this (see the file comment).
    public static let largestMagnitude = 1e300

    /// `value` within ±largestMagnitude (NaN, which the readers refuse, as 0).
    public static func clamped(_ value: Double) -> Double {
        value.isNaN ? 0 : min(max(value, -largestMagnitude), largestMagnitude)
    }

    /// The smallest range of "nice" ticks (1, 2 or 5 times a power of ten,
    /// about `ticks` of them) that covers `values`.
    /// - Parameters:
    ///   - values: the values the range must cover.
    ///   - ticks: about how many ticks to make.
    ///   - wholeSteps: ticks at whole numbers only (for epochs).
    public init(covering values: [Double], ticks: Int, wholeSteps: Bool = false) {
        let values = values.map(Self.clamped)
        var low = values.min() ?? 0, high = values.max() ?? 1
        if high - low < 1e-9 * max(1, abs(high)) {  // one value: give it room
            let pad = wholeSteps ? 1 : max(abs(low) * 0.05, 1e-3)
            low -= wholeSteps ? 0 : pad
            high += pad
        }
        let raw = (high - low) / Double(max(1, ticks))
        let magnitude = pow(10, (log10(raw)).rounded(.down))
        let normalised = raw / magnitude
        var step = (normalised <= 1 ? 1 : normalised <= 2 ? 2 : normalised <= 5 ? 5 : 10) * magnitude
        if wholeSteps { step = max(1, step.rounded()) }
        self.step = step
        lower = (low / step).rounded(.down) * step
        upper = max(lower + step, (high / step - 1e-9).rounded(.up) * step)
    }

    /// Every tick value from `lower` to `upper`.
    public var ticks: [Double] {
        let count = Int(((upper - lower) / step).rounded())
        return (0...count).map { lower + Double($0) * step }
    }

    /// A tick's label, with as many decimals as the step needs.
    public func label(_ value: Double) -> String {
        if step >= 1e7 { return String(format: "%.3g", value) }
        let decimals = max(0, Int((-log10(step)).rounded(.up)))
        let text = String(format: "%.\(decimals)f", value)
        return text.hasPrefix("-") && Double(text) == 0 ? String(text.dropFirst()) : text
    }
}

/// A plot area on an image and the axes that map values onto it.
public struct ChartPanel: Sendable {
    /// The title drawn above the plot area.
    public let title: String
    /// The plot area inside the frame, in image pixels: x..<x+width, y..<y+height.
    public let x: Int, y: Int, width: Int, height: Int
    /// The horizontal and vertical axes.
    public let xAxis: ChartAxis, yAxis: ChartAxis

    /// A panel titled `title` whose plot area is the `width` x `height` rectangle at (`x`, `y`).
    public init(title: String, x: Int, y: Int, width: Int, height: Int, xAxis: ChartAxis, yAxis: ChartAxis) {
        self.title = title
        self.x = x
        self.y = y
        self.width = width
        self.height = height
        self.xAxis = xAxis
        self.yAxis = yAxis
    }

    /// The axes' ends lie this far inside the frame, so that a point at an
    /// end (the first or last epoch, a single epoch) is not hidden by it.
    public static let inset = 12

    /// Where the value pair (vx, vy) lands, in image coordinates (larger y is lower).
    public func position(_ vx: Double, _ vy: Double) -> (x: Double, y: Double) {
        let inset = Double(Self.inset)
        return (Double(x) + inset + (vx - xAxis.lower) / (xAxis.upper - xAxis.lower) * (Double(width) - 2 * inset),
                Double(y + height) - inset - (vy - yAxis.lower) / (yAxis.upper - yAxis.lower) * (Double(height) - 2 * inset))
    }

    /// Text colour, and the frame's; grid lines are light gray.
    public static let ink: [UInt8] = [0, 0, 0], grid: [UInt8] = [225, 225, 225]
    /// Font scale of titles and tick labels.
    public static let textScale = 2
    /// Tick marks stick out of the frame this far.
    static let tickLength = 6

    /// Draws the grid, frame, ticks, tick labels, title above and `xTitle`
    /// below, on an RGB image.
    public func drawAxes(into image: inout Bitmap, xTitle: String) {
        let scale = Self.textScale, textHeight = BitmapFont.height(scale: scale)
        for value in yAxis.ticks {
            let row = Int(position(xAxis.lower, value).y.rounded())
            image.fill(x: x, y: row, width: width, height: 1, color: Self.grid)
            image.fill(x: x - Self.tickLength, y: row, width: Self.tickLength, height: 2, color: Self.ink)
            let label = yAxis.label(value)
            BitmapFont.draw(label, into: &image, x: x - Self.tickLength - 6 - BitmapFont.width(of: label, scale: scale),
                            y: row - textHeight / 2, scale: scale, color: Self.ink)
        }
        for value in xAxis.ticks {
            let column = Int(position(value, yAxis.lower).x.rounded())
            image.fill(x: column, y: y, width: 1, height: height, color: Self.grid)
            image.fill(x: column, y: y + height, width: 2, height: Self.tickLength, color: Self.ink)
            let label = xAxis.label(value)
            BitmapFont.draw(label, into: &image, x: column + 1 - BitmapFont.width(of: label, scale: scale) / 2,
                            y: y + height + Self.tickLength + 6, scale: scale, color: Self.ink)
        }
        image.frame(x: x - 1, y: y - 1, width: width + 3, height: height + 3, thickness: 2, color: Self.ink)
        BitmapFont.draw(title, into: &image, x: x + (width - BitmapFont.width(of: title, scale: scale)) / 2,
                        y: y - textHeight - 12, scale: scale, color: Self.ink)
        BitmapFont.draw(xTitle, into: &image, x: x + (width - BitmapFont.width(of: xTitle, scale: scale)) / 2,
                        y: y + height + Self.tickLength + 6 + textHeight + 10, scale: scale, color: Self.ink)
    }

    /// Draws the points (vx, vy) joined by a line `lineWidth` pixels wide,
    /// each point marked by a square, clipped to nothing: the axes cover every value.
    public func drawSeries(_ points: [(Double, Double)], into image: inout Bitmap, color: [UInt8], lineWidth: Double) {
        let placed = points.map { position(ChartAxis.clamped($0.0), ChartAxis.clamped($0.1)) }
        for (from, to) in zip(placed, placed.dropFirst()) {
            image.drawLine(from: from.x, from.y, to: to.x, to.y, width: lineWidth, color: color)
        }
        let marker = Int(lineWidth.rounded()) + 4
        for point in placed {
            image.fill(x: Int(point.x.rounded()) - marker / 2, y: Int(point.y.rounded()) - marker / 2,
                       width: marker, height: marker, color: color)
        }
    }
}
