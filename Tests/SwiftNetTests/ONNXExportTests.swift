// ONNXExportTests.swift: exported models, checked by onnx and run by ONNX Runtime.
//
// Each test trains a network (the seed's presets by `cnn train`, the
// others in process), exports it, and hands the model, 1,000 test images as
// bytes and SwiftNet's own probabilities on them to Tests/ONNX/check_model.py,
// which runs onnx.checker with full_check and ONNX Runtime.  The
// assertions are here: the checker passed, the input and output are named
// with a dynamic batch, the metadata carry the class names, version and
// spec, and ONNX Runtime's probabilities equal SwiftNet's to within 1e-5 on
// every image.  The Python is .venv-onnx's, which scripts/test.sh installs
// (scripts/install-onnx-python.sh) and then requires; run alone, without
// it, these tests are skipped with a line saying how to get it.

import Foundation
@testable import SwiftNet
@testable import SwiftNetImages
import XCTest

/// What check_model.py found.
struct ONNXCheck: Decodable {
    let opset: Int
    let ir_version: Int
    let producer: String
    let doc_string: String
    let metadata: [String: String]
    let input: [JSONValue]
    let output: [JSONValue]
    let count: Int
    let output_shape: [Int]
    let max_abs_diff: Double
    let same_top_class: Int
    let row_sum_max_error: Double
}

/// A name or a shape as check_model.py prints them.
enum JSONValue: Decodable, Equatable {
    case string(String)
    case int(Int)
    case list([JSONValue])

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) { self = .string(text) }
        else if let number = try? container.decode(Int.self) { self = .int(number) }
        else { self = .list(try container.decode([JSONValue].self)) }
    }
}

/// The Python that has onnx and onnxruntime, or a skip (a failure where scripts/test.sh requires it).
func onnxPython(file: StaticString = #filePath, line: UInt = #line) throws -> String {
    let environment = ProcessInfo.processInfo.environment
    let python = environment["SWIFTNET_ONNX_PYTHON"]
        ?? RealMNISTFile.packageRoot.appendingPathComponent(".venv-onnx/bin/python").path
    if FileManager.default.isExecutableFile(atPath: python) { return python }
    if environment["SWIFTNET_REQUIRE_ONNX"] == "1" {
        XCTFail("no ONNX Python at \(python), but scripts/test.sh requires the ONNX tests", file: file, line: line)
    }
    throw XCTSkip("ONNX Runtime checks skipped: no \(python) (scripts/install-onnx-python.sh makes it)")
}

/// Runs a program to the end, its output collected in files so that it never blocks.
func runProgram(_ executable: String, _ arguments: [String], in folder: URL) throws -> ProcessResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.currentDirectoryURL = folder
    let id = UUID().uuidString
    let out = folder.appendingPathComponent("out-\(id)"), err = folder.appendingPathComponent("err-\(id)")
    _ = FileManager.default.createFile(atPath: out.path, contents: nil)
    _ = FileManager.default.createFile(atPath: err.path, contents: nil)
    process.standardOutput = try FileHandle(forWritingTo: out)
    process.standardError = try FileHandle(forWritingTo: err)
    try process.run()
    process.waitUntilExit()
    return ProcessResult(status: process.terminationStatus, killedBySignal: process.terminationReason == .uncaughtSignal,
                         standardOutput: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
                         standardError: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
}

final class ONNXExportTests: CheckpointTestCase {
    /// Checks `model` (already written) against `network` on `data` with check_model.py.
    @discardableResult
    private func check(_ model: String, of network: Network, on data: Dataset,
                       file: StaticString = #filePath, line: UInt = #line) throws -> ONNXCheck {
        let python = try onnxPython(file: file, line: line)
        let pixels = path("pixels-\(UUID().uuidString).u8"), expected = path("expected-\(UUID().uuidString).f32")
        try Data(data.pixels).write(to: URL(fileURLWithPath: pixels))
        try Data(network.probabilities(on: data).littleEndianBytes).write(to: URL(fileURLWithPath: expected))
        let script = RealMNISTFile.packageRoot.appendingPathComponent("Tests/ONNX/check_model.py").path
        let result = try runProgram(python, [script, model, pixels, expected], in: folder)
        XCTAssertEqual(result.status, 0, "onnx or ONNX Runtime refused \(model): \(result.standardError)", file: file, line: line)
        let report = try JSONDecoder().decode(ONNXCheck.self, from: Data(result.standardOutput.utf8))
        print("ONNX Runtime on \(report.count) images of \(URL(fileURLWithPath: model).lastPathComponent), opset \(report.opset): "
              + "largest difference from SwiftNet's probabilities \(report.max_abs_diff)")

        let shape = network.inputShape, classes = network.classCount
        XCTAssertEqual(report.input, [.string("input"), .list([.string("batch"), .int(shape.channels), .int(shape.height), .int(shape.width)])],
                       file: file, line: line)
        XCTAssertEqual(report.output, [.string("probabilities"), .list([.string("batch"), .int(classes)])], file: file, line: line)
        XCTAssertEqual(report.count, data.count, file: file, line: line)
        XCTAssertEqual(report.output_shape, [data.count, classes], file: file, line: line)
        XCTAssertLessThanOrEqual(report.max_abs_diff, 1e-5, "ONNX Runtime's probabilities differ from SwiftNet's", file: file, line: line)
        XCTAssertEqual(report.same_top_class, data.count, "the same top class for every image", file: file, line: line)
        XCTAssertLessThan(report.row_sum_max_error, 1e-5, file: file, line: line)

        let spec = NetworkSpec.describe(network.layers)
        XCTAssertEqual(report.producer, "SwiftNet \(SwiftNetVersion.string)", file: file, line: line)
        XCTAssertEqual(report.metadata["swiftnet_version"], SwiftNetVersion.string, file: file, line: line)
        XCTAssertEqual(report.metadata["swiftnet_spec"], spec, file: file, line: line)
        XCTAssertEqual(report.metadata["input_scaling"], "byte / 256", file: file, line: line)
        let names = network.classNames ?? (0..<classes).map(String.init)
        XCTAssertEqual(report.metadata["class_names"].map { try? JSONDecoder().decode([String].self, from: Data($0.utf8)) }, names,
                       file: file, line: line)
        XCTAssertTrue(report.doc_string.contains("SwiftNet \(SwiftNetVersion.string)") && report.doc_string.contains(spec)
                      && report.doc_string.contains("byte / 256"), report.doc_string, file: file, line: line)
        return report
    }

