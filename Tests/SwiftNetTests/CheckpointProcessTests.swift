// CheckpointProcessTests.swift: `cnn` saving, interrupted, killed and resumed for real.
//
// These tests run the built `cnn` executable on a small MNIST-shaped pickle
// (300 training images), because signals and kill -9 act on whole
// processes.  A run interrupted by SIGINT or SIGTERM must save, say where it
// stopped, exit 130 or 143, and resume to the same checkpoint bytes and
// accuracy lines as a run that was never interrupted.  A run killed with
// SIGKILL in the middle of writing a checkpoint (held there by the
// SWIFTNET_TEST_STALL_CHECKPOINT_WRITE hook) must leave the previous
// checkpoint loadable, and so must kills at random moments.  Bad files and
// flags end in one line on stderr and a non-zero status.

import Foundation
@testable import SwiftNet
import XCTest

final class CheckpointProcessTests: CheckpointTestCase {
    private let epochs = 12


    private func train(_ extra: [String], data: String) -> [String] {
        ["train", "--data", data, "--threads", "2", "--eta", "0.5"] + extra
    }

    /// An uninterrupted run's output and final checkpoints.
    private func uninterrupted(data: String) throws -> (lines: [String], latest: [UInt8], best: [UInt8]) {
        let result = try runCNN(train(["--epochs", "\(epochs)", "--save", "whole.ckpt"], data: data), in: folder)
        XCTAssertEqual(result.status, 0, result.standardError)
        return (accuracyLines(result.standardOutput), try contents(of: path("whole.ckpt")), try contents(of: path("whole.best.ckpt")))
    }

    func testAnInterruptedRunSavesAndResumesToTheSameBytes() throws {
        let data = try smallMNISTPickle()
        let whole = try uninterrupted(data: data)
        XCTAssertEqual(whole.lines.filter { $0.hasPrefix("Epoch ") }.count, epochs)

        for (signal, name) in [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")] {
            let file = "\(name).ckpt"
            let run = try CNNProcess(train(["--epochs", "\(epochs)", "--save", file], data: data), in: folder)
            // Interrupt once the first epoch is saved: somewhere in the second epoch or later.
            XCTAssertTrue(run.wait(upTo: 60) { FileManager.default.fileExists(atPath: path(file)) }, name)
            run.signal(signal)
            let first = run.finish()
            XCTAssertFalse(first.killedBySignal, "\(name) must not kill the run")
            XCTAssertEqual(first.status, 128 + signal, first.standardError)
            let notes = first.standardError.split(separator: "\n").map(String.init)
            XCTAssertEqual(notes.count, 2, first.standardError)
            XCTAssertTrue(notes.first?.hasPrefix("cnn: stopped by \(name) ") ?? false, first.standardError)
            XCTAssertTrue(notes.first?.hasSuffix("; saved \(file)") ?? false, first.standardError)
            XCTAssertEqual(notes.last, "cnn: to continue: cnn train --resume \(file) --data \(data)")
            let stoppedAt = try Checkpoint.load(contentsOf: path(file)).progress
            XCTAssertLessThan(stoppedAt.epoch, epochs, "the run was interrupted before its end")

            let second = try runCNN(["train", "--data", data, "--resume", file], in: folder)
            XCTAssertEqual(second.status, 0, second.standardError)
            let context = "\(name) at epoch \(stoppedAt.epoch), mini-batch \(stoppedAt.miniBatchesDone)"
            XCTAssertEqual(accuracyLines(first.standardOutput) + accuracyLines(second.standardOutput), whole.lines, context)
            XCTAssertTrue(try contents(of: path(file)) == whole.latest, "\(context): final checkpoints differ")
            XCTAssertTrue(try contents(of: path("\(name).best.ckpt")) == whole.best, "\(context): best checkpoints differ")
        }
    }

