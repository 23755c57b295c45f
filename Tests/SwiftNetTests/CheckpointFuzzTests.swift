// CheckpointFuzzTests.swift: random damage to checkpoints and pickles never crashes or hangs.
//
// A bounded fuzz run with a fixed seed: thousands of valid files, each
// mutated at random (bit flips, overwritten, inserted, deleted or repeated
// bytes, truncation), are fed to the checkpoint reader and to the
// restricted pickle reader.  Every case must end in a value or in the
// reader's own one-line error; a trap would kill the test process and a
// hang would blow the time bound.  Half the checkpoint cases get their
// CRCs repaired after mutating, so that the damage reaches the checks
// behind them.  A checkpoint that still decodes must re-encode to exactly
// its own bytes: the format has one spelling for each state.

import Foundation
@testable import SwiftNet
import XCTest

final class CheckpointFuzzTests: CheckpointTestCase {
    private static func makeMutator() -> ByteMutator {
        ByteMutator(seed: 0xF022, interestingValues: [0, 1, 0x7f, 0x80, 0xff, 0xfe, 0x40])
    }

    func testMutatedCheckpointsNeverCrash() throws {
        let (checkpoint, _) = try tinyCheckpoint(threads: 2)
        let original = try checkpoint.encoded()
        var mutator = Self.makeMutator()
        var decoded = 0
        var refused: Set<String> = []
        let cases = 20_000
        let started = Date()
        for index in 0..<cases {
            var bytes = mutator.mutate(original)
            if index % 2 == 1 { bytes = repairCRCs(bytes) }
            do {
                let result = try Checkpoint(decoding: bytes, source: "fuzz.ckpt")
                decoded += 1
                XCTAssertEqual(try result.encoded(), bytes, "case \(index) decoded but does not re-encode to its own bytes")
                _ = try result.makeNetwork(threads: 1)
            } catch let error as CheckpointError {
                XCTAssertFalse(error.description.contains("\n"), error.description)
                refused.insert(String(error.reason.prefix(20)))
            } catch let error as MemoryBudgetError {
                // A mutant that asks for more memory than the machine's budget is refused before it allocates.
                XCTAssertFalse(error.description.contains("\n"), error.description)
            }
        }
        let seconds = Date().timeIntervalSince(started)
        XCTAssertLessThan(seconds, 60, "\(cases) checkpoint cases took \(seconds) s")
        // The repaired half reaches far more than the CRC checks.
        XCTAssertGreaterThan(refused.count, 15, "\(refused.sorted())")
        print("checkpoint fuzz: \(decoded) of \(cases) mutants still decoded; \(refused.count) kinds of refusal; \(seconds) s")
    }

    func testMutatedPicklesNeverCrash() throws {
        var small = SmallMNISTPickle()
        small.counts = [2, 1, 1]
        let mnist = small.bytes
        let tinyLayers = TinyNetwork.layers(batch: 5)
        let parameterCount = tinyLayers.reduce(0) { $0 + $1.weightCount + $1.biasCount }
        let values = (0..<parameterCount).map { Float($0) / 7 - 3 }
        let python3Style = try Network3ParameterFile.encode(layers: tinyLayers, parameters: values, as: .float64)
        var python2Style = PickleWriter()
        for (index, layer) in tinyLayers.enumerated() {
            let (weights, biases) = try Network3ParameterFile.shapes(of: layer)
            for shape in [weights, biases] {
                python2Style.proto()
                python2Style.array("f4", shape: shape.map(Int32.init),
                                   data: float32Bytes((0..<shape.reduce(1, *)).map { Float($0 + index) / 10 }))
                python2Style.stop()
            }
        }
        XCTAssertNoThrow(try Network3ParameterFile.read(contentsOf: write(python2Style.bytes, to: "p2.pkl"), layers: tinyLayers))
        XCTAssertNoThrow(try Network3ParameterFile.read(contentsOf: write(python3Style, to: "p3.pkl"), layers: tinyLayers))

        var mutator = Self.makeMutator()
        var accepted = 0
        let started = Date()
        let cases = 6_000
        for index in 0..<cases {
            let base = [mnist, python2Style.bytes, python3Style][index % 3]
            let file = try write(mutator.mutate(base), to: "fuzz.pkl")
            do {
                if index % 3 == 0 {
                    _ = try MNIST.load(contentsOf: file)
                } else {
                    _ = try Network3ParameterFile.read(contentsOf: file, layers: tinyLayers)
                }
                accepted += 1
            } catch let error as DataFileError {
                XCTAssertFalse(error.description.contains("\n"), error.description)
                XCTAssertEqual(error.path, file)
            }
        }
        let seconds = Date().timeIntervalSince(started)
        XCTAssertLessThan(seconds, 60, "\(cases) pickle cases took \(seconds) s")
        print("pickle fuzz: \(accepted) of \(cases) mutants still accepted; \(seconds) s")
    }
}
