// Sheets.swift: the pictures `cnn errors` and `cnn filters` draw.
//
// The seed's book ends chapter 6 with the test digits its best network gets
// wrong, drawn in a grid with the true label at the top right and the
// network's guess at the bottom right; readers set the one-conv sheet beside
// the two-conv one to see what depth fixed.  It also shows the first conv
// layer's learned 5x5 filters as gray blocks.  Layout lives here, in the
// library, so that tests can check a sheet's size and content without
// running the tool; the commands only load the model and write the file.
// Images of any size are drawn; three channels are drawn in colour as they
// are, one channel as dark ink on white paper as the book prints digits, and
// any other count shows its first channel in that way.  The corner labels
// are class numbers, so they fit a tile whatever the classes are called; when
// the data names its classes, a key in the bottom margin says which is which.

import Foundation
import SwiftNet

/// One test image a network classified wrongly.
public struct Misclassification: Equatable, Sendable {
    /// The image's position in its dataset.
    public let index: Int
    /// The true class.
    public let label: Int
    /// The network's class.
    public let predicted: Int

    /// Image `index`, of class `label`, taken for class `predicted`.
    public init(index: Int, label: Int, predicted: Int) {
        self.index = index
        self.label = label
        self.predicted = predicted
    }
}

/// The sheet of misclassified digits, as in the seed's book.
public enum ErrorSheet {
    /// Tiles per row and the most rows: up to 120 digits, as the seed shows.
    public static let columns = 12, maximumRows = 10
    /// The most digits one sheet shows.
    public static var capacity: Int { columns * maximumRows }
    /// Each image pixel becomes a scale x scale block.
    public static let scale = 3
    /// Blank pixels around each tile, and around the whole sheet.
    public static let padding = 4, margin = 12
    /// Font scale of the corner labels and of the header.
    static let labelScale = 2, headerScale = 2
    /// The header: two lines of text.
    static var headerHeight: Int { 2 * (BitmapFont.height(scale: headerScale) + 6) + 6 }

    static let paper: [UInt8] = [255, 255, 255]
    static let tileBackground: [UInt8] = [255, 255, 255]
    static let tileEdge: [UInt8] = [200, 200, 200]
    static let ink: [UInt8] = [0, 0, 0]
    /// The true label's colour (blue) and the prediction's (red).
    static let labelColor: [UInt8] = [20, 70, 210], predictionColor: [UInt8] = [210, 30, 30]
    /// The frame around a digit that the other model of a comparison gets right.
    static let fixedColor: [UInt8] = [30, 160, 60]

    /// The side of one grid cell in pixels, for images of the given size.
    public static func cellSize(imageWidth: Int, imageHeight: Int) -> (width: Int, height: Int) {
        (imageWidth * scale + 2 * padding, imageHeight * scale + 2 * padding)
    }

    /// The size of one panel showing `shown` digits: 12 columns, as many
    /// rows as needed (at least one, at most 10), a header and margins.
    public static func panelSize(shown: Int, imageWidth: Int, imageHeight: Int) -> (width: Int, height: Int) {
        let cell = cellSize(imageWidth: imageWidth, imageHeight: imageHeight)
        let rows = max(1, min(maximumRows, (shown + columns - 1) / columns))
        return (2 * margin + columns * cell.width, 2 * margin + headerHeight + rows * cell.height)
    }

    /// "CLASSES: 0 CAT, 1 DOG, ..." at the font's smallest scale, as many entries as fit
    /// `width` pixels (then "..."); nil without names.  It is drawn in the bottom margin,
    /// so a sheet keeps its size.
    static func classKey(_ names: [String]?, width: Int) -> String? {
        guard let names else { return nil }
        var key = "CLASSES:"
        for (index, name) in names.enumerated() {
            let entry = " \(index) \(name)" + (index + 1 < names.count ? "," : "")
            guard BitmapFont.width(of: key + entry + " ...", scale: 1) <= width else { return key + " ..." }
            key += entry
        }
        return key
    }

