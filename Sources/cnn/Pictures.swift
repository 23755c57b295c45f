// Pictures.swift: `cnn errors` and `cnn filters`, what a model learned, drawn.
//
// `cnn errors` draws the seed's sheet of misclassified test digits (true
// label top right in blue, the network's guess bottom right in red); with
// --compare it sets a second model's sheet beside the first and frames in
// green each digit that the other model gets right, the book's one-conv
// against two-conv comparison.  `cnn filters` draws the first conv layer's
// learned filters.  Both write a PNG atomically and print one line saying
// what they drew; every failure is one line and a non-zero exit.

import ArgumentParser
import Foundation
import SwiftNet
import SwiftNetImages

struct Errors: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw the test digits a saved model gets wrong, as a PNG sheet (the seed's figure).")

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: ArgumentHelp("The PNG file to write.", valueName: "path"))
    var out: String = "errors.png"

    @OptionGroup var dataOptions: DataOptions

    @Option(help: ArgumentHelp("A second checkpoint, drawn beside the first; green frames mark the digits one model fixes.",
                               valueName: "path"))
    var compare: String?

    @OptionGroup var threadOptions: ThreadOptions

    @OptionGroup var memoryOptions: MemoryOptions

    func validate() throws {
        try checkOutputFolder(out)
        try checkOutputs([NamedFile(flag: "--out", path: out)],
                         inputs: [NamedFile(flag: "--model", path: modelOptions.model)] + (compare.map { [NamedFile(flag: "--compare", path: $0)] } ?? [])
                            + dataOptions.inputFiles)
    }

    /// Every test image `path`'s model misclassifies, in order, and the model's shape check.
    private func misclassified(by path: String, on test: Dataset) throws -> [Misclassification] {
        let network = try ModelOptions.network(at: path, threads: threadOptions.threads)
        try ModelOptions.checkInput(of: network, at: path, fits: test, from: dataOptions.description)
        var errors: [Misclassification] = []
        try network.forEachPrediction(on: test) { index, predicted, label in
            if predicted != label { errors.append(Misclassification(index: index, label: Int(label), predicted: Int(predicted))) }
        }
        return errors
    }

    func run() throws {
        let model = modelOptions.model
        let test = try dataOptions.load().test
        let errors = try misclassified(by: model, on: test)
        var sheet: Bitmap
        if let compare {
            let other = try misclassified(by: compare, on: test)
            let wrongHere = Set(errors.map(\.index)), wrongThere = Set(other.map(\.index))
            sheet = try ErrorSheet.sideBySide(
                try ErrorSheet.panel(data: test, errors: errors, title: "A: " + Self.name(of: model), fixedElsewhere: wrongHere.subtracting(wrongThere)),
                try ErrorSheet.panel(data: test, errors: other, title: "B: " + Self.name(of: compare), fixedElsewhere: wrongThere.subtracting(wrongHere)))
            print("\(model): \(Self.summary(errors.count, of: test.count)); \(compare): \(Self.summary(other.count, of: test.count))")
            print("\(wrongHere.subtracting(wrongThere).count) of A's errors are right in B; "
                + "\(wrongThere.subtracting(wrongHere).count) of B's are right in A")
        } else {
            sheet = try ErrorSheet.panel(data: test, errors: errors, title: Self.name(of: model))
            print("\(model): \(Self.summary(errors.count, of: test.count))")
        }
        try PNG.write(sheet, to: out)
        print("Wrote \(out) (\(sheet.width)x\(sheet.height) pixels, \(min(errors.count, ErrorSheet.capacity)) digits"
            + (compare == nil ? ")" : " on the left)"))
    }

    /// A model's file name for the header, which the font draws in capitals.
    static func name(of path: String) -> String {
        URL(fileURLWithPath: path).lastPathComponent
    }

    static func summary(_ errors: Int, of count: Int) -> String {
        String(format: "%d errors of %d test images, test accuracy %.2f%%", errors, count,
               count == 0 ? 0 : Double(count - errors) / Double(count) * 100)
    }
}

struct Filters: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw a saved model's first convolutional layer's filters as a PNG (dark = large weight).")

    @OptionGroup var modelOptions: ModelOptions

    @OptionGroup var memoryOptions: MemoryOptions

    @Option(help: ArgumentHelp("The PNG file to write.", valueName: "path"))
    var out: String = "filters.png"

    func validate() throws {
        try checkOutputFolder(out)
        try checkOutputs([NamedFile(flag: "--out", path: out)], inputs: [NamedFile(flag: "--model", path: modelOptions.model)])
    }

    func run() throws {
        let network = try modelOptions.network(threads: 1)
        guard let conv = network.layers.first as? any FilteredLayer else {
            throw CheckpointError(path: modelOptions.model, reason: "its first layer is \(network.layers[0].summary), not a convolutional layer")
        }
        let shape = conv.filterShape
        // Parameters hold every layer's weights first, in layer order, so the first layer's come first.
        let count = shape.filters * shape.channels
        let weights = Array(network.parameterValues.prefix(count * shape.height * shape.width))
        let sheet = try FilterSheet.draw(weights: weights, count: count, height: shape.height, width: shape.width)
        try PNG.write(sheet, to: out)
        print("Wrote \(out) (\(sheet.width)x\(sheet.height) pixels, \(shape.filters) filters"
            + (shape.channels > 1 ? " x \(shape.channels) channels" : "") + " of \(shape.height)x\(shape.width))")
    }
}
