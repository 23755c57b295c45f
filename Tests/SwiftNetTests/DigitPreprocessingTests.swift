// DigitPreprocessingTests.swift: people's digit pictures made to look like MNIST.
//
// Synthetic digits, drawn off-centre in both polarities, in gray and in
// colour with and without alpha, must come out as MNIST digits do: longer
// side 20 pixels, centre of mass at (14, 14) to within half a pixel, full
// brightness.  Files that show nothing, or are not images, fail in one line
// naming the file.  With the real pickle, `cnn predict` run on test digits
// written as PNG files must agree exactly with the network on the same
// preprocessing done in-process, and nearly always with the network on the
// raw test images (which are already centred MNIST digits).

import Foundation
@testable import SwiftNet
@testable import SwiftNetImages
import XCTest

/// Synthetic digits drawn with thick anti-aliased strokes.
enum DrawnDigit {
    /// A "7" whose top left corner is at (x, y), `size` pixels tall, dark (0) on white (255).
    static func seven(width: Int, height: Int, x: Double, y: Double, size: Double) throws -> Bitmap {
        var image = try Bitmap(width: width, height: height, channels: 1, fill: 255)
        let stroke = size / 10
        image.drawLine(from: x, y, to: x + 0.7 * size, y, width: stroke, color: [0])
        image.drawLine(from: x + 0.7 * size, y, to: x + 0.25 * size, y + size, width: stroke, color: [0])
        return image
    }

    /// The same picture with every gray value inverted: light on dark.
    static func inverted(_ image: Bitmap) throws -> Bitmap {
        try Bitmap(width: image.width, height: image.height, channels: image.channels, samples: image.samples.map { 255 - $0 })
    }
}

/// The properties every preprocessed digit must have, checked on `pixels`.
private func assertLooksLikeMNIST(_ pixels: [UInt8]?, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
    guard let pixels else { return XCTFail("\(what): no digit found", file: file, line: line) }
    XCTAssertEqual(pixels.count, 784, what, file: file, line: line)
    let mass = DigitPreprocessing.centreOfMass(pixels.map(Double.init), width: 28)
    XCTAssertLessThanOrEqual(abs(mass.row - 14), 0.5, "\(what): centre of mass \(mass)", file: file, line: line)
    XCTAssertLessThanOrEqual(abs(mass.column - 14), 0.5, "\(what): centre of mass \(mass)", file: file, line: line)
    let ink = pixels.map(Float.init)
    let box = DigitPreprocessing.boundingBox(of: ink, width: 28, height: 28)!
    XCTAssertEqual(max(box.width, box.height), 20, "\(what): bounding box \(box)", file: file, line: line)
    XCTAssertEqual(pixels.max(), 255, "\(what): the strongest ink should be full brightness", file: file, line: line)
    // Light digit on black, as in MNIST: the corners are background.
    XCTAssertEqual([pixels[0], pixels[27], pixels[756], pixels[783]], [0, 0, 0, 0], what, file: file, line: line)
}

final class DigitPreprocessingTests: CheckpointTestCase {
    func testAnOffCentreSevenLandsCentredInBothPolarities() throws {
        let dark = try DrawnDigit.seven(width: 120, height: 90, x: 12, y: 10, size: 60)
        let light = try DrawnDigit.inverted(dark)
        let fromDark = DigitPreprocessing.mnistPixels(of: dark), fromLight = DigitPreprocessing.mnistPixels(of: light)
        assertLooksLikeMNIST(fromDark, "dark on light")
        assertLooksLikeMNIST(fromLight, "light on dark")
        // The two differ only by float rounding of 1 - v/255 against (255 - v)/255.
        let darkPixels: [UInt8] = fromDark ?? [], lightPixels: [UInt8] = fromLight ?? []
        let differences: [Int] = zip(darkPixels, lightPixels).map { pair in abs(Int(pair.0) - Int(pair.1)) }
        let difference = differences.max() ?? 99
        XCTAssertLessThanOrEqual(difference, 1, "the two polarities should give the same digit")
        // A 7 is taller than wide: its height is the 20-pixel side, and its bar is its top row.
        let box = DigitPreprocessing.boundingBox(of: (fromDark ?? []).map(Float.init), width: 28, height: 28)!
        XCTAssertEqual(box.height, 20)
        XCTAssertLessThan(box.width, 20)
        let topRow = (fromDark ?? [])[(box.y * 28)..<(box.y * 28 + 28)]
        XCTAssertGreaterThan(topRow.filter { $0 > 128 }.count, box.width / 2, "the 7's bar should span its top row")
    }

    func testATinyDigitIsEnlargedAndABigOneShrunk() throws {
        for (width, height, size) in [(16, 16, 8.0), (900, 700, 500.0)] {
            let picture = try DrawnDigit.seven(width: width, height: height, x: Double(width) * 0.3, y: Double(height) * 0.2, size: size)
            assertLooksLikeMNIST(DigitPreprocessing.mnistPixels(of: picture), "\(width)x\(height)")
        }
    }