    /// Draws one panel of the sheet.
    /// - Parameters:
    ///   - data: the dataset the misclassifications index, of any image shape (see the file comment).
    ///   - errors: every misclassified image, in dataset order; the first 120 are drawn.
    ///   - title: the first header line, e.g. the model's name.
    ///   - fixedElsewhere: indices another model classifies correctly; their tiles get a green frame.
    /// - Returns: an RGB image of `panelSize(shown: min(errors.count, 120), ...)`.
    public static func panel(data: Dataset, errors: [Misclassification], title: String,
                             fixedElsewhere: Set<Int>? = nil) throws -> Bitmap {
        let shown = Array(errors.prefix(capacity))
        if let wrong = shown.first(where: { !(0..<data.count).contains($0.index) }) {
            throw BitmapError.noSuchImage(index: wrong.index, count: data.count)
        }
        let size = panelSize(shown: shown.count, imageWidth: data.width, imageHeight: data.height)
        let cell = cellSize(imageWidth: data.width, imageHeight: data.height)
        var image = Bitmap(validWidth: size.width, height: size.height, channels: 3, fill: 255)
        let lineHeight = BitmapFont.height(scale: headerScale) + 6
        BitmapFont.draw(title, into: &image, x: margin, y: margin, scale: headerScale, color: ink)
        let accuracy = data.count == 0 ? 0 : Double(data.count - errors.count) / Double(data.count) * 100
        var summary = "\(errors.count) ERRORS OF \(data.count), TEST ACCURACY " + String(format: "%.2f%%", accuracy)
        if errors.count > shown.count { summary += ", FIRST \(shown.count) SHOWN" }
        BitmapFont.draw(summary, into: &image, x: margin, y: margin + lineHeight, scale: headerScale, color: ink)
        if fixedElsewhere != nil {
            // A key for the frames, on the right of the first header line.
            let key = "GREEN: RIGHT IN THE OTHER MODEL"
            BitmapFont.draw(key, into: &image, x: size.width - margin - BitmapFont.width(of: key, scale: headerScale),
                            y: margin, scale: headerScale, color: fixedColor)
        }
        let top = margin + headerHeight
        let labelWidth = BitmapFont.width(of: "0", scale: labelScale)
        let labelHeight = BitmapFont.height(scale: labelScale)
        for (position, error) in shown.enumerated() {
            let x = margin + (position % columns) * cell.width
            let y = top + (position / columns) * cell.height
            image.frame(x: x + 1, y: y + 1, width: cell.width - 2, height: cell.height - 2, thickness: 1, color: tileEdge)
            if let fixedElsewhere, fixedElsewhere.contains(error.index) {
                image.frame(x: x, y: y, width: cell.width, height: cell.height, thickness: 3, color: fixedColor)
            }
            pasteTile(of: data, at: error.index, into: &image, x: x + padding, y: y + padding)
            let right = x + cell.width - padding - 2 - labelWidth
            BitmapFont.draw("\(error.label)", into: &image, x: right, y: y + padding + 2, scale: labelScale, color: labelColor)
            BitmapFont.draw("\(error.predicted)", into: &image, x: right, y: y + cell.height - padding - 2 - labelHeight,
                            scale: labelScale, color: predictionColor)
        }
        // The corner numbers' names, in the bottom margin, when the data names its classes.
        if let key = classKey(data.meaningfulClassNames, width: size.width - 2 * margin) {
            BitmapFont.draw(key, into: &image, x: margin, y: size.height - margin + (margin - BitmapFont.height(scale: 1)) / 2,
                            scale: 1, color: ink)
        }
        return image
    }

    /// Draws image `index` of `data` enlarged `scale` times at (x, y): RGB as it is,
    /// otherwise the first channel as dark ink on white paper.
    static func pasteTile(of data: Dataset, at index: Int, into image: inout Bitmap, x: Int, y: Int) {
        let start = index * data.imageSize, plane = data.height * data.width
        guard data.channels == 3 else {
            let ink = data.pixels[start..<(start + plane)].map { 255 - $0 }
            image.paste(gray: ink[...], tileWidth: data.width, tileHeight: data.height, x: x, y: y, scale: scale)
            return
        }
        for row in 0..<(data.height * scale) where (0..<image.height).contains(y + row) {
            for column in 0..<(data.width * scale) where (0..<image.width).contains(x + column) {
                let source = start + (row / scale) * data.width + column / scale
                let target = ((y + row) * image.width + x + column) * image.channels
                for channel in 0..<3 { image.samples[target + channel] = data.pixels[source + channel * plane] }
            }
        }
    }

