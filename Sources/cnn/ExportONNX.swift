// ExportONNX.swift: `cnn export-onnx`, a saved model as an ONNX file.
//
// A thin client of ONNXExport: it checks the flags (the opset, that --out
// is not the model), loads the checkpoint, and writes the model
// atomically.  What the file holds (its input and output, the pixel
// scaling, the class names) is ONNXExport's to define; the README's "ONNX
// export" shows it run by ONNX Runtime.

import ArgumentParser
import SwiftNet

struct ExportONNX: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-onnx",
        abstract: "Write a saved model as an ONNX file, for ONNX Runtime and other runtimes.",
        discussion: "The model's input is 'input', float32 [batch, channels, height, width] with pixel = byte / 256; "
            + "its output is 'probabilities', float32 [batch, classes]. Class names, SwiftNet's version and the "
            + "network's spec are in the file's metadata. Opsets \(ONNXExport.supportedOpsets.lowerBound) to "
            + "\(ONNXExport.supportedOpsets.upperBound) can be written.")

    @OptionGroup var modelOptions: ModelOptions

    @OptionGroup var memoryOptions: MemoryOptions

    @Option(help: ArgumentHelp("The ONNX file to write.", valueName: "model.onnx"))
    var out: String

    @Option(help: "The ONNX operator set version to write (default: \(ONNXExport.defaultOpset)).")
    var opset: Int = ONNXExport.defaultOpset

    func validate() throws {
        do {
            try ONNXExport.checkOpset(opset)
        } catch let error as ONNXExportError {
            throw ValidationError("--opset \(opset): \(error)")
        }
        try checkOutputFolder(out)
        try checkOutputs([NamedFile(flag: "--out", path: out)], inputs: [NamedFile(flag: "--model", path: modelOptions.model)])
    }

    func run() throws {
        let network = try modelOptions.network(threads: 1)
        try ONNXExport.write(network, to: out, opset: opset)
        let names = network.classNames.map { " (classes: \($0.joined(separator: ", ")))" } ?? ""
        print("Exported \(modelOptions.model) to \(out): ONNX opset \(opset), input '\(ONNXExport.inputName)' "
            + "[batch, \(network.inputShape.channels), \(network.inputShape.height), \(network.inputShape.width)], "
            + "output '\(ONNXExport.outputName)' [batch, \(network.classCount)]\(names)")
    }
}