    func testALargeDarkOnWhiteColourImageWithOrWithoutAlpha() throws {
        // A dark blue "1" with a serif, right of centre, on a 200x150 white RGB page.
        var rgb = try Bitmap(width: 200, height: 150, channels: 3, fill: 255)
        rgb.drawLine(from: 140, 20, to: 140, 120, width: 9, color: [20, 30, 90])
        rgb.drawLine(from: 140, 20, to: 124, 36, width: 9, color: [20, 30, 90])
        let fromRGB = DigitPreprocessing.mnistPixels(of: rgb)
        assertLooksLikeMNIST(fromRGB, "RGB")
        // A "1" is a tall narrow box: 20 high, much less wide.
        let box = DigitPreprocessing.boundingBox(of: (fromRGB ?? []).map(Float.init), width: 28, height: 28)!
        XCTAssertEqual(box.height, 20)
        XCTAssertLessThanOrEqual(box.width, 8)
        // The same ink on a transparent black page is composited on white: the same digit.
        var rgba = try Bitmap(width: 200, height: 150, channels: 4, fill: 0)
        for pixel in 0..<(200 * 150) where rgb.samples[pixel * 3..<(pixel * 3 + 3)] != [255, 255, 255] {
            rgba.samples.replaceSubrange((pixel * 4)..<(pixel * 4 + 4), with: rgb.samples[(pixel * 3)..<(pixel * 3 + 3)] + [255])
        }
        XCTAssertEqual(DigitPreprocessing.mnistPixels(of: rgba), fromRGB)
    }

    func testFilesOfEitherFormatAreReadAndOnesWithoutInkAreRefusedInOneLine() throws {
        let picture = try DrawnDigit.seven(width: 64, height: 48, x: 30, y: 5, size: 38)
        let expected = DigitPreprocessing.mnistPixels(of: picture)
        try PGM.write(picture, to: path("seven.pgm"))
        try PNG.write(picture, to: path("seven.png"))
        XCTAssertEqual(try DigitPreprocessing.mnistPixels(contentsOf: path("seven.pgm")), expected)
        XCTAssertEqual(try DigitPreprocessing.mnistPixels(contentsOf: path("seven.png")), expected)

        try PNG.write(Bitmap(width: 40, height: 30, channels: 3, fill: 250), to: path("blank.png"))
        var speck = try Bitmap(width: 40, height: 30, channels: 1, fill: 255)
        speck.fill(x: 20, y: 10, width: 1, height: 1, color: [240])  // 6% darker: paper grain, not ink
        try PGM.write(speck, to: path("speck.pgm"))
        _ = try write(Array("not an image at all".utf8), to: "notes.png")
        for (name, problem) in [("blank.png", "shows no digit"), ("speck.pgm", "shows no digit"),
                                ("notes.png", "neither a PNG nor a binary PGM"), ("absent.png", "no such file")] {
            XCTAssertThrowsError(try DigitPreprocessing.mnistPixels(contentsOf: path(name)), name) { error in
                let text = String(describing: error)
                XCTAssertTrue(error is ImageError && text.hasPrefix(path(name) + ": ") && text.contains(problem), text)
                XCTAssertFalse(text.contains("\n"), text)
            }
        }
    }

    /// Every MNIST digit is recognised as already in MNIST's form (so
    /// `cnn predict` leaves it exactly as `cnn eval` sees it), and the
    /// pictures a person makes are not.
    func testEveryMNISTDigitIsRecognisedAsAlreadyInMNISTsForm() throws {
        let mnist = try MNIST.load(contentsOf: try RealMNISTFile.path())
        for split in [mnist.training, mnist.validation, mnist.test] {
            var refused: [Int] = []
            for index in 0..<split.count {
                let image = try Bitmap(width: 28, height: 28, channels: 1,
                                  samples: Array(split.pixels[(index * 784)..<((index + 1) * 784)]))
                if !DigitPreprocessing.isAlreadyMNIST(image) { refused.append(index) }
            }
            XCTAssertTrue(refused.isEmpty, "\(split.name): \(refused.count) digits not recognised, first \(refused.prefix(5))")
        }
        XCTAssertFalse(DigitPreprocessing.isAlreadyMNIST(try DrawnDigit.seven(width: 28, height: 28, x: 0, y: 0, size: 20)),
                       "dark on light is not MNIST's form")
        var offCentre = try Bitmap(width: 28, height: 28, channels: 1, fill: 0)
        for row in 4..<12 { for column in 4..<8 { offCentre.samples[row * 28 + column] = 255 } }
        XCTAssertFalse(DigitPreprocessing.isAlreadyMNIST(offCentre), "an off-centre digit is preprocessed")
    }
}
