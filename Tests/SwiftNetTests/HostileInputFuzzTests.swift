// HostileInputFuzzTests.swift: random damage to every input SwiftNet reads never crashes, hangs or balloons.
//
// Bounded fuzz runs with fixed seeds over IDX files (plain and gzipped),
// checkpoints read from disk and built into networks, PNG and PGM
// pictures, metrics log lines, spec strings and a few `cnn` command lines.
// Each case must end in a value or in the reader's own one-line error (a
// trap would kill the test process); each run stops at its case count or
// its time bound, whichever comes first, and then asserts it did not need
// far more.  Memory is held to a small budget passed to every call that
// takes one, and the process's peak resident size may grow only a little
// over the whole run (the child processes' peak is checked the same way).

import Foundation
@testable import SwiftNet
@testable import SwiftNetImages
import XCTest

final class HostileInputFuzzTests: CheckpointTestCase {
    /// What every call here may allocate: far more than the inputs need, far less than what they could ask for.
    let budget = MemoryBudget(bytes: 64 << 20)
    let growthBound = 300 << 20
    /// Each run's wall-clock bound; the whole file stays well under a minute in release.
    let secondsPerRun = 5.0

    /// Runs `body` on up to `cases` mutants of `bases` (in turn), each written to a file, until the time bound;
    /// every error must be one line and of a type `isExpected` accepts.
    func fuzz(_ name: String, bases: [[UInt8]], cases: Int, seed: UInt64, isExpected: (Error) -> Bool,
              _ body: (String, Int) throws -> Void) throws {
        var mutator = ByteMutator(seed: seed, interestingValues: [0, 1, 0x7f, 0x80, 0xff, 0xfe, 0x40, 0x2c, 0x2d, 0x39])
        var accepted = 0, done = 0
        let started = Date()
        let before = peakResidentBytes()
        let file = path("fuzz-\(name)")
        while done < cases, Date().timeIntervalSince(started) < secondsPerRun {
            let bytes = mutator.mutate(bases[done % bases.count])
            _ = FileManager.default.createFile(atPath: file, contents: Data(bytes))
            do {
                try body(file, done % bases.count)
                accepted += 1
            } catch {
                XCTAssertTrue(isExpected(error), "\(name) case \(done): \(type(of: error)): \(error)")
                let text = String(describing: error)
                XCTAssertFalse(text.isEmpty || text.contains("\n"), "\(name) case \(done): \(text)")
            }
            done += 1
        }
        let seconds = Date().timeIntervalSince(started)
        // A hang shows as a run that finished far too few cases in its time.
        XCTAssertGreaterThanOrEqual(done, min(cases, 200), "\(name): only \(done) cases in \(seconds) s")
        XCTAssertLessThan(peakResidentBytes() - before, growthBound, name)
        print("\(name) fuzz: \(accepted) of \(done) mutants accepted; \(String(format: "%.1f", seconds)) s")
    }

    func testMutatedIDXFilesNeverCrash() throws {
        let data = TinyNetwork.data(count: 12, seed: 4)
        let images = try IDX.imageFileBytes([data]), labels = try IDX.labelFileBytes([data])
        try fuzz("idx", bases: [images, labels, IDX.gzip(images), IDX.gzip(labels)], cases: 3_000, seed: 0x1D8,
                 isExpected: { $0 is DataFileError || $0 is MemoryBudgetError }) { file, base in
            if base % 2 == 0 {
                _ = try IDX.readImages(contentsOf: file, memoryBudget: budget)
            } else {
                _ = try IDX.readLabels(contentsOf: file, memoryBudget: budget)
            }
        }
    }

    func testMutatedCheckpointFilesLoadAndBuildWithinTheBudget() throws {
        let (checkpoint, _) = try tinyCheckpoint(threads: 2)
        let original = try checkpoint.encoded()
        var index = 0
        try fuzz("checkpoint", bases: [original], cases: 3_000, seed: 0xC4EC,
                 isExpected: { $0 is CheckpointError || $0 is MemoryBudgetError || $0 is FileError }) { file, _ in
            // Half get their CRCs repaired, so the damage reaches the sizes behind them.
            index += 1
            if index % 2 == 0, let bytes = FileManager.default.contents(atPath: file) {
                _ = FileManager.default.createFile(atPath: file, contents: Data(repairCRCs(Array(bytes))))
            }
            _ = try Checkpoint.load(contentsOf: file, memoryBudget: budget).makeNetwork(threads: 1, memoryBudget: budget)
        }
    }