    /// Two panels side by side (the shorter padded with paper), a gap between.
    /// - Throws: `BitmapError.unsupportedChannels` unless both are RGB, as `panel` draws them.
    public static func sideBySide(_ left: Bitmap, _ right: Bitmap) throws -> Bitmap {
        for panel in [left, right] where panel.channels != 3 {
            throw BitmapError.unsupportedChannels(format: "a side-by-side sheet of RGB panels", channels: panel.channels)
        }
        let gap = margin
        var image = Bitmap(validWidth: left.width + gap + right.width, height: max(left.height, right.height), channels: 3, fill: 255)
        for (panel, x) in [(left, 0), (right, left.width + gap)] {
            for row in 0..<panel.height {
                let source = row * panel.width * 3
                let target = (row * image.width + x) * 3
                image.samples.replaceSubrange(target..<(target + panel.width * 3), with: panel.samples[source..<(source + panel.width * 3)])
            }
        }
        // A thin rule between the panels.
        image.fill(x: left.width + gap / 2 - 1, y: margin, width: 2, height: image.height - 2 * margin, color: tileEdge)
        return image
    }
}

/// The first conv layer's filters as gray blocks, as in the seed's book.
public enum FilterSheet {
    /// Filters per row.
    public static let columns = 10
    /// Each weight becomes a scale x scale block.
    public static let scale = 10
    /// Blank pixels between filters and around the sheet.
    public static let gap = 6, margin = 12
    static let headerScale = 2

    /// The sheet's size for `count` filters of `height` x `width` weights.
    public static func size(count: Int, height: Int, width: Int) -> (width: Int, height: Int) {
        let shown = min(count, columns)
        let rows = (count + columns - 1) / columns
        let headerWidth = 2 * margin + BitmapFont.width(of: header(count: count, height: height, width: width), scale: headerScale)
        let gridWidth = 2 * margin + shown * width * scale + (shown - 1) * gap
        return (max(gridWidth, headerWidth),
                2 * margin + BitmapFont.height(scale: headerScale) + gap * 2 + rows * height * scale + (rows - 1) * gap)
    }

    static func header(count: Int, height: Int, width: Int) -> String {
        "\(count) FILTERS \(height)x\(width), DARK = LARGE WEIGHT"
    }

    /// Draws `count` filters, each `height * width` weights row by row, in
    /// one gray scale shared by all: the largest weight black, the smallest
    /// white, so that filters can be compared with one another.
    /// - Throws: `BitmapError` when a count or size is not positive, or `weights` does not
    ///   number `count * height * width`.
    public static func draw(weights: [Float], count: Int, height: Int, width: Int) throws -> Bitmap {
        let expected = try Bitmap.sampleCount(width: width, height: height, channels: 1)
            .multipliedReportingOverflow(by: max(count, 0))
        guard count > 0, !expected.overflow, weights.count == expected.partialValue else {
            throw BitmapError.sampleCount(samples: weights.count, expected: expected.overflow ? Int.max : expected.partialValue)
        }
        let size = size(count: count, height: height, width: width)
        var image = Bitmap(validWidth: size.width, height: size.height, channels: 1, fill: 255)
        BitmapFont.draw(header(count: count, height: height, width: width), into: &image, x: margin, y: margin,
                        scale: headerScale, color: [0])
        let low = weights.min()!, high = weights.max()!
        let range = high > low ? high - low : 1
        let gray = weights.map { UInt8(((high - $0) / range * 255).rounded()) }
        let top = margin + BitmapFont.height(scale: headerScale) + gap * 2
        for filter in 0..<count {
            let x = margin + (filter % columns) * (width * scale + gap)
            let y = top + (filter / columns) * (height * scale + gap)
            let start = filter * height * width
            image.paste(gray: gray[start..<(start + height * width)], tileWidth: width, tileHeight: height, x: x, y: y, scale: scale)
            // An outline, so that a pale filter still shows its edges on the white paper.
            image.frame(x: x - 1, y: y - 1, width: width * scale + 2, height: height * scale + 2, thickness: 1, color: [160])
        }
        return image
    }
}
