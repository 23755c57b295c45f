// ONNXCommandTests.swift: `cnn export-onnx` on bad requests, and the README's ONNX Runtime example.
//
// Each bad request (an opset outside the range, a missing model, a damaged
// one, --out naming the model, --out in a folder that does not exist) gets
// one line on stderr, a non-zero status, and leaves an ONNX file already at
// --out as it was.  The README's Python example is read out of README.md
// (the python block after the "onnx-runtime-example" marker) and run as
// written on a test digit saved as PNG: it must print what `cnn predict`
// prints first for that file.

import Foundation
@testable import SwiftNet
@testable import SwiftNetImages
import XCTest

final class ONNXCommandTests: CheckpointTestCase {
    private func tinyModel() throws -> String {
        let layers = try NetworkSpec.layers(from: "conv 4 5x5, pool 2, fc 10, softmax 10",
                                            input: SampleShape(channels: 1, height: 28, width: 28), miniBatchSize: 10)
        let network = try Network(layers: layers, miniBatchSize: 10, threads: 1, seed: 0)
        try network.saveModel(to: path("model.ckpt"))
        return path("model.ckpt")
    }

    private func assertOneLineRefusal(_ arguments: [String], status: Int32, mentioning expected: String,
                                      file: StaticString = #filePath, line: UInt = #line) throws {
        let result = try runCNN(["export-onnx"] + arguments, in: folder)
        XCTAssertEqual(result.status, status, result.standardError, file: file, line: line)
        XCTAssertTrue(result.standardError.hasPrefix("cnn: error: "), result.standardError, file: file, line: line)
        XCTAssertEqual(result.standardError.filter { $0 == "\n" }.count, 1, result.standardError, file: file, line: line)
        XCTAssertTrue(result.standardError.contains(expected), "\"\(result.standardError)\" lacks \"\(expected)\"",
                      file: file, line: line)
        XCTAssertEqual(result.standardOutput, "", file: file, line: line)
    }

    func testBadRequestsGetOneLineAndLeaveTheOldFile() throws {
        let model = try tinyModel()
        let out = path("kept.onnx")
        let exported = try runCNN(["export-onnx", "--model", model, "--out", out], in: folder)
        XCTAssertEqual(exported.status, 0, exported.standardError)
        let good = try contents(of: out)

        try assertOneLineRefusal(["--model", model, "--out", out, "--opset", "8"], status: 64,
                                 mentioning: "--opset 8: opset 8 is not supported: SwiftNet writes opsets 9 to ")
        try assertOneLineRefusal(["--model", model, "--out", out, "--opset", "99"], status: 64, mentioning: "--opset 99")
        try assertOneLineRefusal(["--model", path("missing.ckpt"), "--out", out], status: 1, mentioning: path("missing.ckpt"))
        let damaged = path("damaged.ckpt")
        let bytes = try contents(of: model)
        try Data(bytes.prefix(bytes.count / 2)).write(to: URL(fileURLWithPath: damaged))
        try assertOneLineRefusal(["--model", damaged, "--out", out], status: 1, mentioning: damaged)
        try assertOneLineRefusal(["--model", path("kept.onnx"), "--out", path("other.onnx")], status: 1, mentioning: path("kept.onnx"))
        try assertOneLineRefusal(["--model", model, "--out", model], status: 64, mentioning: "is the same file as --model")
        try assertOneLineRefusal(["--model", model, "--out", path("no/such/folder/m.onnx")], status: 64, mentioning: "does not exist")

        XCTAssertEqual(try contents(of: out), good, "a refused export leaves the file at --out as it was")
        XCTAssertEqual(try contents(of: model), bytes)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.contains(".tmp.") }
        XCTAssertEqual(leftovers, [])
    }

    /// The README's example, exactly as written there.
    private func readmeExample() throws -> String {
        let readme = try String(contentsOf: RealMNISTFile.packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let afterMarker = try XCTUnwrap(readme.components(separatedBy: "<!-- onnx-runtime-example").dropFirst().first,
                                        "README.md has no onnx-runtime-example marker")
        let block = try XCTUnwrap(afterMarker.components(separatedBy: "```python\n").dropFirst().first)
        return try XCTUnwrap(block.components(separatedBy: "```").first)
    }

    func testTheREADMEsPythonExampleAnswersAsCNNPredict() throws {
        let python = try onnxPython()
        let mnist = try MNIST.load(contentsOf: try RealMNISTFile.path())
        let network = try Network(layers: seedOneConvLayers(batch: 10, dropout: 0), miniBatchSize: 10, threads: 1, seed: 0)
        _ = try network.train(trainingData: mnist.training.prefix(5000), validationData: mnist.validation.prefix(100),
                              epochs: 1, eta: 0.5)
        try network.saveModel(to: path("model.ckpt"))
        let exported = try runCNN(["export-onnx", "--model", "model.ckpt", "--out", "model.onnx"], in: folder)
        XCTAssertEqual(exported.status, 0, exported.standardError)
        let script = path("example.py")
        try readmeExample().write(toFile: script, atomically: true, encoding: .utf8)

        var answers = Set<String>()
        for index in [0, 1, 2, 3, 4, 7, 8] {  // several digits, so the answer is not always the same class
            let pixels = Array(mnist.test.pixels[(index * 784)..<((index + 1) * 784)])
            try PNG.write(Bitmap(width: 28, height: 28, channels: 1, samples: pixels), to: path("digit.png"))
            let predicted = try runCNN(["predict", "--model", "model.ckpt", "digit.png"], in: folder)
            XCTAssertEqual(predicted.status, 0, predicted.standardError)
            // "digit.png: 7 (98.9%), 2 (0.6%), 1 (0.2%)": the first answer, as the example prints it.
            let first = try XCTUnwrap(predicted.standardOutput.dropFirst("digit.png: ".count).components(separatedBy: ", ").first)
            let example = try runProgram(python, [script], in: folder)
            XCTAssertEqual(example.status, 0, example.standardError)
            XCTAssertEqual(example.standardOutput, first + "\n", "test digit \(index)")
            answers.insert(first)
        }
        XCTAssertGreaterThan(answers.count, 3, "different digits get different answers")
    }
}
