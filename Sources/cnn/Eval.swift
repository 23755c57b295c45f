// Eval.swift: `cnn eval`, accuracy of a saved model without training.
//
// This is the seed's is_load_model_from_file mode: load the parameters,
// report accuracy, train nothing.  The model comes from a checkpoint (of
// `cnn train --save` or `cnn import-network3`), which carries its own
// architecture, so no network flags are needed.  The checkpoint's thread
// count and evaluation batch size are used by default, so the figures are
// exactly those training printed.  --confusion adds the test set's
// confusion matrix as a table, and --confusion-png draws it as a heat map.
//
// --model may be repeated: each member's accuracy is printed on a line of
// its own, then the ensemble's (Ensemble.swift), whose predictions the
// confusion matrix then counts.  The data flags are DataOptions', so a
// model can be evaluated on network3's pickle or on IDX files.

import ArgumentParser
import Foundation
import SwiftNet
import SwiftNetImages

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a saved model's validation and test accuracy on MNIST, without training.")

    // Not ModelOptions' flag: this one may be repeated, for an ensemble.
    @Option(help: ArgumentHelp(ModelOptions.help + " Repeat it to evaluate an ensemble of several models.", valueName: "path"))
    var model: [String] = []

    @Option(help: ArgumentHelp("How several models combine: vote (each votes for its most probable digit; a tie goes to "
        + "the tied digit with the highest summed probability, then the lowest) or average (the most probable digit of "
        + "their mean probabilities) (default: vote, as in the book).", valueName: "vote|average"))
    var ensemble: EnsembleRule?

    @OptionGroup var dataOptions: DataOptions

    @OptionGroup var threadOptions: ThreadOptions

    @OptionGroup var memoryOptions: MemoryOptions

    @Flag(help: "Also print the test set's confusion matrix: rows are true digits, columns predicted ones.")
    var confusion = false

    @Option(name: .customLong("confusion-png"),
            help: ArgumentHelp("Also draw the test set's confusion matrix as a PNG heat map here.", valueName: "path"))
    var confusionPNG: String?

    func validate() throws {
        guard !model.isEmpty else { throw ValidationError("--model is required: the checkpoint to evaluate") }
        if let ensemble, model.count < 2 {
            throw ValidationError("--ensemble \(ensemble.rawValue) needs two or more --model; one model is evaluated on its own")
        }
        if let confusionPNG {
            try checkOutputFolder(confusionPNG, flag: "--confusion-png")
            try checkOutputs([NamedFile(flag: "--confusion-png", path: confusionPNG)],
                             inputs: model.map { NamedFile(flag: "--model", path: $0) } + dataOptions.inputFiles)
        }
    }

    func run() throws {
        let networks = try model.map { path in
            (path, try ModelOptions.network(at: path, threads: threadOptions.threads))
        }
        let (firstPath, first) = networks[0]
        for (path, network) in networks.dropFirst() {
            guard network.inputShape == first.inputShape, network.classCount == first.classCount else {
                throw CheckpointError(path: path, reason: "its network takes inputs of \(network.inputShape) and has "
                    + "\(network.classCount) classes, but \(firstPath)'s takes \(first.inputShape) and has \(first.classCount); "
                    + "an ensemble's members must agree")
            }
        }
        let mnist = try dataOptions.load()
        try ModelOptions.checkInput(of: first, at: firstPath, fits: mnist.test, from: dataOptions.description)
        let matrix: ConfusionMatrix
        if networks.count == 1 {
            print(String(format: "Validation accuracy %.2f%%", try first.accuracy(on: mnist.validation) * 100))
            print(String(format: "Test accuracy %.2f%%", try first.accuracy(on: mnist.test) * 100))
            guard confusion || confusionPNG != nil else { return }
            matrix = try ConfusionMatrix(network: first, data: mnist.test)
        } else {
            matrix = try evaluateEnsemble(networks, on: mnist)
        }
        if confusion {
            print("Confusion matrix of the \(matrix.total) test images" + (networks.count == 1 ? ":" : ", the ensemble's predictions:"))
            print(matrix.table)
        }
        if let confusionPNG {
            do {
                try PNG.write(matrix.heatMap(), to: confusionPNG)
            } catch let error as ImageError {
                // CNN.main prints a CheckpointError as its one "<path>: <problem>" line.
                throw CheckpointError(path: error.path, reason: error.problem)
            }
            print("Wrote \(confusionPNG)")
        }
    }

    /// Prints each member's accuracy and the ensemble's; returns the ensemble's test confusion matrix.
    private func evaluateEnsemble(_ networks: [(String, Network)], on mnist: DataSplits) throws -> ConfusionMatrix {
        let rule = ensemble ?? .vote
        let classes = networks[0].1.classCount
        var members: [(validation: [Float], test: [Float])] = []
        for (path, network) in networks {
            let rows = (validation: try network.probabilities(on: mnist.validation), test: try network.probabilities(on: mnist.test))
            members.append(rows)
            print(try line(path + ":", try Ensemble.predictions(rows.validation, classes: classes),
                       try Ensemble.predictions(rows.test, classes: classes), mnist))
        }
        let test = try Ensemble.predictions(members.map(\.test), classes: classes, rule: rule)
        print(try line("Ensemble of \(networks.count) (\(rule.rawValue)):",
                   try Ensemble.predictions(members.map(\.validation), classes: classes, rule: rule), test, mnist))
        let matrixClasses = max(classes, mnist.test.classCount)
        var matrix = try ConfusionMatrix(classes: matrixClasses,
                                     classNames: matrixClasses == mnist.test.classCount ? mnist.test.classNames : nil)
        for (predicted, label) in zip(test, mnist.test.labels) { try matrix.add(truth: Int(label), predicted: Int(predicted)) }
        return matrix
    }

    private func line(_ name: String, _ validation: [Int32], _ test: [Int32], _ mnist: DataSplits) throws -> String {
        name + String(format: " validation accuracy %.2f%%, test accuracy %.2f%%",
                      try Ensemble.accuracy(validation, labels: mnist.validation.labels) * 100,
                      try Ensemble.accuracy(test, labels: mnist.test.labels) * 100)
    }
}

extension EnsembleRule: ExpressibleByArgument {}