    private func mnistTest(_ count: Int = 1000) throws -> (DataSplits, Dataset) {
        let mnist = try MNIST.load(contentsOf: try RealMNISTFile.path())
        return (mnist, mnist.test.prefix(count))
    }

    /// The seed's preset as `cnn train --net` trains it for one epoch, exported by `cnn export-onnx`.
    private func checkPreset(_ net: String) throws {
        _ = try onnxPython()
        let (_, test) = try mnistTest()
        let data = try RealMNISTFile.path()
        let trained = try runCNN(["train", "--net", net, "--data", data, "--epochs", "1", "--save", "model.ckpt", "--seed", "3"], in: folder)
        XCTAssertEqual(trained.status, 0, trained.standardError)
        let exported = try runCNN(["export-onnx", "--model", "model.ckpt", "--out", "model.onnx"], in: folder)
        XCTAssertEqual(exported.status, 0, exported.standardError)
        XCTAssertTrue(exported.standardOutput.contains("opset \(ONNXExport.defaultOpset)"), exported.standardOutput)
        let network = try Network.loadModel(contentsOf: path("model.ckpt"), threads: 1)
        XCTAssertGreaterThan(try network.accuracy(on: test), 0.6, "a trained network (chance is 0.1), so that agreeing means something")
        let report = try check(path("model.onnx"), of: network, on: test)
        XCTAssertEqual(report.opset, ONNXExport.defaultOpset)
        XCTAssertEqual(report.ir_version, 8)
    }

    func testSeedOneConvRunsInONNXRuntimeWithSwiftNetsProbabilities() throws {
        try checkPreset("one-conv")
    }

    func testSeedTwoConvRunsInONNXRuntimeWithSwiftNetsProbabilities() throws {
        try checkPreset("two-conv")
    }

    /// Every kind and every activation: separate conv (linear, and tanh with padding) and pool
    /// (plain and overlapping), the seed's fused conv-pool, batch norm after a conv and after a
    /// dense layer, two dense layers with dropout, and a softmax with dropout.
    static let everyKindSpec = "conv 16 5x5 linear, batchnorm relu, pool 2, conv 24 3x3 pad 1 tanh, pool 3 stride 2, "
        + "conv 32 2x2 relu, pool 2, fc 64 relu dropout 0.2, batchnorm tanh, fc 32 linear dropout 0.3, softmax 10 dropout 0.1"

    private func everyKindNetwork(trainedOn mnist: DataSplits) throws -> Network {
        let layers = try NetworkSpec.layers(from: Self.everyKindSpec, input: SampleShape(channels: 1, height: 28, width: 28),
                                            miniBatchSize: 10)
        let kinds = Set(layers.map { String(describing: type(of: $0)) })
        XCTAssertEqual(kinds, ["ConvLayer", "BatchNormLayer", "MaxPoolLayer", "ConvPoolLayer", "FullyConnectedLayer", "SoftmaxLayer"])
        let network = try Network(layers: layers, miniBatchSize: 10, threads: 2, seed: 1)
        _ = try network.train(trainingData: mnist.training.prefix(5000), validationData: mnist.validation.prefix(100),
                              epochs: 1, eta: 0.05)
        XCTAssertFalse(network.stateValues.allSatisfy { $0 == 0 || $0 == 1 }, "training moved the running statistics")
        return network
    }

