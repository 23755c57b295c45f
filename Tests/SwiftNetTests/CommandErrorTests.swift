// CommandErrorTests.swift: what `cnn` adds to the library's errors, and
// batch norm end to end through the command line.
//
// The library's messages name no flag and no command; the CLI prefixes a
// spec error with "--layers: ", turns a flag value the network refuses into
// a usage error (exit 64), and adds the command that helps when a pickle is
// given where a checkpoint belongs.  A batch-norm network trained by `cnn
// train --layers` saves, evaluates to the accuracy training reported, and
// resumes.

import XCTest

final class CommandErrorTests: CheckpointTestCase {
    func testTheCLIAddsTheFlagToSpecErrors() throws {
        let data = try smallMNISTPickle()
        let result = try runCNN(["train", "--data", data, "--layers", "conv 4 5x5, dense 10, softmax 10"], in: folder)
        XCTAssertEqual(result.status, 64)
        XCTAssertEqual(result.standardError, "cnn: error: --layers: part 2 'dense 10': unknown layer 'dense'; "
            + "parts start with conv, pool, batchnorm, fc or softmax\n")
    }

    func testAFlagValueTheNetworkRefusesIsAUsageError() throws {
        let data = try smallMNISTPickle()
        let result = try runCNN(["train", "--data", data, "--dropout", "1.5"], in: folder)
        XCTAssertEqual(result.status, 64)
        XCTAssertTrue(result.standardError.hasPrefix("cnn: error: "), result.standardError)
        XCTAssertTrue(result.standardError.contains("pDropout must lie in [0, 1)"), result.standardError)
        XCTAssertEqual(result.standardError.filter { $0 == "\n" }.count, 1, result.standardError)
    }

    func testAPickleGivenAsAModelNamesTheImportCommand() throws {
        let data = try smallMNISTPickle()
        let result = try runCNN(["eval", "--model", data, "--data", data], in: folder)
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.standardError, "cnn: error: \(data): this is a pickle, not a SwiftNet checkpoint "
            + "(import network3 parameters with `cnn import-network3`)\n")
    }

    func testABatchNormNetworkTrainsSavesEvaluatesAndResumes() throws {
        let data = try smallMNISTPickle()
        let spec = "conv 6 5x5 linear, batchnorm relu, pool 2, fc 30 linear, batchnorm relu, softmax 10"
        let base = ["train", "--data", data, "--threads", "2", "--layers", spec, "--eta", "0.1"]
        let whole = try runCNN(base + ["--epochs", "2", "--save", "whole.ckpt"], in: folder)
        XCTAssertEqual(whole.status, 0, whole.standardError)
        XCTAssertTrue(whole.standardOutput.hasPrefix("Network: \(spec)\n"), whole.standardOutput)
        let lines = whole.standardOutput.split(separator: "\n").map(String.init)
        let last = try XCTUnwrap(lines.last { $0.hasPrefix("Epoch 1: validation accuracy ") })
        let accuracy = try XCTUnwrap(last.components(separatedBy: "validation accuracy ").last)
        let eval = try runCNN(["eval", "--model", "whole.ckpt", "--data", data], in: folder)
        XCTAssertEqual(eval.status, 0, eval.standardError)
        XCTAssertTrue(eval.standardOutput.hasPrefix("Validation accuracy \(accuracy)\n"), eval.standardOutput)

        // One epoch, then the second from the checkpoint: the same final bytes.
        XCTAssertEqual(try runCNN(base + ["--epochs", "1", "--save", "half.ckpt"], in: folder).status, 0)
        let resumed = try runCNN(["train", "--data", data, "--resume", "half.ckpt", "--epochs", "2"], in: folder)
        XCTAssertEqual(resumed.status, 0, resumed.standardError)
        XCTAssertEqual(try contents(of: path("half.ckpt")), try contents(of: path("whole.ckpt")))
    }
}
