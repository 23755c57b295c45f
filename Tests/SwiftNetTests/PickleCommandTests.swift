// PickleCommandTests.swift: `cnn import-network3` on the files Python 3 ports write.
//
// A Python 3 port of network3 saves with pickle.dump's default (protocol 4)
// or -1 (protocol 5); both must import end to end, and the imported
// checkpoint must evaluate.  A SwiftNet checkpoint given to the importer by
// mistake gets one line that says what it is and which flag takes it.

import Foundation
import SwiftNet
import XCTest

final class PickleCommandTests: CheckpointTestCase {
    private let layers = "conv 2 5x5, pool 2, softmax 10"

    func testImportNetwork3TakesProtocol4And5Files() throws {
        let data = try smallMNISTPickle()
        for path in PickleFixtures.paths("seed") {
            let result = try runCNN(["import-network3", path, "--layers", layers, "--out", "imported.ckpt"], in: folder)
            XCTAssertEqual(result.status, 0, result.standardError)
            XCTAssertEqual(result.standardOutput, "Imported the network's 2942 parameters from \(path) into imported.ckpt\n")
            let eval = try runCNN(["eval", "--model", "imported.ckpt", "--data", data], in: folder)
            XCTAssertEqual(eval.status, 0, eval.standardError)
        }
    }

    func testACheckpointGivenToImportNetwork3SaysWhatItIs() throws {
        let (checkpoint, _) = try tinyCheckpoint()
        let model = path("model.ckpt")
        try checkpoint.write(to: model)
        let result = try runCNN(["import-network3", model, "--layers", layers, "--out", "again.ckpt"], in: folder)
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.standardError, "cnn: error: \(model): is a SwiftNet checkpoint, not a network3 parameter pickle: "
            + "it is a model already and needs no import (give it to cnn eval or cnn predict as --model, or to cnn train as --resume)\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("again.ckpt")))
    }
}
