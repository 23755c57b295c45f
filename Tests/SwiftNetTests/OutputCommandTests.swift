// OutputCommandTests.swift: `cnn` refuses, before any work, what used to
// destroy a file or hang (issue 17, findings 5 and 7 to 11), run for real.
//
// Each test runs the built executable as a child on tiny files and checks
// the one line on stderr, the exit status, and that the file at risk is
// untouched: outputs equal to inputs (or to each other), a second run on one
// --save path, a metrics log cut by a crash, a plot of huge costs, an export
// of layers network3 cannot hold, special files as inputs, a missing output
// folder, and negative numbers given to numeric flags.  The library's side
// is OutputSafetyTests.

import Foundation
@testable import SwiftNet
import XCTest

final class OutputCommandTests: CheckpointTestCase {
    /// A network that trains on the small pickle in milliseconds.
    private let quickLayers = ["--layers", "fc 10, softmax 10", "--threads", "1"]

    private func assertRefused(_ arguments: [String], status: Int32 = 64, saying expected: [String],
                               file: StaticString = #filePath, line: UInt = #line) throws {
        let result = try runCNN(arguments, in: folder, file: file, line: line)
        XCTAssertEqual(result.status, status, "\(arguments): \(result.standardError)", file: file, line: line)
        XCTAssertEqual(result.standardError.filter { $0 == "\n" }.count, 1, "\(arguments): \(result.standardError)", file: file, line: line)
        XCTAssertTrue(result.standardError.hasPrefix("cnn: error: "), result.standardError, file: file, line: line)
        for words in expected {
            XCTAssertTrue(result.standardError.contains(words), "\(arguments): \(result.standardError) lacks \(words)", file: file, line: line)
        }
        XCTAssertEqual(result.standardOutput, "", "\(arguments): nothing ran", file: file, line: line)
    }

