// CheckpointDamageTests.swift: every kind of bad checkpoint is refused in one line.
//
// A checkpoint may be cut short by a full disk, damaged by a bad sector,
// written by a newer SwiftNet, or simply be some other file.  Each test
// makes one such file and checks that loading it throws a CheckpointError
// naming the file and the problem, in one line, without a crash.  Bit flips
// and truncations are tried at every position of a small checkpoint.

import Foundation
@testable import SwiftNet
import XCTest

final class CheckpointDamageTests: CheckpointTestCase {
    private func valid() throws -> [UInt8] { try tinyCheckpoint().0.encoded() }

    private func assertRefused(_ bytes: [UInt8], because expected: String, at offset: Int? = nil,
                               file: StaticString = #filePath, line: UInt = #line) throws {
        guard let error = try loadError(bytes, file: file, line: line) else { return }
        XCTAssertTrue(error.reason.contains(expected), "\"\(error.reason)\" lacks \"\(expected)\"", file: file, line: line)
        if let offset { XCTAssertEqual(error.offset, offset, error.description, file: file, line: line) }
    }

    func testAnEmptyFile() throws {
        try assertRefused([], because: "the file is empty")
    }

    func testAWrongMagicAndOtherFiles() throws {
        var bytes = try valid()
        bytes[0] = UInt8(ascii: "X")
        try assertRefused(bytes, because: "not a SwiftNet checkpoint: it does not start with 'SWNETCKP' but with 'XWNETCKP'", at: 0)
        try assertRefused(Array("hello, world\n".utf8), because: "not a SwiftNet checkpoint")
        try assertRefused(SmallMNISTPickle().bytes, because: "this is a pickle, not a SwiftNet checkpoint")
        try assertRefused(storedGzip(SmallMNISTPickle().bytes), because: "this is a pickle")
    }

    func testANewerVersionIsRefusedAsNewerNotAsDamaged() throws {
        var bytes = try valid()
        bytes[8] = 4
        try assertRefused(repairCRCs(bytes), because: "format version 4 is newer than this SwiftNet reads (up to 3); use a newer cnn", at: 8)
        bytes[8] = 0
        try assertRefused(repairCRCs(bytes), because: "format version 0 does not exist")
        // Without a matching header CRC the same byte is damage.
        bytes[8] = 4
        try assertRefused(bytes, because: "the header is damaged", at: 0)
    }

    func testTruncationAtEveryOffset() throws {
        let bytes = try valid()
        for length in 0..<bytes.count {
            guard let error = try loadError(Array(bytes[..<length])) else { continue }
            let expected = length == 0 ? "the file is empty" : "truncated"
            XCTAssertTrue(error.reason.contains(expected), "\(length): \(error)")
        }
    }

    func testEverySingleBitFlip() throws {
        let bytes = try valid()
        var reasons: Set<String> = []
        for offset in 0..<bytes.count {
            for bit in 0..<8 {
                var damaged = bytes
                damaged[offset] ^= 1 << UInt8(bit)
                do {
                    _ = try Checkpoint(decoding: damaged, source: "flipped.ckpt")
                    XCTFail("a flip of bit \(bit) at byte \(offset) went unnoticed")
                } catch let error as CheckpointError {
                    XCTAssertFalse(error.description.contains("\n"))
                    reasons.insert(String(error.reason.prefix(24)))
                }
            }
        }
        // Flips are caught by the header check, the section tags, lengths and CRCs, not by one catch-all.
        XCTAssertGreaterThanOrEqual(reasons.count, 4, "\(reasons.sorted())")
    }

    func testTrailingBytes() throws {
        let bytes = try valid()
        try assertRefused(bytes + [0], because: "1 bytes follow the last section", at: bytes.count)
    }

    func testInconsistentContentsBehindValidCRCs() throws {
        let (checkpoint, _) = try tinyCheckpoint()

        var otherArchitecture = checkpoint
        otherArchitecture.layers[1] = FullyConnectedLayer(nIn: 19, nOut: 6, activation: .tanh, pDropout: 0.25)
        otherArchitecture.parameters += [Float](repeating: 0, count: 6)
        try assertRefused(otherArchitecture.encoded(), because: "layer 1, ConvPoolLayer(2 filters 3x3 on 1x8x8, pool 2x2, sigmoid), "
            + "outputs 2x3x3 but layer 2, FullyConnectedLayer(19 -> 6, tanh, dropout 0.25), expects 19")

        var notFinite = checkpoint
        notFinite.parameters[20] = .nan
        try assertRefused(notFinite.encoded(), because: "layer 2's weights hold nan at index 2; parameters must be finite")

        var zeroRandom = checkpoint
        zeroRandom.randomState = [0, 0, 0, 0]
        try assertRefused(zeroRandom.encoded(), because: "the random generator's state is all zeros")

        var pastTheEnd = checkpoint
        pastTheEnd.progress.miniBatchesDone = 9
        try assertRefused(pastTheEnd.encoded(), because: "the progress stands at mini-batch 9, but 40 training images make 8 mini-batches of 5")

        var noSoftmax = checkpoint
        noSoftmax.layers[2] = FullyConnectedLayer(nIn: 6, nOut: 3)
        try assertRefused(noSoftmax.encoded(), because: "it must be a SoftmaxLayer")

        var wrongBatch = checkpoint
        wrongBatch.miniBatchSize = 4
        try assertRefused(wrongBatch.encoded(), because: "its images come in mini-batches of 5, but the run's mini-batch size is 4")

        // A layer kind this version does not know, with every CRC right.
        var bytes = try checkpoint.encoded()
        bytes[20 + 12 + 4] = 9 // the first layer's kind, after the header, ARCH's header and the layer count
        try assertRefused(repairCRCs(bytes), because: "layer 1 is of kind 9", at: 36)
    }

    func testMissingFileAndFolder() throws {
        let missing = path("nothing.ckpt")
        XCTAssertThrowsError(try Checkpoint.load(contentsOf: missing)) { XCTAssertEqual("\($0)", "\(missing): no such file") }
        XCTAssertThrowsError(try Checkpoint.load(contentsOf: folder.path)) {
            XCTAssertEqual("\($0)", "\(folder.path): is a directory, not a checkpoint")
        }
    }
}
