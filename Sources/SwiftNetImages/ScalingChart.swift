// ScalingChart.swift: the picture `cnn bench --scaling` draws.
//
// Panels side by side, one measured curve each: how the time of a training
// epoch grows with the number of training images, and with the width of
// the dense and the conv layer.  Each point is a measurement, marked with
// a dot, joined by straight lines; the axes cover the values measured.
// The drawing primitives are Chart.swift's, as `cnn plot` uses them.

/// One panel: a title, the x axis's name, and the measured points in order.
public struct ScalingPanel: Sendable {
    public let title: String
    public let xTitle: String
    public let points: [(x: Double, y: Double)]

    /// A panel titled `title` (capitals draw best), `xTitle` under its x axis, and `points` as measured.
    public init(title: String, xTitle: String, points: [(x: Double, y: Double)]) {
        self.title = title
        self.xTitle = xTitle
        self.points = points
    }
}

/// Panels of measured curves, side by side.
public enum ScalingChart {
    static let plotWidth = 380, plotHeight = 300, labelSpace = 90, margin = 24, gap = 16
    static let textHeight = BitmapFont.height(scale: ChartPanel.textScale)
    static let top = margin + textHeight + 16
    static let belowPlot = ChartPanel.tickLength + 6 + textHeight + 10 + textHeight + 22
    static let color: [UInt8] = [31, 119, 180]

    /// The picture of `panels`, left to right; a panel without points is drawn empty.
    public static func draw(_ panels: [ScalingPanel]) -> Bitmap {
        let width = panels.count * (labelSpace + plotWidth + gap) + 2 * margin
        let height = top + plotHeight + belowPlot + margin
        var image = Bitmap(validWidth: max(width, 1), height: height, channels: 3, fill: 255)
        for (index, panel) in panels.enumerated() {
            let xs = panel.points.map(\.x), ys = panel.points.map(\.y)
            let chart = ChartPanel(title: panel.title, x: margin + labelSpace + index * (labelSpace + plotWidth + gap), y: top,
                                   width: plotWidth, height: plotHeight,
                                   xAxis: ChartAxis(covering: [0] + xs, ticks: 6),
                                   yAxis: ChartAxis(covering: [0] + ys, ticks: 6))
            chart.drawAxes(into: &image, xTitle: panel.xTitle)
            chart.drawSeries(panel.points.map { ($0.x, $0.y) }, into: &image, color: color, lineWidth: 3)
            for point in panel.points {
                let (x, y) = chart.position(point.x, point.y)
                image.drawLine(from: x - 3, y, to: x + 3, y, width: 7, color: color)
            }
        }
        return image
    }
}