    func testKillNineInTheMiddleOfASaveLeavesThePreviousCheckpoint() throws {
        let data = try smallMNISTPickle()
        let whole = try uninterrupted(data: data)
        // Writes 1 and 2 are epoch 0's best and latest; write 3 is epoch 1's first.
        let run = try CNNProcess(train(["--epochs", "\(epochs)", "--save", "killed.ckpt"], data: data), in: folder,
                                 environment: ["SWIFTNET_TEST_STALL_CHECKPOINT_WRITE": "3"])
        XCTAssertTrue(run.wait(upTo: 60) { run.errorSoFar.contains("checkpoint write stalled") }, run.errorSoFar)
        run.signal(SIGKILL)
        let killed = run.finish()
        XCTAssertTrue(killed.killedBySignal)
        XCTAssertEqual(killed.status, SIGKILL)

        // Write 3 is the best model's if epoch 1 was a best, else the latest state's.
        let stalled = ["killed.ckpt", "killed.best.ckpt"].filter { FileManager.default.fileExists(atPath: path($0 + ".tmp")) }
        XCTAssertEqual(stalled.count, 1, "exactly one write was cut short")
        for name in stalled {
            let partial = try contents(of: path(name + ".tmp"))
            XCTAssertEqual(partial.count, try contents(of: path(name)).count / 2, "\(name).tmp holds half a checkpoint")
        }
        for name in ["killed.ckpt", "killed.best.ckpt"] {
            let survivor = try Checkpoint.load(contentsOf: path(name))
            XCTAssertEqual([survivor.progress.epoch, survivor.progress.miniBatchesDone], [1, 0], "\(name) is epoch 0's")
        }

        let resumed = try runCNN(["train", "--data", data, "--resume", "killed.ckpt"], in: folder)
        XCTAssertEqual(resumed.status, 0, resumed.standardError)
        XCTAssertTrue(try contents(of: path("killed.ckpt")) == whole.latest, "the resumed run ends where the whole run did")
        for name in stalled {
            XCTAssertFalse(FileManager.default.fileExists(atPath: path(name + ".tmp")), "a later save replaced the leftover")
        }
    }

    func testKillsAtRandomMomentsNeverLeaveABrokenCheckpoint() throws {
        let data = try smallMNISTPickle()
        var random = RandomSource(seed: 42)
        var survivors = 0
        for attempt in 0..<6 {
            for name in ["random.ckpt", "random.best.ckpt", "random.ckpt.tmp", "random.best.ckpt.tmp"] {
                try? FileManager.default.removeItem(atPath: path(name))
            }
            let run = try CNNProcess(train(["--epochs", "1000", "--save", "random.ckpt"], data: data), in: folder)
            usleep(UInt32(150_000 + random.next() % 900_000))
            run.signal(SIGKILL)
            _ = run.finish()
            for name in ["random.ckpt", "random.best.ckpt"] where FileManager.default.fileExists(atPath: path(name)) {
                XCTAssertNoThrow(try Checkpoint.load(contentsOf: path(name)), "attempt \(attempt): \(name)")
                survivors += 1
            }
        }
        XCTAssertGreaterThan(survivors, 0, "no kill came late enough to find a checkpoint")
    }

    func testEvalPrintsTheAccuracyTrainingReported() throws {
        let data = try smallMNISTPickle()
        let whole = try uninterrupted(data: data)
        // The best model's epoch is the last one that reported a best.
        let bestIndex = try XCTUnwrap(whole.lines.lastIndex(of: "This is the best validation accuracy to date."))
        let validation = whole.lines[bestIndex - 1].components(separatedBy: "validation accuracy ").last ?? ""
        let test = whole.lines[bestIndex + 1].components(separatedBy: "test accuracy is ").last ?? ""
        let result = try runCNN(["eval", "--model", "whole.best.ckpt", "--data", data], in: folder)
        XCTAssertEqual(result.status, 0, result.standardError)
        XCTAssertEqual(result.standardOutput, "Validation accuracy \(validation)\nTest accuracy \(test)\n")
    }

