// TrainingCurves.swift: the picture `cnn plot` draws from metrics logs.
//
// Two panels side by side, validation accuracy (in percent) and training
// cost, each against epoch, with one coloured line per run and a legend of
// run names underneath.  The colours are the ten of matplotlib's "tab10"
// palette, chosen to be told apart by most readers, colour-blind ones
// included for the first few; an eleventh run reuses the first colour.

import SwiftNet

/// One run's curve: a name for the legend and its epochs.
public struct TrainingRun: Sendable {
    /// The run's name in the legend.
    public let name: String
    /// The run's epochs, as its metrics log holds them.
    public let epochs: [EpochMetrics]

    /// A run named `name` with these epochs.
    public init(name: String, epochs: [EpochMetrics]) {
        self.name = name
        self.epochs = epochs
    }
}

/// Validation accuracy and training cost against epoch, for several runs.
public enum TrainingCurves {
    /// Line colours, in run order.
    public static let palette: [[UInt8]] = [
        [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
        [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207],
    ]
    /// The colour of run `index` (from 0), cycling through the palette.
    public static func color(ofRun index: Int) -> [UInt8] { palette[index % palette.count] }

    /// Sizes in pixels: each plot area, the space left of it for tick
    /// labels, the outer margin, the curves' width.
    public static let plotWidth = 460, plotHeight = 320, labelSpace = 90, margin = 24, lineWidth = 3.0
    static let textHeight = BitmapFont.height(scale: ChartPanel.textScale)
    /// From the top of the image to the top of the plot areas (title row).
    static let top = margin + textHeight + 16
    /// From the bottom of a plot area to the legend: tick labels and the axis title.
    static let belowPlot = ChartPanel.tickLength + 6 + textHeight + 10 + textHeight + 22
    /// A legend entry: a line this long, a gap, the name, then space before the next entry.
    static let swatch = 36, swatchGap = 10, entryGap = 32, legendRowHeight = textHeight + 14

    /// Where everything goes: the two panels (accuracy first) and each legend
    /// entry's swatch position.
    public struct Layout: Sendable {
        /// The whole picture's size in pixels.
        public let width: Int, height: Int
        /// The validation-accuracy panel and the training-cost panel.
        public let accuracy: ChartPanel, cost: ChartPanel
        /// For each run, the left end and the middle row of its legend line.
        public let legend: [(x: Int, y: Int)]
    }

    /// The layout for `runs`, whose axes cover every run's values.
    public static func layout(_ runs: [TrainingRun]) -> Layout {
        let all = runs.flatMap(\.epochs)
        let epochs = ChartAxis(covering: [0] + all.map { Double($0.epoch) }, ticks: 8, wholeSteps: true)
        let accuracy = ChartAxis(covering: all.map { $0.validationAccuracy * 100 }, ticks: 6)
        let cost = ChartAxis(covering: all.map(\.trainingCost), ticks: 6)
        let width = 2 * (labelSpace + plotWidth) + 2 * margin + 16
        let left = ChartPanel(title: "VALIDATION ACCURACY (%)", x: margin + labelSpace, y: top, width: plotWidth,
                              height: plotHeight, xAxis: epochs, yAxis: accuracy)
        let right = ChartPanel(title: "TRAINING COST", x: left.x + plotWidth + 16 + labelSpace, y: top, width: plotWidth,
                               height: plotHeight, xAxis: epochs, yAxis: cost)
        // Legend entries flow left to right, wrapping to a new row when full.
        var legend: [(x: Int, y: Int)] = []
        var x = left.x, y = top + plotHeight + belowPlot + legendRowHeight / 2
        for run in runs {
            let entry = swatch + swatchGap + BitmapFont.width(of: run.name, scale: ChartPanel.textScale)
            if x > left.x, x + entry > width - margin {
                x = left.x
                y += legendRowHeight
            }
            legend.append((x, y))
            x += entry + entryGap
        }
        let height = (legend.last?.y ?? y) + legendRowHeight / 2 + margin
        return Layout(width: width, height: height, accuracy: left, cost: right, legend: legend)
    }

    /// Draws the chart: white background, both panels, every run's curves, the legend.
    public static func draw(_ runs: [TrainingRun]) -> Bitmap {
        let layout = layout(runs)
        var image = Bitmap(validWidth: layout.width, height: layout.height, channels: 3, fill: 255)
        layout.accuracy.drawAxes(into: &image, xTitle: "EPOCH")
        layout.cost.drawAxes(into: &image, xTitle: "EPOCH")
        for (index, run) in runs.enumerated() {
            let color = color(ofRun: index)
            layout.accuracy.drawSeries(run.epochs.map { (Double($0.epoch), $0.validationAccuracy * 100) },
                                       into: &image, color: color, lineWidth: lineWidth)
            layout.cost.drawSeries(run.epochs.map { (Double($0.epoch), $0.trainingCost) },
                                   into: &image, color: color, lineWidth: lineWidth)
            let entry = layout.legend[index]
            image.drawLine(from: Double(entry.x), Double(entry.y), to: Double(entry.x + swatch), Double(entry.y),
                           width: lineWidth + 1, color: color)
            BitmapFont.draw(run.name, into: &image, x: entry.x + swatch + swatchGap, y: entry.y - textHeight / 2,
                            scale: ChartPanel.textScale, color: ChartPanel.ink)
        }
        return image
    }
}