    func testMutatedPicturesNeverCrash() throws {
        var gray = try Bitmap(width: 7, height: 5, channels: 1)
        var color = try Bitmap(width: 4, height: 3, channels: 3)
        var random = RandomSource(seed: 7)
        gray = try Bitmap(width: gray.width, height: gray.height, channels: 1,
                     samples: (0..<35).map { _ in UInt8(truncatingIfNeeded: random.next()) })
        color = try Bitmap(width: color.width, height: color.height, channels: 3,
                      samples: (0..<36).map { _ in UInt8(truncatingIfNeeded: random.next()) })
        let pngs = [PNG.encode(gray), PNG.encode(color), PNG.encode(gray, filter: .paeth)]
        try fuzz("png", bases: pngs, cases: 3_000, seed: 0x9E6, isExpected: { $0 is ImageError }) { file, _ in
            _ = try PNG.read(contentsOf: file)
        }
        try fuzz("pgm", bases: [PGM.encode(gray)], cases: 2_000, seed: 0x96E, isExpected: { $0 is ImageError }) { file, _ in
            _ = try PGM.read(contentsOf: file)
        }
    }

    func testMutatedMetricsLogsNeverCrash() throws {
        let lines = (1...3).map { epoch in
            "{\"epoch\":\(epoch),\"training_cost\":0.\(epoch)5,\"validation_accuracy\":0.9\(epoch),\"test_accuracy\":0.8\(epoch),"
                + "\"seconds\":1.5,\"images_per_second\":1000.0}"
        }
        let log = Array((lines.joined(separator: "\n") + "\n").utf8)
        XCTAssertEqual(try MetricsLog.read(contentsOf: write(log, to: "valid.jsonl")).count, 3)
        try fuzz("metrics", bases: [log, Array(lines[0].utf8)], cases: 3_000, seed: 0x3E7,
                 isExpected: { $0 is DataFileError }) { file, _ in
            _ = try MetricsLog.read(contentsOf: file)
        }
    }