    func testEveryLayerKindAndActivationRunsInONNXRuntimeWithSwiftNetsProbabilities() throws {
        _ = try onnxPython()
        let (mnist, test) = try mnistTest()
        let network = try everyKindNetwork(trainedOn: mnist)
        try network.exportONNX(to: path("every.onnx"))
        XCTAssertGreaterThan(try network.accuracy(on: test), 0.6, "a trained network (chance is 0.1), so that agreeing means something")
        try check(path("every.onnx"), of: network, on: test)
    }

    /// No conv layer at all: batch norm on the image itself, then dense layers only.
    func testADenseNetworkWithBatchNormFirstRunsInONNXRuntime() throws {
        _ = try onnxPython()
        let (mnist, test) = try mnistTest(500)
        let layers = try NetworkSpec.layers(from: "batchnorm linear, fc 50 relu dropout 0.2, softmax 10",
                                            input: SampleShape(channels: 1, height: 28, width: 28), miniBatchSize: 10)
        let network = try Network(layers: layers, miniBatchSize: 10, threads: 2, seed: 4)
        _ = try network.train(trainingData: mnist.training.prefix(3000), validationData: mnist.validation.prefix(100),
                              epochs: 1, eta: 0.1)
        XCTAssertGreaterThan(try network.accuracy(on: test), 0.6, "a trained network (chance is 0.1)")
        try network.exportONNX(to: path("dense.onnx"))
        try check(path("dense.onnx"), of: network, on: test)
    }

    func testTheOldestAndNewestOpsetsAgreeToo() throws {
        _ = try onnxPython()
        let (mnist, test) = try mnistTest(200)
        let network = try everyKindNetwork(trainedOn: mnist)
        for opset in [ONNXExport.supportedOpsets.lowerBound, 13, ONNXExport.supportedOpsets.upperBound] {
            let model = path("opset\(opset).onnx")
            try ONNXExport.write(network, to: model, opset: opset)
            let report = try check(model, of: network, on: test)
            XCTAssertEqual(report.opset, opset)
            XCTAssertEqual(report.ir_version, ONNXExport.irVersion(forOpset: opset))
        }
    }

    /// A colour model of one's own images: padding and stride, class names (with a non-ASCII
    /// one) in the metadata, 3 planes in R, G, B order.
    func testColourModelWithClassNamesRunsInONNXRuntime() throws {
        _ = try onnxPython()
        var random = RandomSource(seed: 7)
        let count = 400, side = 20
        let names = ["cat", "dog", "ship", "zèbre \"striped\""]
        var pixels = [UInt8](), labels = [Int32]()
        for index in 0..<count {
            let label = index % names.count
            labels.append(Int32(label))
            for channel in 0..<3 {
                for _ in 0..<(side * side) {
                    let base = channel == label % 3 ? 150 : 40
                    pixels.append(UInt8(base + Int(random.next() % 100)))
                }
            }
        }
        let data = Dataset.valid(name: "colours", channels: 3, height: side, width: side, pixels: pixels, labels: labels,
                                 classCount: names.count, classNames: names)
        let layers = try NetworkSpec.layers(from: "conv 8 3x3 pad 1 stride 2 relu, pool 2 stride 1, fc 16 sigmoid, softmax 4",
                                            input: SampleShape(channels: 3, height: side, width: side), miniBatchSize: 10)
        let network = try Network(layers: layers, miniBatchSize: 10, threads: 1, seed: 2)
        try network.setClassNames(names)
        _ = try network.train(trainingData: data.prefix(300), validationData: data.prefix(20), epochs: 2, eta: 0.1)
        try network.exportONNX(to: path("colour.onnx"))
        try check(path("colour.onnx"), of: network, on: data)
    }

    /// A protobuf file cannot pass 2 GiB: weights beyond it are refused, not written broken.
    func testWeightsBeyondWhatOneProtobufHoldsAreRefused() throws {
        XCTAssertNoThrow(try ONNXExport.checkSize(tensorBytes: ONNXExport.maximumTensorBytes))
        let bytes = ONNXExport.maximumTensorBytes + 4
        XCTAssertThrowsError(try ONNXExport.checkSize(tensorBytes: bytes)) { error in
            XCTAssertEqual(error as? ONNXExportError, .tooLarge(tensorBytes: bytes))
            XCTAssertTrue(String(describing: error).contains("2 GB"), "\(error)")
        }
    }

    func testAnOpsetOutsideTheRangeIsRefusedAndNothingIsWritten() throws {
        let layers = try NetworkSpec.layers(from: "fc 10, softmax 3", input: .flat(4), miniBatchSize: 1)
        let network = try Network(layers: layers, miniBatchSize: 1, threads: 1, seed: 0)
        for opset in [8, 0, -3, ONNXExport.supportedOpsets.upperBound + 1] {
            XCTAssertThrowsError(try ONNXExport.write(network, to: path("refused.onnx"), opset: opset)) { error in
                XCTAssertEqual(error as? ONNXExportError, .unsupportedOpset(opset))
                XCTAssertTrue(String(describing: error).contains("opsets 9 to"), "\(error)")
            }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("refused.onnx")))
    }
}
