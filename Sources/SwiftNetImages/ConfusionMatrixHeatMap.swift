// ConfusionMatrixHeatMap.swift: a confusion matrix drawn as a PNG-ready heat map.
//
// `cnn eval --confusion-png` draws the matrix shaded by the share of each
// row, so that the few 4-for-9 and 7-for-2 mistakes stand out against the
// bright diagonal.  The drawing lives with the other pictures, apart from
// the model: ConfusionMatrix itself (in SwiftNet) only counts.

import SwiftNet

extension ConfusionMatrix {
    /// The side of one heat-map cell in pixels.
    public static let heatCell = 56
    /// The margin, and the room for the axis labels.
    public static let heatMargin = 12, axisRoom = 40

    /// The heat map's size in pixels.
    public var heatMapSize: (width: Int, height: Int) {
        let side = 2 * Self.heatMargin + Self.axisRoom + classes * Self.heatCell
        return (side, side + BitmapFont.height(scale: 2) + 8)
    }

    /// The matrix as an RGB heat map: each cell shaded by its share of its row
    /// (square root, so that small shares still show), its count written in it,
    /// true classes down the left, predicted classes along the top.
    public func heatMap() -> Bitmap {
        let size = heatMapSize
        var image = Bitmap(validWidth: size.width, height: size.height, channels: 3, fill: 255)
        let margin = Self.heatMargin, cellSide = Self.heatCell
        BitmapFont.draw("ROWS: TRUE, COLUMNS: PREDICTED", into: &image, x: margin, y: margin, scale: 2, color: [0, 0, 0])
        let left = margin + Self.axisRoom, top = margin + BitmapFont.height(scale: 2) + 8 + Self.axisRoom
        for index in 0..<classes {
            let label = "\(index)"
            let labelWidth = BitmapFont.width(of: label, scale: 2)
            BitmapFont.draw(label, into: &image, x: left + index * cellSide + (cellSide - labelWidth) / 2,
                            y: top - BitmapFont.height(scale: 2) - 10, scale: 2, color: [0, 0, 0])
            BitmapFont.draw(label, into: &image, x: left - labelWidth - 12,
                            y: top + index * cellSide + (cellSide - BitmapFont.height(scale: 2)) / 2, scale: 2, color: [0, 0, 0])
        }
        for truth in 0..<classes {
            let rowTotal = max(1, total(truth: truth))
            for predicted in 0..<classes {
                let share = (Double(self[truth, predicted]) / Double(rowTotal)).squareRoot()
                // White to a deep blue.
                let color = [UInt8(255 - share * 235), UInt8(255 - share * 200), UInt8(255 - share * 75)]
                let x = left + predicted * cellSide, y = top + truth * cellSide
                image.fill(x: x, y: y, width: cellSide, height: cellSide, color: color)
                image.frame(x: x, y: y, width: cellSide, height: cellSide, thickness: 1, color: [210, 210, 210])
                let text = "\(self[truth, predicted])"
                let scale = BitmapFont.width(of: text, scale: 2) <= cellSide - 6 ? 2 : 1
                BitmapFont.draw(text, into: &image, x: x + (cellSide - BitmapFont.width(of: text, scale: scale)) / 2,
                                y: y + (cellSide - BitmapFont.height(scale: scale)) / 2, scale: scale,
                                color: share > 0.5 ? [255, 255, 255] : [0, 0, 0])
            }
        }
        return image
    }
}