    /// Specs from the grammar's parts with hostile numbers (and some word soup), built into networks within the budget.
    func testRandomSpecsNeverCrash() throws {
        let numbers = ["1", "2", "3", "5", "10", "20", "100", "0", "-1", "1048576", "1048577", "65536", "4096", "4097",
                       "9223372036854775807", "99999999999999999999", "x", ""]
        let sizes = ["1", "2", "3", "5x5", "3x1", "1x9", "4096x4096", "4097x1", "0x5", "2x", "x2", "9223372036854775807x1"]
        let extras = ["", "", "relu", "tanh", "sigmoid", "linear", "dropout 0.5", "dropout 1", "dropout nan", "dropout -0.1", "relu dropout 0.2", "bogus"]
        var random = RandomSource(seed: 0x5BEC)
        func pick(_ words: [String]) -> String { words[Int(random.next() % UInt64(words.count))] }
        func part() -> String {
            switch random.next() % 5 {
            case 0: return "conv \(pick(numbers)) \(pick(sizes)) \(pick(extras))"
            case 1: return "pool \(pick(sizes))"
            case 2: return "fc \(pick(numbers)) \(pick(extras))"
            case 3: return "batchnorm \(pick(extras))"
            default: return "softmax \(pick(numbers)) \(pick(extras))"
            }
        }
        let started = Date()
        let before = peakResidentBytes()
        var built = 0, done = 0
        while done < 4_000, Date().timeIntervalSince(started) < secondsPerRun {
            var parts = (0..<Int(random.next() % 4)).map { _ in part() }
            parts.append(random.next() % 4 == 0 ? part() : "softmax \(pick(["10", "2", "1048576", "0", "65536"]))")
            var spec = parts.joined(separator: ", ")
            if random.next() % 5 == 0 {
                var words = spec.split(separator: " ").map(String.init)
                words.swapAt(Int(random.next() % UInt64(words.count)), Int(random.next() % UInt64(words.count)))
                spec = words.joined(separator: " ")
            }
            let image = [SampleShape(channels: 1, height: 28, width: 28), SampleShape(channels: 3, height: 9, width: 9)][done % 2]
            do {
                let layers = try NetworkSpec.layers(from: spec, input: image, miniBatchSize: 1 + done % 7, activation: .relu)
                _ = try Network(layers: layers, miniBatchSize: 1 + done % 7, threads: 1, memoryBudget: budget)
                built += 1
            } catch {
                XCTAssertTrue(error is NetworkSpecError || error is NetworkConfigurationError || error is MemoryBudgetError,
                              "'\(spec)': \(type(of: error)): \(error)")
                XCTAssertFalse("\(error)".contains("\n"), "'\(spec)': \(error)")
            }
            done += 1
        }
        XCTAssertGreaterThanOrEqual(done, 200)
        XCTAssertLessThan(peakResidentBytes() - before, growthBound)
        print("spec fuzz: \(built) of \(done) specs built; \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
    }

    /// A few command lines with hostile values, run as `cnn` would be: each ends in one line and a status, small.
    func testHostileFlagsEndInOneLine() throws {
        let data = TinyNetwork.data(count: 30, seed: 2)
        try FileManager.default.createDirectory(atPath: path("idx"), withIntermediateDirectories: true)
        for (name, bytes) in [("train-images-idx3-ubyte", try IDX.imageFileBytes([data])), ("train-labels-idx1-ubyte", try IDX.labelFileBytes([data])),
                              ("t10k-images-idx3-ubyte", try IDX.imageFileBytes([data])), ("t10k-labels-idx1-ubyte", try IDX.labelFileBytes([data]))] {
            _ = try write(bytes, to: "idx/" + name)
        }
        let train = ["train", "--data", path("idx"), "--validation-size", "10", "--epochs", "1", "--plain", "--memory-limit", "256M"]
        let cases: [[String]] = [
            train + ["--mini-batch-size", "9223372036854775807"],
            train + ["--mini-batch-size", "-5"],
            train + ["--layers", "softmax 1048576"],
            train + ["--layers", "fc 65536, fc 65536, softmax 10"],
            train + ["--layers", "conv 1048576 1x1, softmax 10"],
            train + ["--layers", "fc 1048576, softmax 10"],
            train + ["--mini-batch-size", "5000"],
            train + ["--threads", "100000"],
            train + ["--epochs", "16777217", "--save", path("m.ckpt")],
            train + ["--memory-limit", "12Q"],
            ["eval", "--model", "/dev/zero", "--data", path("idx"), "--validation-size", "10"],
            ["bench-kernels", "--batch", "100000000"],
            ["bench-kernels", "--batch", "100000", "--memory-limit", "64M"],
        ]
        let childBound = 400 << 20
        let started = Date()
        for arguments in cases {
            // Each child writes its own peak resident size as it exits (cnn's PeakMemoryReport):
            // RUSAGE_CHILDREN would be the largest child this test process ever ran.
            let peakFile = path("peak-\(UUID().uuidString)")
            let result = try CNNProcess(arguments, in: folder, environment: ["SWIFTNET_PEAK_MEMORY_FILE": peakFile]).finish()
            let lines = result.standardError.split(separator: "\n")
            XCTAssertNotEqual(result.status, 0, "\(arguments): \(result.standardOutput)")
            XCTAssertEqual(lines.count, 1, "\(arguments): \(result.standardError)")
            XCTAssertTrue(result.standardError.hasPrefix("cnn: error: "), "\(arguments): \(result.standardError)")
            let peak = try XCTUnwrap(Int(try String(contentsOfFile: peakFile, encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)), "\(arguments): no peak written")
            XCTAssertGreaterThan(peak, 1 << 20, "\(arguments): a plausible peak")
            XCTAssertLessThan(peak, childBound, "\(arguments): the child's peak resident size")
        }
        print("flag runs: \(cases.count) in \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
    }
}
