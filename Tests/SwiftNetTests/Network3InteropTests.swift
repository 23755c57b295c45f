// Network3InteropTests.swift: network3.py's parameter files, in and out.
//
// The seed's save() pickles each layer's w then b; Theano's conv2d flips
// its filters.  These tests import files spelled as Python 2's cPickle
// spells them (built byte by byte) and as Python 3 writes them (by running
// python3 with numpy, when it is installed), check that conv filters are
// rotated by 180 degrees on the way in and out, that an exported file loads
// in Python with the same values, and, decisively, that an imported network
// predicts what a numpy implementation of network3's forward pass (with
// Theano's true convolution) predicts, while the same weights used without
// the rotation would not.

import Foundation
@testable import SwiftNet
import XCTest

final class Network3InteropTests: CheckpointTestCase {
    private let layers = TinyNetwork.layers(batch: 5)

    /// A Python 2 style parameter file for the tiny network, with value i/8 - 4 at flat index i of each array.
    private func python2File(code: String = "f4", skipLast: Bool = false, shapeOf: ((Int, [Int]) -> [Int])? = nil) throws -> [UInt8] {
        var writer = PickleWriter()
        var arrays = try layers.flatMap { layer -> [[Int]] in
            let (weights, biases) = try Network3ParameterFile.shapes(of: layer)
            return [weights, biases]
        }
        if skipLast { arrays.removeLast() }
        for (index, shape) in arrays.enumerated() {
            let shape = shapeOf?(index, shape) ?? shape
            let values = (0..<shape.reduce(1, *)).map { Double($0) / 8 - 4 }
            let data = code == "f4" ? float32Bytes(values.map(Float.init))
                : values.flatMap { value in (0..<8).map { UInt8(truncatingIfNeeded: value.bitPattern >> (8 * $0)) } }
            writer.proto()
            writer.array(code, shape: shape.map(Int32.init), data: data)
            writer.stop()
        }
        return writer.bytes
    }

    func testAPython2FileImportsWithConvFiltersRotated() throws {
        for code in ["f4", "f8"] {
            let network = try TinyNetwork.network()
            try Network3ParameterFile.read(contentsOf: write(python2File(code: code), to: "p2-\(code).pkl"), into: network)
            let parameters = Array(network.parameters)
            // Conv w is (2, 1, 3, 3): SwiftNet's filter 0 is network3's rotated by 180 degrees.
            XCTAssertEqual(Array(parameters[0..<9]), (0..<9).reversed().map { Float($0) / 8 - 4 }, code)
            XCTAssertEqual(Array(parameters[9..<18]), (9..<18).reversed().map { Float($0) / 8 - 4 }, code)
            // Dense w (18, 6) is stored as it is.
            XCTAssertEqual(Array(parameters[18..<(18 + 108)]), (0..<108).map { Float($0) / 8 - 4 }, code)
            // Biases follow all the weights: conv b, dense b, softmax b.
            let biases = Array(parameters[network.weightCount...])
            XCTAssertEqual(biases, [-4, -3.875] + (0..<6).map { Float($0) / 8 - 4 } + [-4, -3.875, -3.75], code)
        }
    }

    func testExportThenImportGivesTheSameParameters() throws {
        let (checkpoint, _) = try tinyCheckpoint()
        for type in Network3ParameterFile.ElementType.allCases {
            let file = path("out-\(type).pkl")
            try Network3ParameterFile.write(layers: checkpoint.layers, parameters: checkpoint.parameters, to: file, as: type)
            let copy = try Network3ParameterFile.read(contentsOf: file, layers: checkpoint.layers)
            XCTAssertEqual(copy.map(\.bitPattern), checkpoint.parameters.map(\.bitPattern), "\(type)")
        }
    }

