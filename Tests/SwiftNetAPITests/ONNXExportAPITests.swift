// ONNXExportAPITests.swift: ONNX export as a dependent package calls it.
//
// Only the public API: `Network.exportONNX(to:opset:)`, `ONNXExport` and
// its error's cases.  That ONNX Runtime runs the files, and gives the same
// probabilities, SwiftNetTests' ONNXExportTests check.

import Foundation
import SwiftNet
import XCTest

final class ONNXExportAPITests: XCTestCase {
    private func network() throws -> Network {
        try Network(layers: [
            ConvLayer(filterShape: (2, 1, 3, 3), inputShape: SampleShape(channels: 1, height: 6, width: 6), activation: .relu, padding: 1),
            MaxPoolLayer(inputShape: SampleShape(channels: 2, height: 6, width: 6)),
            FullyConnectedLayer(nIn: 18, nOut: 5, activation: .tanh, pDropout: 0.5),
            SoftmaxLayer(nIn: 5, nOut: 3),
        ], miniBatchSize: 2, threads: 1, seed: 4)
    }

    func testExportIsDeterministicAndWritesTheFileAtomically() throws {
        let network = try network()
        try network.setClassNames(["red", "green", "blue"])
        let bytes = try ONNXExport.modelBytes(of: network)
        XCTAssertEqual(try ONNXExport.modelBytes(of: network), bytes, "the same network, the same bytes")
        XCTAssertEqual(bytes.first, 0x08, "a ModelProto starts with its ir_version, field 1")
        let text = String(decoding: bytes, as: UTF8.self)
        for expected in ["SwiftNet", SwiftNetVersion.string, NetworkSpec.describe(network.layers), "[\"red\",\"green\",\"blue\"]",
                         ONNXExport.inputName, ONNXExport.outputName, "Conv", "MaxPool", "Gemm", "Softmax", "Tanh", "Relu"] {
            XCTAssertTrue(text.contains(expected), "the model names \(expected)")
        }
        XCTAssertNotEqual(try ONNXExport.modelBytes(of: network, opset: 13), bytes, "the opset is in the file")

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("swiftnet-onnx-api-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("m.onnx").path
        try network.exportONNX(to: path)
        XCTAssertEqual(Array(try Data(contentsOf: URL(fileURLWithPath: path))), bytes)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["m.onnx"], "no temporary left")
    }

    func testAnUnsupportedOpsetIsACaseToSwitchOn() throws {
        let network = try network()
        XCTAssertThrowsError(try network.exportONNX(to: "/nonexistent/m.onnx", opset: 5)) { error in
            guard case ONNXExportError.unsupportedOpset(let opset)? = error as? ONNXExportError else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(opset, 5)
            XCTAssertFalse(ONNXExport.supportedOpsets.contains(5))
        }
        XCTAssertTrue(ONNXExport.supportedOpsets.contains(ONNXExport.defaultOpset))
        XCTAssertNoThrow(try ONNXExport.checkOpset(ONNXExport.supportedOpsets.upperBound))
    }
}