    func testAnOutputThatIsAnInputIsRefusedBeforeAnyWork() throws {
        let data = try smallMNISTPickle()
        let model = try write(Array("a checkpoint's bytes".utf8), to: "m.ckpt")
        let log = try write(Array("{\"epoch\":0}\n".utf8), to: "a.jsonl")
        let parameters = try write([0x80, 2, 0x2e], to: "p.pkl")
        try FileManager.default.createSymbolicLink(atPath: path("link.png"), withDestinationPath: model)
        let before = try [data, model, log, parameters].map(contents(of:))
        let cases: [([String], [String])] = [
            (["train", "--data", data, "--save", "small-mnist.pkl"], ["--save small-mnist.pkl is the same file as --data \(data)"]),
            (["train", "--data", data, "--save", "n.ckpt", "--metrics", "./n.ckpt"], ["--metrics ./n.ckpt is the same file as --save n.ckpt"]),
            (["train", "--data", data, "--save", "run.ckpt", "--metrics", data], ["--metrics \(data) is the same file as --data"]),
            (["train", "--data", data, "--resume", "m.ckpt", "--metrics", "m.ckpt"], ["--metrics m.ckpt is the same file as --resume m.ckpt"]),
            (["errors", "--model", "m.ckpt", "--data", data, "--out", model], ["--out \(model) is the same file as --model m.ckpt"]),
            (["filters", "--model", "m.ckpt", "--out", "./m.ckpt"], ["--out ./m.ckpt is the same file as --model m.ckpt"]),
            (["eval", "--model", "m.ckpt", "--data", data, "--confusion-png", "link.png"], ["--confusion-png link.png is the same file as --model"]),
            (["export-network3", "--model", "m.ckpt", "--out", "m.ckpt"], ["--out m.ckpt is the same file as --model m.ckpt"]),
            (["import-network3", "p.pkl", "--net", "one-conv", "--out", "p.pkl"], ["--out p.pkl is the same file as the parameter file p.pkl"]),
            (["plot", "a.jsonl", "--out", "a.jsonl"], ["--out a.jsonl is the same file as the log a.jsonl"]),
        ]
        for (arguments, expected) in cases { try assertRefused(arguments, saying: expected) }
        XCTAssertTrue(try [data, model, log, parameters].map(contents(of:)) == before, "every input is untouched")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("n.ckpt")))
    }

    func testASecondRunOnOneSavePathIsRefusedNamingTheFirst() throws {
        let data = try smallMNISTPickle()
        let first = try CNNProcess(["train", "--data", data, "--epochs", "100000", "--save", "m.ckpt"] + quickLayers, in: folder)
        let pid = first.process.processIdentifier
        // The lock is taken once the data is read; its file then names the holder.
        XCTAssertTrue(first.wait(upTo: 60) { (try? String(contentsOfFile: self.path("m.ckpt.lock"), encoding: .utf8)) == "\(pid)\n" },
                      first.errorSoFar)
        let second = try runCNN(["train", "--data", data, "--epochs", "1", "--save", "./m.ckpt"] + quickLayers, in: folder)
        XCTAssertEqual(second.status, 1, second.standardError)
        XCTAssertEqual(second.standardError, "cnn: error: ./m.ckpt: in use by another run (process \(pid)), which holds ./m.ckpt.lock\n")
        XCTAssertTrue(first.process.isRunning, "the first run goes on")

        // Killed in any state, the first run leaves nothing that stops the next.
        first.signal(SIGKILL)
        _ = first.finish()
        let third = try runCNN(["train", "--data", data, "--epochs", "1", "--save", "m.ckpt"] + quickLayers, in: folder)
        XCTAssertEqual(third.status, 0, third.standardError)
        XCTAssertNoThrow(try Checkpoint.load(contentsOf: path("m.ckpt")))
        let temporaries = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.contains(".tmp") }
        XCTAssertEqual(temporaries, [], "no temporary file of either run is left")
    }

    func testAMetricsLogCutByACrashIsRepairedOnResumeAndPlottedWithAWarning() throws {
        let data = try smallMNISTPickle()
        let base = ["train", "--data", data] + quickLayers
        XCTAssertEqual(try runCNN(base + ["--epochs", "1", "--save", "r.ckpt"], in: folder).status, 0)
        let log = path("r.jsonl")
        let whole = try String(contentsOfFile: log, encoding: .utf8)
        // A full disk cut epoch 1's line short; the checkpoint still holds epoch 0's end.
        try Data((whole + "{\"epoch\":1,\"training_co").utf8).write(to: URL(fileURLWithPath: log))
        let resumed = try runCNN(["train", "--data", data, "--resume", "r.ckpt", "--epochs", "2"], in: folder)
        XCTAssertEqual(resumed.status, 0, resumed.standardError)
        XCTAssertEqual(resumed.standardError,
                       "cnn: warning: r.jsonl: line 2: dropped a 23-byte fragment of a line cut short by an interrupted write\n")
        let repaired = try MetricsLog.load(contentsOf: log)
        XCTAssertEqual(repaired.epochs.map(\.epoch), [0, 1], "the fragment is gone and epoch 1's line is whole")
        XCTAssertEqual(repaired.droppedFragments, [])

        // The older failure: a resumed run's line glued onto the fragment, which plot refused.
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        try Data((lines[0] + "\n" + lines[1].prefix(20) + lines[1] + "\n").utf8).write(to: URL(fileURLWithPath: path("glued.jsonl")))
        let plot = try runCNN(["plot", "glued.jsonl", "--out", "glued.png"], in: folder)
        XCTAssertEqual(plot.status, 0, plot.standardError)
        XCTAssertEqual(plot.standardError,
                       "cnn: warning: glued.jsonl: line 2: dropped a 20-byte fragment of a line cut short by an interrupted write\n")
        XCTAssertTrue(plot.standardOutput.contains("1 run of 2 epochs"), plot.standardOutput)
    }

    func testPlotDrawsCostsNearTheLargestDouble() throws {
        let lines = [1e308, -1e308, 1.7976931348623157e308].enumerated().map { epoch, cost in
            EpochReport(epoch: epoch, trainingCost: cost, validationAccuracy: 0.5, isBestSoFar: false, testAccuracy: nil,
                        trainingSeconds: 1, imagesPerSecond: 1).jsonLine
        }
        _ = try write(Array((lines.joined(separator: "\n") + "\n").utf8), to: "huge.jsonl")
        let result = try runCNN(["plot", "huge.jsonl", "--out", "huge.png"], in: folder)
        XCTAssertEqual(result.status, 0, "it trapped before: \(result.standardError)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("huge.png")))
    }

    func testExportNetwork3RefusesLayersItCannotWrite() throws {
        let layers = try NetworkSpec.layers(from: "conv 4 5x5, batchnorm relu, pool 2, fc 10, softmax 10",
                                            input: SampleShape(channels: 1, height: 28, width: 28), miniBatchSize: 2)
        try Checkpoint(model: try Network(layers: layers, miniBatchSize: 2)).write(to: path("bn.ckpt"))
        try assertRefused(["export-network3", "--model", "bn.ckpt", "--out", "p.pkl"], status: 1,
                          saying: ["ConvLayer(", "it has no network3 counterpart"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("p.pkl")), "no file of fewer layers is written")
    }

    func testSpecialFilesAsInputsAreRefusedNotWaitedOn() throws {
        XCTAssertEqual(mkfifo(path("fifo"), 0o644), 0)
        for (arguments, expected) in [(["train", "--data", "fifo", "--epochs", "1"], "fifo: is a named pipe (FIFO), not a data file"),
                                      (["filters", "--model", "fifo"], "fifo: is a named pipe (FIFO), not a checkpoint"),
                                      (["plot", "fifo"], "fifo: is a named pipe (FIFO), not a metrics log"),
                                      (["import-network3", "fifo", "--net", "one-conv", "--out", "m.ckpt"], "fifo: is a named pipe (FIFO), not a data file"),
                                      (["filters", "--model", "/dev/zero"], "/dev/zero: is a character device, not a checkpoint")] {
            let run = try CNNProcess(arguments, in: folder)
            let result = run.finish(timeout: 30)  // before, the first waited forever for a writer
            XCTAssertEqual(result.status, 1, "\(arguments): \(result.standardError)")
            XCTAssertEqual(result.standardError, "cnn: error: \(expected)\n", "\(arguments)")
        }
    }

    func testAMissingOutputFolderIsRefusedBeforeTraining() throws {
        let data = try smallMNISTPickle()
        // Before, the run trained an epoch and then failed to save it.
        try assertRefused(["train", "--data", data, "--save", "missing/m.ckpt"] + quickLayers,
                          saying: ["--save missing/m.ckpt: the folder \(path("missing")) does not exist"])
        try assertRefused(["train", "--data", data, "--metrics", "missing/m.jsonl"] + quickLayers, saying: ["--metrics missing/m.jsonl: the folder"])
        try assertRefused(["export-network3", "--model", "m.ckpt", "--out", "missing/p.pkl"], saying: ["--out missing/p.pkl: the folder"])
    }

    func testNegativeNumbersReachTheFlagsOwnChecks() throws {
        let data = try smallMNISTPickle()
        let train = ["train", "--data", data]
        // Before, each was "Missing value for '--eta <eta>'".
        let cases: [([String], String)] = [
            (train + ["--eta", "-1"], "eta must be a positive number, got -1.0"),
            (train + ["--lmbda", "-0.5"], "lmbda must be zero or positive, got -0.5"),
            (train + ["--momentum", "-0.5"], "momentum must lie in [0, 1), got -0.5"),
            (train + ["--augment-shift", "-1"], "augmentation shift must lie in"),
            (train + ["--augment-rotate", "-3"], "augmentation rotation must lie in"),
            (train + ["--augment-elastic", "-2:4"], "augmentation elastic alpha must lie in"),
            (train + ["--early-stopping", "-1"], "--early-stopping must be at least 1 epoch, got -1"),
            (train + ["--epochs", "-1"], "--epochs must be at least 1, got -1"),
            (train + ["--seed", "-1"], "The value '-1' is invalid for '--seed <seed>'"),
            (train + ["--threads", "-2"], "--threads must be at least 1, got -2"),
            (["eval", "--model", "m.ckpt", "--data", "folder", "--validation-size", "-5"], "--validation-size must be at least 1, got -5"),
            (train + ["--dropout", "-0.5"], "pDropout must lie in [0, 1)"),
            (train + ["--mini-batch-size", "-10"], "mini-batch size must be positive, got -10"),
            (["bench", "--reps", "-1"], "--reps must be at least 1, got -1"),
            (["bench", "--batches", "-1"], "--batches must be zero or positive, got -1"),
            (["bench-kernels", "--batch", "-1"], "--batch must be at least 1, got -1"),
            (["bench", "--mini-batch-sizes", "-10"], "--mini-batch-sizes: '-10' is not a positive integer"),
            (["bench", "--threads", "-1"], "--threads: '-1' is not a positive integer"),
        ]
        for (arguments, expected) in cases { try assertRefused(arguments, saying: [expected]) }
    }
}