    func testFilesThatDoNotFitAreRefused() throws {
        func refusal(_ bytes: [UInt8]) throws -> String {
            let network = try TinyNetwork.network()
            let before = Array(network.parameters)
            var message = ""
            XCTAssertThrowsError(try Network3ParameterFile.read(contentsOf: write(bytes, to: "bad.pkl"), into: network)) { error in
                XCTAssertTrue(error is DataFileError, "\(error)")
                message = "\(error)"
            }
            XCTAssertEqual(Array(network.parameters), before, "a refused file changes nothing")
            return message
        }
        XCTAssertTrue(try refusal(python2File(skipLast: true)).contains("holds 5 pickled values, but the network's 3 layers need 6"))
        let transposed = try refusal(python2File { index, shape in index == 2 ? [6, 18] : shape })
        XCTAssertTrue(transposed.contains("layer 2's w (pickle 3 of 6) has shape (6, 18), but FullyConnectedLayer(18 -> 6, tanh, dropout 0.25) needs (18, 6)"),
                      transposed)
        var labels = PickleWriter()
        labels.proto()
        labels.array("i8", shape: [2], data: int64Bytes([1, 2]))
        labels.stop()
        XCTAssertTrue(try refusal(labels.bytes).contains("dtype 'i8' is not supported: only 'f4' and 'f8'"))
        var huge = try python2File(code: "f8")
        // The first value of the conv biases (shape (2,)) becomes 1e300, beyond float32.
        let biasData = try XCTUnwrap(findBytes(littleEndian(UInt32(16)), after: [UInt8(ascii: "T")], in: huge))
        for (index, byte) in (0..<8).map({ UInt8(truncatingIfNeeded: (1e300).bitPattern >> (8 * $0)) }).enumerated() {
            huge[biasData + index] = byte
        }
        XCTAssertTrue(try refusal(huge).contains("holds inf at index 0 (as float32); parameters must be finite"))
        XCTAssertTrue(try refusal([]).contains("the file is empty"))
    }

    func testPython3SpellingIsReadAndItsMisuseRefused() throws {
        let layers = TinyNetwork.layers(batch: 5)
        let count = layers.reduce(0) { $0 + $1.weightCount + $1.biasCount }
        // Values whose bytes include 0x80...0xff, which Python 3 spells as two UTF-8 bytes each.
        let values = (0..<count).map { Float($0) * -1.37 + 0.5 }
        let python3 = try Network3ParameterFile.encode(layers: layers, parameters: values, as: .float32)
        XCTAssertEqual(try Network3ParameterFile.read(contentsOf: write(python3, to: "p3.pkl"), layers: layers), values)

        func decodeError(_ bytes: [UInt8]) throws -> String {
            let file = try write(bytes, to: "hostile.pkl")
            do {
                _ = try RestrictedPickleDecoder.decodeSequence(from: UncompressedByteStream(path: file),
                                                               purpose: .parameters)
                XCTFail("decoded \(bytes) that should have been refused")
                return ""
            } catch let error as DataFileError {
                return error.reason
            }
        }
        func text(_ utf8: [UInt8]) -> [UInt8] { [UInt8(ascii: "X")] + littleEndian(UInt32(utf8.count)) + utf8 }
        let encode = [UInt8(ascii: "c")] + Array("_codecs\nencode\n".utf8)
        let stop = [UInt8(ascii: ".")]
        XCTAssertTrue(try decodeError([0x80, 2] + encode + text(Array("abc".utf8)) + text(Array("utf-8".utf8)) + [0x86, 0x52] + stop)
            .contains("only Python 3's encode(text, 'latin1') of a byte string is allowed"))
        XCTAssertTrue(try decodeError([0x80, 2] + encode + [UInt8(ascii: "K"), 5] + text(Array("latin1".utf8)) + [0x86, 0x52] + stop)
            .contains("REDUCE of _codecs.encode on the integer 5"))
        XCTAssertTrue(try decodeError([0x80, 2] + text(Array("\u{20AC}".utf8)) + stop).contains("above U+00FF or invalid UTF-8"))
        XCTAssertTrue(try decodeError([0x80, 2] + text([0xc3, 0x41]) + stop).contains("above U+00FF or invalid UTF-8"))
        XCTAssertTrue(try decodeError([0x80, 2] + text([0x41, 0x42]) + [0x80, 2]).contains("PROTO 2 is not allowed"))
        XCTAssertTrue(try decodeError([0x80, 2, UInt8(ascii: "c")] + Array("_codecs\ndecode\n".utf8) + stop)
            .contains("global '_codecs.decode' is not allowed"))
        // An array whose Latin-1 text is one character short of its data (bytes 0x3f are one UTF-8 byte each).
        var writer = Network3PickleWriter()
        let ascii = Float(bitPattern: 0x3f3f_3f3f)
        writer.array(shape: [2], values: [ascii, ascii], as: .float32)
        let valid = try RestrictedPickleDecoder.decodeSequence(
            from: UncompressedByteStream(path: write(writer.bytes, to: "ascii.pkl")), purpose: .parameters)
        guard case .array(let array) = valid.first, case .float32(let floats) = array.contents?.elements else {
            return XCTFail("the valid pickle did not decode to a float32 array: \(valid.map(\.summary))")
        }
        XCTAssertEqual(floats, [ascii, ascii])
        let full = text([UInt8](repeating: 0x3f, count: 8))
        let at = try XCTUnwrap(findBytes(full, after: [], in: writer.bytes)) - full.count
        func replaced(by text: [UInt8]) -> [UInt8] { Array(writer.bytes[..<at]) + text + Array(writer.bytes[(at + full.count)...]) }
        XCTAssertTrue(try decodeError(replaced(by: text([UInt8](repeating: 0x3f, count: 7))))
            .contains("BINUNICODE of 7 bytes cannot hold the 8 bytes of array data"))
        // Eight UTF-8 bytes, but only seven characters: U+0080 takes two.
        XCTAssertTrue(try decodeError(replaced(by: text([0xc2, 0x80] + [UInt8](repeating: 0x3f, count: 6))))
            .contains("BINUNICODE's text ends before the 8 bytes of array data it must hold"))
    }

