// PickleFuzzTests.swift: pickles that real Python wrote, damaged at random,
// never crash, hang or take unbounded memory.
//
// CheckpointFuzzTests mutates pickles this package's own writers make; this
// test mutates the fixtures that Python 2 and 3 wrote at every protocol
// (PickleFixtureTests), so the damage lands in every opcode the decoder now
// reads: protocol 0's text lines and escapes, the memo, lists, frames,
// protocol 5's buffers.  Besides byte flips, truncations, insertions and
// repeats, a mutation may splice in an opcode with a huge length field.
// With a fixed seed, each case must decode or throw one DataFileError whose
// description is one line; a trap would kill the test process.  Every case
// runs under a small memory limit, so whatever a case allocates is bounded.

import Foundation
@testable import SwiftNet
import XCTest

final class PickleFuzzTests: DataFileTestCase {
    /// The fuzzer: Python's pickles damaged as every fuzz test damages files, plus splices.
    private static func makeMutator() -> ByteMutator {
        ByteMutator(seed: 0x9_1C4E, interestingValues: [0, 1, 0x0a, 0x27, 0x5c, 0x7f, 0x80, 0xff, 0xfe, 0x40],
                    longestRepeat: 64, splices: splices)
    }

    /// Opcodes with length fields that claim far more than any file holds,
    /// and the openings of a protocol 5 buffer and of protocol 0 lines.
    static let splices: [[UInt8]] = [
        [0x96] + [UInt8](repeating: 0xff, count: 8), [0x96, 0, 0, 0, 0, 1, 0, 0, 0],
        [0x8e, 0, 0, 0, 0x40, 0, 0, 0, 0], [0x8d, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0],
        [UInt8(ascii: "B"), 0xff, 0xff, 0xff, 0xff], [UInt8(ascii: "X"), 0, 0, 0, 0x40],
        [UInt8(ascii: "T"), 0xff, 0xff, 0xff, 0x7f], [0x8b, 0xff, 0xff, 0, 0], [0x95, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0],
        Array("S'\\".utf8), Array("V\\u".utf8), Array("I0".utf8), Array("g1\n".utf8), Array("(l".utf8), [0x93], [0x94],
        [UInt8(ascii: "h"), 0], [UInt8(ascii: "a")], [UInt8(ascii: "e")], [UInt8(ascii: "(")], [UInt8(ascii: "R")],
        [UInt8(ascii: "b")], [0x80, 5],
    ]

    func testMutatedPythonPicklesNeverCrash() throws {
        let seedLayers: [any Layer] = [
            ConvPoolLayer(filterShape: (2, 1, 5, 5), imageShape: (1, 1, 28, 28), poolSize: (2, 2), activation: .sigmoid),
            SoftmaxLayer(nIn: 288, nOut: 10),
        ]
        var originals: [(kind: String, bytes: [UInt8])] = []
        for kind in ["mnist", "params", "seed"] {
            for path in PickleFixtures.paths(kind) { originals.append((kind, try PickleFixtures.uncompressed(path))) }
        }
        XCTAssertEqual(originals.count, 34)
        // Far above what the fixtures need (about 20 KB), far below what would strain the machine.
        let limit = 8 << 20
        // Mutants go to memory-backed /dev/shm where there is one: on a virtual disk,
        // writing thousands of files costs more than decoding them.
        let shm = URL(fileURLWithPath: "/dev/shm")
        let scratch = FileManager.default.isWritableFile(atPath: shm.path)
            ? shm.appendingPathComponent("swiftnet-pickle-fuzz-\(UUID().uuidString)") : directory
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { if scratch != directory { try? FileManager.default.removeItem(at: scratch) } }
        var mutator = Self.makeMutator()
        var accepted = 0
        var refusals: Set<String> = []
        let cases = 4_000
        let started = Date()
        for index in 0..<cases {
            let (kind, original) = originals[index % originals.count]
            var bytes = mutator.mutate(original)
            if index % 4 == 3 { bytes = storedGzip(bytes) }
            let file = scratch.appendingPathComponent(index % 4 == 3 ? "fuzz.pkl.gz" : "fuzz.pkl").path
            try Data(bytes).write(to: URL(fileURLWithPath: file))
            do {
                switch kind {
                case "mnist": _ = try MNIST.load(contentsOf: file, memoryLimit: limit)
                case "params":
                    _ = try RestrictedPickleDecoder.decodeSequence(from: UncompressedByteStream(path: file), purpose: .parameters,
                                                                   memoryLimit: limit)
                default: _ = try Network3ParameterFile.read(contentsOf: file, layers: seedLayers, memoryLimit: limit)
                }
                accepted += 1
            } catch let error as DataFileError {
                XCTAssertFalse(error.description.contains("\n"), "case \(index): \(error.description)")
                XCTAssertEqual(error.path, file, "case \(index)")
                refusals.insert(String(error.reason.prefix(24)))
            }
        }
        let seconds = Date().timeIntervalSince(started)
        // A guard against a hang, not a timing: the run takes a few seconds in release.
        XCTAssertLessThan(seconds, 120, "\(cases) pickle cases took \(seconds) s")
        // The mutations reach many different checks, not one early refusal.
        XCTAssertGreaterThan(refusals.count, 40, "\(refusals.sorted())")
        print("python pickle fuzz: \(accepted) of \(cases) mutants still accepted; \(refusals.count) kinds of refusal; \(seconds) s")
    }
}
