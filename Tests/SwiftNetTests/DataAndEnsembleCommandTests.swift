// DataAndEnsembleCommandTests.swift: `cnn export-idx`, `--data FOLDER` and ensembles in `cnn eval`, run for real.
//
// A small MNIST-shaped pickle is exported as IDX files, plain and gzipped,
// and a model trained on the pickle must print the same accuracy lines on
// the folders as on the pickle.  Two models trained with different seeds
// are evaluated as an ensemble: each member's line must match its own
// evaluation, the ensemble of a model with itself must equal that model,
// and members of different input shapes are refused with one line naming
// the file.  Flags that make no sense together end in one line and exit 64.

import Foundation
@testable import SwiftNet
import XCTest

final class DataAndEnsembleCommandTests: CheckpointTestCase {

    private func succeeded(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> [String] {
        let result = try runCNN(arguments, in: folder, file: file, line: line)
        XCTAssertEqual(result.status, 0, "cnn \(arguments): \(result.standardError)", file: file, line: line)
        return result.standardOutput.split(separator: "\n").map(String.init)
    }

    /// Asserts that `cnn arguments` fails with `status` and one line on stderr containing `expected`.
    private func assertRefused(_ arguments: [String], status: Int32, because expected: String,
                               file: StaticString = #filePath, line: UInt = #line) throws {
        let result = try runCNN(arguments, in: folder, file: file, line: line)
        XCTAssertEqual(result.status, status, result.standardError, file: file, line: line)
        XCTAssertEqual(result.standardError.split(separator: "\n").count, 1, result.standardError, file: file, line: line)
        XCTAssertTrue(result.standardError.contains(expected), "\(result.standardError) lacks \(expected)", file: file, line: line)
    }

    func testAModelScoresTheSameOnExportedIDXFilesAsOnThePickle() throws {
        let pickle = try smallMNISTPickle()
        _ = try succeeded(["train", "--data", pickle, "--threads", "1", "--eta", "0.5", "--epochs", "1", "--save", "m.ckpt"])
        let exported = try succeeded(["export-idx", "--data", pickle, "--out", "idx"])
        XCTAssertEqual(exported.first, "Wrote idx/train-images-idx3-ubyte (360 images of 1x28x28)")
        _ = try succeeded(["export-idx", "--data", pickle, "--out", "idx-gz", "--gzip"])
        let onPickle = try succeeded(["eval", "--model", "m.ckpt", "--data", pickle])
        XCTAssertEqual(onPickle.count, 2)
        XCTAssertEqual(try succeeded(["eval", "--model", "m.ckpt", "--data", "idx", "--validation-size", "60"]), onPickle)
        XCTAssertEqual(try succeeded(["eval", "--model", "m.ckpt", "--data", "idx-gz/", "--validation-size", "60"]), onPickle)
        XCTAssertEqual(try succeeded(["eval", "--model", "m.ckpt", "--train-images", "idx/train-images-idx3-ubyte",
                                      "--train-labels", "idx-gz/train-labels-idx1-ubyte.gz",
                                      "--test-images", "idx/t10k-images-idx3-ubyte",
                                      "--test-labels", "idx-gz/t10k-labels-idx1-ubyte.gz", "--validation-size", "60"]),
                       onPickle)
        // Re-exporting the folder gives the same bytes: the split is undone exactly.
        _ = try succeeded(["export-idx", "--data", "idx", "--validation-size", "60", "--out", "again"])
        for name in IDXFiles.standardNames {
            XCTAssertEqual(try contents(of: path("again/" + name)), try contents(of: path("idx/" + name)), name)
        }
        let labels = try IDX.readLabels(contentsOf: path("idx-gz/train-labels-idx1-ubyte.gz"))
        XCTAssertEqual(labels.count, 360)
        XCTAssertEqual(Array(labels[300..<303]), [1, 2, 3], "validation labels (1 + n) % 10 follow the training ones")

        try assertRefused(["eval", "--model", "m.ckpt", "--data", pickle, "--validation-size", "60"], status: 64,
                          because: "--validation-size applies only to IDX files")
        try assertRefused(["eval", "--model", "m.ckpt", "--data", "idx", "--validation-size", "360"], status: 1,
                          because: "idx/train-images-idx3-ubyte: a validation size of 360 does not fit its 360 images")
        try assertRefused(["eval", "--model", "m.ckpt", "--data", "idx/t10k-labels-idx1-ubyte"], status: 1,
                          because: "idx/t10k-labels-idx1-ubyte: is an IDX label file, not network3's pickle")
        try assertRefused(["eval", "--model", "m.ckpt", "--test-images", "idx/t10k-images-idx3-ubyte"], status: 64,
                          because: "--test-images also needs --train-images, --train-labels, --test-labels")
        try assertRefused(["export-idx", "--data", pickle, "--out", "idx", "--gzip"], status: 64,
                          because: "idx/train-images-idx3-ubyte already exists and would be read instead")
    }

    func testEvalCombinesSeveralModels() throws {
        let pickle = try smallMNISTPickle()
        for seed in ["1", "2"] {
            _ = try succeeded(["train", "--data", pickle, "--threads", "1", "--eta", "0.5", "--epochs", "1",
                               "--seed", seed, "--save", "m\(seed).ckpt"])
        }
        var memberLines: [String] = []
        for name in ["m1.ckpt", "m2.ckpt"] {
            let alone = try succeeded(["eval", "--model", name, "--data", pickle])
            XCTAssertEqual(alone.count, 2)
            memberLines.append(name + ": " + alone[0].replacingOccurrences(of: "Validation", with: "validation")
                + ", " + alone[1].replacingOccurrences(of: "Test", with: "test"))
        }
        let both = try succeeded(["eval", "--model", "m1.ckpt", "--model", "m2.ckpt", "--data", pickle])
        XCTAssertEqual(both.count, 3)
        XCTAssertEqual(Array(both[0..<2]), memberLines)
        XCTAssertTrue(both[2].hasPrefix("Ensemble of 2 (vote): validation accuracy "), both[2])

        let twice = try succeeded(["eval", "--model", "m1.ckpt", "--model", "m1.ckpt", "--data", pickle, "--ensemble", "average"])
        XCTAssertEqual(twice[2], memberLines[0].replacingOccurrences(of: "m1.ckpt:", with: "Ensemble of 2 (average):"))

        // The confusion matrix counts the ensemble's predictions: its diagonal is the ensemble's test accuracy.
        let withMatrix = try succeeded(["eval", "--model", "m1.ckpt", "--model", "m2.ckpt", "--data", pickle, "--confusion"])
        XCTAssertEqual(Array(withMatrix[0..<3]), both)
        XCTAssertEqual(withMatrix[3], "Confusion matrix of the 60 test images, the ensemble's predictions:")
        let rows = withMatrix[6..<16].map { $0.split(separator: " ").compactMap { Int($0) } }
        let correct = (0..<10).reduce(0) { $0 + rows[$1][$1 + 1] }
        XCTAssertTrue(both[2].hasSuffix(String(format: "test accuracy %.2f%%", Double(correct) / 60 * 100)), both[2])

        let (tiny, _) = try tinyCheckpoint()
        try tiny.write(to: path("tiny.ckpt"))
        try assertRefused(["eval", "--model", "m1.ckpt", "--model", "tiny.ckpt", "--data", pickle], status: 1,
                          because: "tiny.ckpt: its network takes inputs of 1x8x8")
        try assertRefused(["eval", "--model", "m1.ckpt", "--ensemble", "vote", "--data", pickle], status: 64,
                          because: "--ensemble vote needs two or more --model")
    }
}
