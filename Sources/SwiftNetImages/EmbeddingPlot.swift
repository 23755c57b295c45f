// EmbeddingPlot.swift: the picture `cnn embed` draws, one dot per image.
//
// Each image is a dot at its first two principal-component coordinates,
// coloured by its true class (tab10, as TrainingCurves colours runs), with
// a legend of class names under the plot.  Dots are drawn in a shuffled
// order fixed by their count, so that no class is always painted on top of
// the others where they overlap.

import SwiftNet

/// A scatter plot of two-dimensional points coloured by class.
public enum EmbeddingPlot {
    /// The plot area's side in pixels, the dots' diameter, the margin and the room for tick labels.
    public static let plotSide = 560, dotDiameter = 4.0, margin = 24, labelSpace = 90
    static let textHeight = BitmapFont.height(scale: ChartPanel.textScale)

    /// Draws `points` (x, y pairs, one per label) coloured by `labels`, with `classNames`
    /// in the legend and `title` above.
    /// - Throws: `BitmapError.sampleCount` unless there are two values per label.
    public static func draw(points: [Float], labels: [Int32], classNames: [String], title: String,
                            xTitle: String = "FIRST PRINCIPAL COMPONENT") throws -> Bitmap {
        guard points.count == 2 * labels.count else {
            throw BitmapError.sampleCount(samples: points.count, expected: 2 * labels.count)
        }
        let xs = stride(from: 0, to: points.count, by: 2).map { Double(points[$0]) }
        let ys = stride(from: 1, to: points.count, by: 2).map { Double(points[$0]) }
        let top = margin + textHeight + 16
        let panel = ChartPanel(title: title, x: margin + labelSpace, y: top, width: plotSide, height: plotSide,
                               xAxis: ChartAxis(covering: xs, ticks: 6), yAxis: ChartAxis(covering: ys, ticks: 6))
        let width = panel.x + plotSide + 2 * margin
        // The legend: one row per up to five classes, under the axis title.
        let classes = max(classNames.count, Int(labels.max() ?? 0) + 1)
        let perRow = 5, rowHeight = textHeight + 14
        let legendTop = top + plotSide + ChartPanel.tickLength + 6 + 2 * textHeight + 32
        let rows = (classes + perRow - 1) / perRow
        var image = Bitmap(validWidth: width, height: legendTop + rows * rowHeight + margin, channels: 3, fill: 255)
        panel.drawAxes(into: &image, xTitle: xTitle)
        var order = Array(labels.indices)
        var random = RandomSource(seed: UInt64(labels.count))
        random.shuffle(&order)
        for index in order {
            let at = panel.position(xs[index], ys[index])
            image.drawLine(from: at.x, at.y, to: at.x, at.y, width: dotDiameter,
                           color: TrainingCurves.color(ofRun: Int(labels[index])))
        }
        let column = (width - panel.x - margin) / perRow
        for label in 0..<classes {
            let x = panel.x + (label % perRow) * column, y = legendTop + (label / perRow) * rowHeight
            image.fill(x: x, y: y + 2, width: 12, height: 12, color: TrainingCurves.color(ofRun: label))
            let name = label < classNames.count ? classNames[label] : String(label)
            BitmapFont.draw(name, into: &image, x: x + 20, y: y, scale: ChartPanel.textScale, color: ChartPanel.ink)
        }
        return image
    }
}
