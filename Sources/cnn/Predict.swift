// Predict.swift: `cnn predict`, a saved model's reading of your own digits.
//
// Each image (PNG or binary PGM, any size, colour or gray, dark-on-light or
// light-on-dark) goes through MNIST's preprocessing (DigitPreprocessing),
// and the network's three most probable digits are printed, one line per
// image: "path: 7 (98.9%), 2 (0.6%), 1 (0.2%)".  --show DIR writes each
// 28x28 view the network saw, enlarged, so a surprising answer can be
// traced to a surprising input.  Every image is read and checked before the
// model runs, so a bad file fails the command in one line and prints nothing.

import ArgumentParser
import Foundation
import SwiftNet
import SwiftNetImages

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read your own digit images (PNG or PGM) and print a saved model's three likeliest digits for each.")

    @OptionGroup var modelOptions: ModelOptions

    @OptionGroup var memoryOptions: MemoryOptions

    @Option(help: ArgumentHelp("Also write the 28x28 view the network saw of each image, 10x enlarged, to DIR/<name>.seen.png "
                               + "(DIR is created if needed).", valueName: "dir"))
    var show: String?

    @Argument(help: ArgumentHelp("Images of one digit each: PNG (gray, RGB, with or without alpha, or palette) or binary PGM.",
                                 valueName: "image"))
    var images: [String]

    /// Views are written 10x size: 280x280, big enough to see each pixel.
    static let showScale = 10

    func validate() throws {
        guard !images.isEmpty else { throw ValidationError("give at least one image to read") }
        if show != nil {
            var seen: [String: String] = [:]
            for image in images {
                let name = Self.viewName(of: image)
                if let earlier = seen[name] {
                    throw ValidationError("--show: \(earlier) and \(image) would both be written as \(name); rename one")
                }
                seen[name] = image
            }
        }
        if let show {
            let views = images.map { NamedFile(flag: "--show", path: URL(fileURLWithPath: show).appendingPathComponent(Self.viewName(of: $0)).path) }
            try checkOutputs(views, inputs: [NamedFile(flag: "--model", path: modelOptions.model)]
                + images.map { NamedFile(flag: "the image", path: $0) })
        }
    }

    func run() throws {
        let pixels = try images.map(DigitPreprocessing.mnistPixels(contentsOf:))
        let network = try modelOptions.network(threads: 1)
        // The preprocessing makes MNIST's 28x28 gray form; the classes are the network's own.
        let side = DigitPreprocessing.side, classes = network.classCount
        guard network.inputShape == SampleShape(channels: 1, height: side, width: side) else {
            throw CheckpointError(path: modelOptions.model, reason: "its network takes inputs of \(network.inputShape), "
                + "not the 1x\(side)x\(side) gray digits a picture is preprocessed into")
        }
        let data = try Dataset(name: "your images", channels: 1, height: side, width: side,
                               pixels: pixels.flatMap { $0 }, labels: [Int32](repeating: 0, count: images.count),
                               classCount: classes)
        let probabilities = try network.probabilities(on: data)
        for (index, path) in images.enumerated() {
            let row = probabilities[(index * classes)..<((index + 1) * classes)]
            let ranked = row.indices.sorted { row[$0] > row[$1] }.prefix(3)
            print("\(path): " + ranked.map { String(format: "%d (%.1f%%)", $0 - row.startIndex, row[$0] * 100) }
                .joined(separator: ", "))
        }
        if let show { try writeViews(pixels, side: side, to: show) }
    }

    /// Writes each image's 28x28 view, enlarged, light digit on black as the network sees it.
    private func writeViews(_ views: [[UInt8]], side: Int, to folder: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw ImageError(path: folder, problem: "cannot be created as a folder for --show")
        }
        let scale = Self.showScale
        for (path, view) in zip(images, views) {
            var picture = try Bitmap(width: side * scale, height: side * scale, channels: 1)
            picture.paste(gray: view[...], tileWidth: side, tileHeight: side, x: 0, y: 0, scale: scale)
            let out = URL(fileURLWithPath: folder).appendingPathComponent(Self.viewName(of: path)).path
            try PNG.write(picture, to: out)
        }
        print("Wrote \(views.count) view\(views.count == 1 ? "" : "s") of \(side * scale)x\(side * scale) pixels to \(folder)")
    }

    /// The file a view of `path` is written to: "seven.png" -> "seven.seen.png", a
    /// name that never overwrites the input when DIR is the input's own folder.
    static func viewName(of path: String) -> String {
        URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent + ".seen.png"
    }
}