    func testBadFilesAndFlagsEndInOneLine() throws {
        let data = try smallMNISTPickle()
        XCTAssertEqual(try runCNN(train(["--epochs", "1", "--save", "good.ckpt"], data: data), in: folder).status, 0)
        let good = try contents(of: path("good.ckpt"))
        var flipped = good
        flipped[good.count / 2] ^= 0x10
        var newer = good
        newer[8] = 4
        let damaged: [(String, [UInt8]?, String)] = [
            ("empty.ckpt", [], "the file is empty"),
            ("truncated.ckpt", Array(good.prefix(good.count - 100)), "the file is truncated"),
            ("flipped.ckpt", flipped, "is damaged: its CRC-32 is"),
            ("magic.ckpt", Array("PK\u{3}\u{4}not a checkpoint".utf8), "not a SwiftNet checkpoint"),
            ("newer.ckpt", repairCRCs(newer), "format version 4 is newer"),
            ("missing.ckpt", nil, "no such file"),
        ]
        for (name, bytes, reason) in damaged {
            if let bytes { _ = try write(bytes, to: name) }
            for arguments in [["eval", "--model", name, "--data", data], ["train", "--data", data, "--resume", name],
                              ["export-network3", "--model", name, "--out", "x.pkl"]] {
                let result = try runCNN(arguments, in: folder)
                XCTAssertEqual(result.status, 1, "\(arguments): \(result.standardError)")
                XCTAssertTrue(result.standardError.hasPrefix("cnn: error: \(name): "), result.standardError)
                XCTAssertTrue(result.standardError.contains(reason), result.standardError)
                XCTAssertEqual(result.standardError.filter { $0 == "\n" }.count, 1, result.standardError)
            }
        }
        let changed = try runCNN(["train", "--data", data, "--resume", "good.ckpt", "--eta", "0.2"], in: folder)
        XCTAssertEqual(changed.status, 64)
        XCTAssertEqual(changed.standardError,
                       "cnn: error: --eta cannot be combined with --resume: a resumed run keeps the settings saved in good.ckpt\n")
        XCTAssertEqual(try contents(of: path("good.ckpt")), good, "failed commands leave the checkpoint alone")
    }

    func testImportAndExportCommandsRoundTrip() throws {
        let data = try smallMNISTPickle()
        XCTAssertEqual(try runCNN(train(["--epochs", "1", "--save", "trained.ckpt", "--dropout", "0.2"], data: data), in: folder).status, 0)
        let exported = try runCNN(["export-network3", "--model", "trained.ckpt", "--out", "params.pkl"], in: folder)
        XCTAssertEqual(exported.status, 0, exported.standardError)
        let imported = try runCNN(["import-network3", "params.pkl", "--net", "one-conv", "--dropout", "0.2",
                                   "--out", "imported.ckpt"], in: folder)
        XCTAssertEqual(imported.status, 0, imported.standardError)
        let original = try runCNN(["eval", "--model", "trained.ckpt", "--data", data], in: folder)
        let copy = try runCNN(["eval", "--model", "imported.ckpt", "--data", data, "--threads", "2"], in: folder)
        XCTAssertEqual(copy.standardOutput, original.standardOutput)
        XCTAssertEqual(try Checkpoint.load(contentsOf: path("imported.ckpt")).parameters,
                       try Checkpoint.load(contentsOf: path("trained.ckpt")).parameters)

        let wrongNet = try runCNN(["import-network3", "params.pkl", "--net", "two-conv", "--out", "wrong.ckpt"], in: folder)
        XCTAssertEqual(wrongNet.status, 1)
        XCTAssertTrue(wrongNet.standardError.hasPrefix("cnn: error: params.pkl: holds 6 pickled values, but the network's 4 layers need 8"),
                      wrongNet.standardError)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("wrong.ckpt")))
    }
}