    func testNetwork3PredictionsAndFilesMatchPython() throws {
        let python = try pythonWithNumpy()
        let script = """
        import numpy as np, pickle, sys
        rng = np.random.default_rng(7)
        out = sys.argv[1]
        # Images of a few blurred blobs each, so that the conv features differ between images.
        yy, xx = np.mgrid[0:28, 0:28]
        blobs = np.zeros((100, 28, 28))
        for n in range(100):
            for _ in range(3):
                cy, cx = rng.uniform(4, 24, 2)
                sy, sx = rng.uniform(1, 6, 2)
                blobs[n] += np.exp(-((yy - cy) ** 2 / (2 * sy ** 2) + (xx - cx) ** 2 / (2 * sx ** 2)))
        images = np.clip(blobs / blobs.max(axis=(1, 2), keepdims=True) * 255, 0, 255).astype(np.uint8)
        images.tofile(out + "/images.bin")
        x = images.astype(np.float64) / 256
        sig = lambda z: 1 / (1 + np.exp(-z))
        w1, b1 = rng.normal(0, 0.5, (20, 1, 5, 5)), rng.normal(0, 0.5, 20)
        w2, w3 = rng.normal(0, 0.5, (2880, 100)), rng.normal(0, 2.0, (100, 10))
        def hidden(w1, b1, flip):
            # Theano's conv2d: a true convolution, out[i, j] = sum x[i+p, j+q] * w[4-p, 4-q].
            kernels = w1[:, 0, ::-1, ::-1] if flip else w1[:, 0]
            conv = np.zeros((100, 20, 24, 24))
            for p in range(5):
                for q in range(5):
                    conv += x[:, None, p:p + 24, q:q + 24] * kernels[None, :, p, q, None, None]
            pooled = conv.reshape(100, 20, 12, 2, 12, 2).max(axis=(3, 5))
            return sig(pooled + b1[None, :, None, None]).reshape(100, 2880)
        # Biases that centre each layer on these images, so that no class wins everywhere.
        h = hidden(w1, b1, True)
        b2 = -(1 - 0.3) * h.mean(axis=0) @ w2
        b3 = -sig((1 - 0.3) * h @ w2 + b2).mean(axis=0) @ w3
        params = [w1, b1, w2, b2, w3, b3]
        for name, dtype in (("p64.pkl", np.float64), ("p32.pkl", np.float32)):
            with open(out + "/" + name, "wb") as f:
                for array in params:
                    pickle.dump(array.astype(dtype), f, 2)
        w1, b1, w2, b2, w3, b3 = [p.astype(np.float32).astype(np.float64) for p in params]
        def forward(flip):
            dense = sig((1 - 0.3) * hidden(w1, b1, flip) @ w2 + b2)
            z = dense @ w3 + b3
            p = np.exp(z - z.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            top = np.sort(p, axis=1)
            return p.argmax(axis=1), top[:, -1] - top[:, -2]
        true_conv, margin = forward(True)
        cross_correlation, _ = forward(False)
        assert len(set(true_conv)) >= 5, "the predictions must vary"
        with open(out + "/predictions.txt", "w") as f:
            for row in zip(true_conv, margin, cross_correlation):
                f.write("%d %.9f %d\\n" % row)
        """
        try runPython(python, script, arguments: [folder.path])
        let lines = try String(contentsOfFile: path("predictions.txt"), encoding: .utf8).split(separator: "\n")
        let rows = lines.map { $0.split(separator: " ") }
        let theano = rows.map { Int32($0[0])! }, margins = rows.map { Double($0[1])! }, unflipped = rows.map { Int32($0[2])! }
        let pixels = try contents(of: path("images.bin"))
        let images = Dataset.valid(name: "random", channels: 1, height: 28, width: 28, pixels: pixels, labels: theano, classCount: 10)

        for file in ["p64.pkl", "p32.pkl"] {
            let network = try Network(layers: seedOneConvLayers(batch: 10), miniBatchSize: 10, threads: 1)
            try Network3ParameterFile.read(contentsOf: path(file), into: network)
            let ours = try predictions(of: network, on: images)
            // Only a near tie may go either way between float32 and numpy's float64.
            let clear = (0..<100).filter { margins[$0] > 1e-3 }
            XCTAssertGreaterThan(clear.count, 80, "the check needs clear predictions")
            XCTAssertEqual(clear.filter { ours[$0] != theano[$0] }, [], "\(file): images predicted otherwise than network3 would")
            // The same weights without the rotation predict something else: the test can tell.
            XCTAssertGreaterThan(clear.filter { ours[$0] != unflipped[$0] }.count, 10, "\(file)")
        }

        // An exported file loads in Python with exactly the float32 values it was imported from.
        let network = try Network(layers: seedOneConvLayers(batch: 10), miniBatchSize: 10, threads: 1)
        try Network3ParameterFile.read(contentsOf: path("p64.pkl"), into: network)
        for type in Network3ParameterFile.ElementType.allCases {
            try Network3ParameterFile.write(network, to: path("export-\(type).pkl"), as: type)
            try runPython(python, """
            import numpy as np, pickle, sys
            def load(name):
                arrays = []
                with open(name, "rb") as f:
                    while True:
                        try:
                            arrays.append(pickle.load(f))
                        except EOFError:
                            return arrays
            original, exported = load(sys.argv[1] + "/p64.pkl"), load(sys.argv[1] + "/export-\(type).pkl")
            assert len(original) == len(exported) == 6, (len(original), len(exported))
            for a, b in zip(original, exported):
                assert b.dtype == np.\(type), b.dtype
                assert a.shape == b.shape, (a.shape, b.shape)
                assert np.array_equal(a.astype(np.float32), b), "values differ"
            """, arguments: [folder.path])
        }
    }

