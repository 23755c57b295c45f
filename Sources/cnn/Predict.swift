// Predict.swift: `cnn predict`, a saved model's reading of your own images.
//
// For a digit model (1x28x28 input, classes not named), each image (PNG or
// binary PGM, any size, colour or gray, dark-on-light or light-on-dark) goes
// through MNIST's preprocessing (DigitPreprocessing), and the network's
// three most probable digits are printed, one line per image:
// "path: 7 (98.9%), 2 (0.6%), 1 (0.2%)".  A model that names its classes
// (one trained on a folder of your own images) takes each image as its data
// was read: brought to the model's channels and resampled to its size
// (--keep-aspect as in training), and its lines name the classes:
// "cat.png: cat (91.2%), dog (6.0%), bird (1.1%)".  --show DIR writes each
// view the network saw, enlarged, so a surprising answer can be traced to a
// surprising input.  Every image is read and checked before the model runs,
// so a bad file fails the command in one line and prints nothing.

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

    @Flag(help: ArgumentHelp("For a model of your own images: keep each image's proportions when resizing it, padded with "
        + "black, as --keep-aspect did in training."))
    var keepAspect = false

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
        let network = try modelOptions.network(threads: 1)
        // A model that does not name its classes reads digits, as MNIST draws them; one that
        // does (trained on a folder of images) reads pictures as its folder's were read.
        let reading: PictureReading
        do {
            reading = try PictureReading(for: network, keepAspect: keepAspect)
        } catch let error as PictureInputError {
            throw CheckpointError(path: modelOptions.model, reason: error.description)
        }
        let shape = reading.shape
        // Every image is read and checked before the model runs.
        let views = try images.map(reading.view(contentsOf:))
        let data = try Dataset(name: "your images", channels: shape.channels, height: shape.height, width: shape.width,
                               pixels: views.flatMap { $0 }, labels: [Int32](repeating: 0, count: images.count),
                               classCount: network.classCount)
        let probabilities = try network.probabilities(on: data)
        let classes = network.classCount
        for (index, path) in images.enumerated() {
            let row = probabilities[(index * classes)..<((index + 1) * classes)]
            let ranked = row.indices.sorted { row[$0] > row[$1] }.prefix(3)
            print("\(path): " + ranked.map { position in
                let label = position - row.startIndex
                let name = network.classNames.map { $0[label] } ?? String(label)
                return name + String(format: " (%.1f%%)", row[position] * 100)
            }.joined(separator: ", "))
        }
        if let show {
            try writeViews(views, channels: shape.channels, width: shape.width, height: shape.height, to: show)
        }
    }

    /// Writes each image's view, enlarged, as the network sees it (a digit light on black).
    private func writeViews(_ views: [[UInt8]], channels: Int, width: Int, height: Int, to folder: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw ImageError(path: folder, problem: "cannot be created as a folder for --show")
        }
        let scale = max(1, Self.showScale * DigitPreprocessing.side / max(width, height))
        for (path, view) in zip(images, views) {
            var picture = try Bitmap(width: width * scale, height: height * scale, channels: channels)
            let plane = width * height
            for y in 0..<(height * scale) {
                for x in 0..<(width * scale) {
                    for channel in 0..<channels {
                        picture[x: x, y: y, channel: channel] = view[channel * plane + (y / scale) * width + x / scale]
                    }
                }
            }
            let out = URL(fileURLWithPath: folder).appendingPathComponent(Self.viewName(of: path)).path
            try PNG.write(picture, to: out)
        }
        print("Wrote \(views.count) view\(views.count == 1 ? "" : "s") of \(width * scale)x\(height * scale) pixels to \(folder)")
    }

    /// The file a view of `path` is written to: "seven.png" -> "seven.seen.png", a
    /// name that never overwrites the input when DIR is the input's own folder.
    static func viewName(of path: String) -> String {
        URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent + ".seen.png"
    }
}
