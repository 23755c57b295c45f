// Embed.swift: `cnn embed`, a picture of what a model's last hidden layer separates.
//
// The test images' penultimate activations (the features the softmax reads)
// are projected on their first two principal components (LAPACKE, through
// the library's PrincipalComponents) and drawn as dots coloured by true
// class.  Well-separated clusters are classes the network keeps apart;
// overlapping ones are the classes it confuses.  One line says how much of
// the features' variance the two components show; --csv also writes the
// coordinates.

import ArgumentParser
import Foundation
import SwiftNet
import SwiftNetImages

struct Embed: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw a saved model's test-set features (its penultimate layer) on their first two principal components, as a PNG.")

    @OptionGroup var modelOptions: ModelOptions

    @OptionGroup var dataOptions: DataOptions

    @Option(help: ArgumentHelp("The PNG file to write.", valueName: "path"))
    var out: String = "embed.png"

    @Option(help: ArgumentHelp("Also write each test image's coordinates as CSV here: index,label,class,x,y.", valueName: "path"))
    var csv: String?

    @OptionGroup var threadOptions: ThreadOptions

    func validate() throws {
        try checkOutputFolder(out)
        var outputs = [NamedFile(flag: "--out", path: out)]
        if let csv {
            try checkOutputFolder(csv, flag: "--csv")
            outputs.append(NamedFile(flag: "--csv", path: csv))
        }
        try checkOutputs(outputs, inputs: [NamedFile(flag: "--model", path: modelOptions.model)] + dataOptions.inputFiles)
    }

    func run() throws {
        let network = try modelOptions.network(threads: threadOptions.threads)
        let test = try dataOptions.load().test
        try ModelOptions.checkInput(of: network, at: modelOptions.model, fits: test, from: dataOptions.description)
        let features = try network.penultimateActivations(on: test)
        let components = try PrincipalComponents(rows: features, dimensions: network.penultimateWidth)
        let points = components.project(features)
        let names = (0..<max(test.classCount, network.classCount)).map { test.className(of: $0) }
        let picture = try EmbeddingPlot.draw(points: points, labels: test.labels, classNames: names,
                                             title: "\(URL(fileURLWithPath: modelOptions.model).lastPathComponent): "
                                                 + "\(network.penultimateWidth) FEATURES OF \(test.count) TEST IMAGES")
        try PNG.write(picture, to: out)
        if let csv {
            var text = "index,label,class,x,y\n"
            for index in 0..<test.count {
                let name = names[Int(test.labels[index])].replacingOccurrences(of: "\"", with: "\"\"")
                text += "\(index),\(test.labels[index]),\"\(name)\",\(points[2 * index]),\(points[2 * index + 1])\n"
            }
            try AtomicFile.write(Array(text.utf8), to: csv)
        }
        let shares = components.explainedVariance.map { String(format: "%.1f%%", $0 * 100) }.joined(separator: " and ")
        print("Wrote \(out) (\(picture.width)x\(picture.height) pixels): \(test.count) test images' \(network.penultimateWidth) "
            + "penultimate features on their first two principal components, which carry \(shares) of the variance")
    }
}