    // MARK: - Python

    private func pythonWithNumpy() throws -> URL {
        for candidate in ["/usr/bin/env"] {
            let probe = Process()
            probe.executableURL = URL(fileURLWithPath: candidate)
            probe.arguments = ["python3", "-c", "import numpy"]
            probe.standardOutput = FileHandle.nullDevice
            probe.standardError = FileHandle.nullDevice
            if (try? probe.run()) != nil {
                probe.waitUntilExit()
                if probe.terminationStatus == 0 { return URL(fileURLWithPath: candidate) }
            }
        }
        throw XCTSkip("python3 with numpy is not installed; the network3 comparison with numpy cannot run")
    }

    private func runPython(_ env: URL, _ script: String, arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let scriptFile = try write(Array(script.utf8), to: "script-\(UUID().uuidString).py")
        let process = Process()
        process.executableURL = env
        process.arguments = ["python3", scriptFile] + arguments
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "python3 failed: \(message)", file: file, line: line)
    }
}

/// The offset just after the first occurrence of `prefix + pattern` in `bytes`.
private func findBytes(_ pattern: [UInt8], after prefix: [UInt8], in bytes: [UInt8]) -> Int? {
    let needle = prefix + pattern
    guard bytes.count >= needle.count else { return nil }
    for index in 0...(bytes.count - needle.count) where Array(bytes[index..<(index + needle.count)]) == needle {
        return index + needle.count
    }
    return nil
}
