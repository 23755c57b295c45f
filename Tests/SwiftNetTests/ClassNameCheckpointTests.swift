// ClassNameCheckpointTests.swift: class names kept by checkpoints and model files.
//
// A network trained on named classes (a folder of images names them) keeps
// the names through its checkpoints, its model file and a resumed run, and
// predict reports them.  A file with names is format version 3; a file
// without (every MNIST run) is still written as version 2, byte for byte
// as before.  A damaged CLAS section is refused in one line.

import Foundation
@testable import SwiftNet
import XCTest

final class ClassNameCheckpointTests: CheckpointTestCase {
    private let names = ["circle", "square", "triangle"]

    private func namedData(count: Int, seed: UInt64) throws -> Dataset {
        let plain = TinyNetwork.data(count: count, seed: seed)
        return try Dataset(name: plain.name, channels: 1, height: 8, width: 8, pixels: plain.pixels, labels: plain.labels,
                           classCount: 3, classNames: names)
    }

    private func version(of bytes: [UInt8]) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[8 + $1]) << (8 * UInt32($1)) }
    }

    func testATrainerNamesItsCheckpointsAndModelsAndAResumedRunKeepsThem() throws {
        let data = try DataSplits(training: try namedData(count: 40, seed: 3), validation: try namedData(count: 20, seed: 4),
                                  test: try namedData(count: 20, seed: 5))
        let file = path("named.ckpt")
        let trainer = Trainer(network: try TinyNetwork.network(), data: data,
                              settings: TrainingHyperparameters(epochs: 1, eta: 0.5), checkpointPath: file)
        XCTAssertEqual(trainer.network.classNames, names)
        _ = try trainer.run()
        let bytes = try contents(of: file)
        XCTAssertEqual(version(of: bytes), 3)
        let checkpoint = try Checkpoint.load(contentsOf: file)
        XCTAssertEqual(checkpoint.classNames, names)
        XCTAssertEqual(try checkpoint.makeNetwork().classNames, names)
        XCTAssertEqual(try Network.loadModel(contentsOf: Checkpoint.bestModelPath(for: file)).classNames, names)
        let resumed = try Trainer(resuming: file, data: data)
        resumed.settings.epochs = 2
        _ = try resumed.run()
        XCTAssertEqual(try Checkpoint.load(contentsOf: file).classNames, names, "the resumed run's checkpoint")
        let reading = try resumed.network.predict(Array(data.test.pixels.prefix(64)))
        XCTAssertEqual(reading.className, names[reading.predictedClass], "predict reports the model's own names")
    }

    func testNamesThatAreOnlyTheClassNumbersAreNotKept() throws {
        let plain = TinyNetwork.data(count: 40, seed: 3)
        let numbered = try Dataset(name: plain.name, channels: 1, height: 8, width: 8, pixels: plain.pixels, labels: plain.labels,
                                   classCount: 3, classNames: ["0", "1", "2"])
        XCTAssertNil(numbered.meaningfulClassNames, "MNIST's names are its digits")
        let trainer = Trainer(network: try TinyNetwork.network(), data: try DataSplits(training: numbered, validation: numbered,
                                                                                     test: numbered),
                              settings: TrainingHyperparameters(epochs: 1, eta: 0.5), checkpointPath: path("digits.ckpt"))
        XCTAssertNil(trainer.network.classNames, "a digit model stays a digit model (cnn predict preprocesses for it)")
        _ = try trainer.run()
        XCTAssertEqual(version(of: try contents(of: path("digits.ckpt"))), 2, "and its files stay version 2")
    }

    func testAFileWithoutNamesIsVersionTwoAndHasNoNamesSection() throws {
        let network = try TinyNetwork.network()
        try network.saveModel(to: path("plain.model"))
        let bytes = try contents(of: path("plain.model"))
        XCTAssertEqual(version(of: bytes), 2, "nothing changes for files without names")
        XCTAssertNil(bytes.indices.dropLast(3).first { Array(bytes[$0..<($0 + 4)]) == Array("CLAS".utf8) })
        XCTAssertNil(try Network.loadModel(contentsOf: path("plain.model")).classNames)
    }

    func testNamesThatDoNotFitAreRefusedWhenSetAndWhenRead() throws {
        let network = try TinyNetwork.network()
        XCTAssertThrowsError(try network.setClassNames(["a", "b"])) {
            XCTAssertTrue("\($0)".contains("2 class names for 3 classes"), "\($0)")
        }
        XCTAssertThrowsError(try network.setClassNames(["a", "a", "b"]))
        XCTAssertThrowsError(try network.setClassNames(["a", "line\nbreak", "b"]))
        XCTAssertNil(network.classNames, "a refused name list changes nothing")
        try network.setClassNames(["a", "bb", "c"])
        try network.saveModel(to: path("named.model"))
        let good = try contents(of: path("named.model"))
        let clas = try XCTUnwrap(good.indices.dropLast(3).last { Array(good[$0..<($0 + 4)]) == Array("CLAS".utf8) })
        // Payload: count, then (length, bytes) per name: 3, 1 "a", 2 "bb", 1 "c".
        let payload = clas + 12
        XCTAssertEqual(Array(good[payload..<(payload + 4)]), [3, 0, 0, 0])
        var renamed = good
        renamed[payload + 4 + 4 + 1 + 4] = UInt8(ascii: "c")
        renamed[payload + 4 + 4 + 1 + 4 + 1] = UInt8(ascii: "c")  // "bb" -> "cc": still one name per class, all different
        var duplicate = good
        duplicate[payload + 4 + 4 + 1 + 4 + 2 + 4] = UInt8(ascii: "a")  // "c" -> "a", the first class's name
        XCTAssertTrue(try XCTUnwrap(try loadError(repairCRCs(duplicate))).description.contains("the same name"))
        var misread = good
        misread[payload + 4 + 4 + 1] = 1  // "bb" read as "b": the section no longer ends where it should
        let error = try XCTUnwrap(try loadError(repairCRCs(misread)))
        XCTAssertEqual(error.kind, .damaged)
        var notUTF8 = good
        notUTF8[payload + 4 + 4] = 0xFF
        XCTAssertTrue(try XCTUnwrap(try loadError(repairCRCs(notUTF8))).description.contains("not UTF-8"))
        var fewer = good
        fewer[payload] = 2
        XCTAssertNotNil(try loadError(repairCRCs(fewer)))
        var older = good
        older[8] = 2  // a version 2 file does not have CLAS
        XCTAssertNotNil(try loadError(repairCRCs(older)))
        XCTAssertEqual(try Checkpoint.load(contentsOf: try write(repairCRCs(renamed), to: "renamed.model")).classNames,
                       ["a", "cc", "c"], "a changed name that still fits loads as written")
    }
}
