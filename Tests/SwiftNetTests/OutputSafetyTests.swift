// OutputSafetyTests.swift: the library's side of "hostile and careless input
// cannot take a run down" (issue 17, findings 5 and 7 to 11).
//
// Each test reproduces a failure of the version before it: two names of one
// file taken for two files, a checkpoint and its metrics log in one file, two
// runs writing one path, temporary files of dead runs, a metrics line cut
// short by a crash, a chart of huge costs that trapped, an export that
// dropped layers, and a FIFO read that waited forever.  The command line's
// side, run as child processes, is OutputCommandTests.

import Foundation
@testable import SwiftNet
@testable import SwiftNetImages
import XCTest

final class OutputSafetyTests: CheckpointTestCase {
    private let line0 = "{\"epoch\":0,\"training_cost\":0.5,\"validation_accuracy\":0.9,\"test_accuracy\":0.9,\"seconds\":1,\"images_per_second\":9}"
    private let line1 = "{\"epoch\":1,\"training_cost\":0.4,\"validation_accuracy\":0.91,\"test_accuracy\":null,\"seconds\":1,\"images_per_second\":9}"

    func testNamesOfOneFileAreTheSameFile() throws {
        let file = try write([1, 2, 3], to: "a.ckpt")
        try FileManager.default.createSymbolicLink(atPath: path("link.ckpt"), withDestinationPath: file)
        try FileManager.default.linkItem(atPath: file, toPath: path("hard.ckpt"))
        try FileManager.default.createSymbolicLink(atPath: path("folder-link"), withDestinationPath: folder.path)
        for other in [file, folder.path + "/./a.ckpt", path("link.ckpt"), path("hard.ckpt"), path("folder-link/a.ckpt")] {
            XCTAssertTrue(FileIdentity.same(file, other), other)
        }
        // Files that do not exist yet are the same when their resolved paths are.
        XCTAssertTrue(FileIdentity.same(path("new.png"), path("folder-link/new.png")))
        XCTAssertFalse(FileIdentity.same(file, path("b.ckpt")))
        XCTAssertFalse(FileIdentity.same(path("new.png"), path("new.png.tmp")))
    }

    func testATrainerRefusesACheckpointThatIsItsMetricsLog() throws {
        let data = TinyNetwork.data(count: 20, seed: 1)
        let splits = try DataSplits(training: data, validation: data, test: data)
        let file = path("m.ckpt")
        let trainer = Trainer(network: try TinyNetwork.network(), data: splits, settings: TrainingHyperparameters(epochs: 1, eta: 0.5),
                              checkpointPath: file, metricsPath: file)
        XCTAssertThrowsError(try trainer.run()) { error in
            XCTAssertEqual(error as? FileError, .sameFile(path: file, role: "the checkpoint", otherRole: "the metrics log"))
            XCTAssertEqual("\(error)", "\(file): is both the checkpoint and the metrics log; give each a file of its own")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: file), "nothing was written")
        // A --save that ends in .jsonl would have its log beside it under its own name.
        let log = Trainer(network: try TinyNetwork.network(), data: splits, settings: TrainingHyperparameters(epochs: 1, eta: 0.5),
                          checkpointPath: path("m.jsonl"))
        XCTAssertThrowsError(try log.run()) { error in
            guard case .sameFile? = error as? FileError else { return XCTFail("\(error)") }
        }
    }

    func testASecondLockOnOnePathIsRefusedNamingItsHolder() throws {
        let file = path("m.ckpt")
        var first: RunLock? = try RunLock(guarding: file)
        XCTAssertEqual(try String(contentsOfFile: file + ".lock", encoding: .utf8), "\(getpid())\n")
        for attempt in [{ _ = try RunLock(guarding: file) }, { try RunLock.checkFree(guarding: file) }] {
            XCTAssertThrowsError(try attempt()) { error in
                XCTAssertEqual(error as? FileError, .inUse(path: file, lock: file + ".lock", holder: getpid()))
                XCTAssertEqual("\(error)", "\(file): in use by another run (process \(getpid())), which holds \(file).lock")
            }
        }
        withExtendedLifetime(first) {}
        first = nil
        XCTAssertNoThrow(try RunLock.checkFree(guarding: file))
        XCTAssertNoThrow(try RunLock(guarding: file), "a released lock is free again, its file left in place")
    }

    func testTemporaryFilesArePerProcessAndStaleOnesAreRemoved() throws {
        let file = path("m.ckpt")
        XCTAssertEqual(AtomicFile.temporaryPath(for: file), "\(file).tmp.\(getpid())")
        // No process has the largest pid; the old, unnumbered name is always stale.
        let stale = ["m.ckpt.tmp", "m.ckpt.tmp.\(Int32.max)"], kept = ["m.ckpt.tmp.\(getpid())", "m.ckpt.tmpx", "m.ckpt.tmp.1x"]
        for name in stale + kept { _ = try write([0], to: name) }
        AtomicFile.removeStaleTemporaries(of: file)
        let left = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasPrefix("m.ckpt") }
        XCTAssertEqual(Set(left), Set(kept))
    }

    func testAFragmentOfACutLineIsDroppedWhenTheLogIsRead() throws {
        let cut = String(line1.prefix(23))
        let cases: [(String, epochs: [Int], [MetricsLogFragment])] = [
            (line0 + "\n" + cut, [0], [MetricsLogFragment(line: 2, bytes: 23)]),
            (line0 + "\n{\"ep", [0], [MetricsLogFragment(line: 2, bytes: 4)]),
            // An older resumed run glued its first line onto the fragment.
            (line0 + "\n" + cut + line1 + "\n", [0, 1], [MetricsLogFragment(line: 2, bytes: 23)]),
            (line0 + "\n" + line1, [0, 1], []),  // whole, only its newline missing
        ]
        for (index, (text, epochs, fragments)) in cases.enumerated() {
            let file = try write(Array(text.utf8), to: "log\(index).jsonl")
            let contents = try MetricsLog.load(contentsOf: file)
            XCTAssertEqual(contents.epochs.map(\.epoch), epochs, text)
            XCTAssertEqual(contents.droppedFragments, fragments, text)
        }
        XCTAssertEqual("\(MetricsLogFragment(line: 2, bytes: 23))",
                       "line 2: dropped a 23-byte fragment of a line cut short by an interrupted write")
        // What a cut cannot leave is still refused: a bad line with its newline, and a last line that is not a line's start.
        for text in [line0 + "\n" + cut + "\n", line0 + "\nnot json"] {
            let file = try write(Array(text.utf8), to: "bad.jsonl")
            XCTAssertThrowsError(try MetricsLog.load(contentsOf: file), text) { error in
                XCTAssertTrue("\(error)".contains("line 2: is not a JSON object"), "\(error)")
            }
        }
    }

    func testARunContinuingALogFirstDropsTheFragmentACrashLeft() throws {
        let file = try write(Array((line0 + "\n" + line1.prefix(30)).utf8), to: "run.jsonl")
        XCTAssertEqual(try MetricsLog.repairTail(ofLogAt: file), MetricsLogFragment(line: 2, bytes: 30))
        XCTAssertEqual(try String(contentsOfFile: file, encoding: .utf8), line0 + "\n")
        XCTAssertNil(try MetricsLog.repairTail(ofLogAt: file), "a whole log is left alone")
        let whole = try write(Array((line0 + "\n" + line1).utf8), to: "whole.jsonl")
        XCTAssertNil(try MetricsLog.repairTail(ofLogAt: whole))
        XCTAssertEqual(try String(contentsOfFile: whole, encoding: .utf8), line0 + "\n" + line1 + "\n", "a whole last line gets its newline")

        // A Trainer does it before its first line, and says so as an event.
        try Data((line0 + "\n{\"epoch\":1,\"tr").utf8).write(to: URL(fileURLWithPath: file))
        let data = TinyNetwork.data(count: 20, seed: 1)
        let trainer = Trainer(network: try TinyNetwork.network(), data: try DataSplits(training: data, validation: data, test: data),
                              settings: TrainingHyperparameters(epochs: 1, eta: 0.5), metricsPath: file)
        var warnings: [String] = []
        _ = try trainer.run { event in if case .warning(let text) = event { warnings.append(text) } }
        XCTAssertEqual(warnings, ["\(file): line 2: dropped a 14-byte fragment of a line cut short by an interrupted write"])
        let lines = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(lines.count, 3, "two whole lines and the empty string after the last newline")
        for line in lines.dropLast() { XCTAssertNotNil(try? JSONSerialization.jsonObject(with: Data(line.utf8)), String(line)) }
    }

    func testAxesOfHugeValuesStayFiniteAndTheirChartDraws() throws {
        for values in [[1e308, -1e308], [Double.greatestFiniteMagnitude, 0], [-1e308, -1e308], [1e307, 1e308]] {
            let axis = ChartAxis(covering: values, ticks: 6)
            XCTAssertTrue(axis.lower.isFinite && axis.upper.isFinite && axis.step.isFinite && axis.step > 0, "\(values): \(axis)")
            XCTAssertLessThan(axis.ticks.count, 20, "\(values)")
            XCTAssertTrue(axis.ticks.allSatisfy { axis.label($0).count <= 10 }, "\(axis.ticks.map(axis.label))")
        }
        XCTAssertEqual(ChartAxis(covering: [0.25, 0.5], ticks: 6).label(0.3), "0.30", "ordinary labels keep their decimals")
        let epochs = [1e308, -1e308, 0.5].enumerated().map { index, cost in
            EpochMetrics(epoch: index, trainingCost: cost, validationAccuracy: 0.5, testAccuracy: nil, seconds: 1, imagesPerSecond: 1)
        }
        let chart = TrainingCurves.draw([TrainingRun(name: "huge", epochs: epochs)])
        XCTAssertGreaterThan(chart.width, 0)
    }

    func testExportRefusesLayersNetwork3CannotHold() throws {
        let input = SampleShape(channels: 1, height: 28, width: 28)
        // Before, each of these wrote a file without the refused layer's parameters.
        for (spec, refused) in [("conv 4 5x5, fc 10, softmax 10", "ConvLayer"),
                                ("conv 4 5x5, pool 2, pool 2, fc 10, softmax 10", "MaxPoolLayer"),
                                ("conv 4 5x5, batchnorm relu, pool 2, softmax 10", "ConvLayer"),
                                ("fc 30 linear, batchnorm relu, softmax 10", "BatchNorm")] {
            let network = try Network(layers: try NetworkSpec.layers(from: spec, input: input, miniBatchSize: 2), miniBatchSize: 2)
            let out = path("params.pkl")
            XCTAssertThrowsError(try Network3ParameterFile.write(network, to: out), spec) { error in
                guard case .badLayer(let summary, let reason)? = error as? NetworkConfigurationError else { return XCTFail("\(error)") }
                XCTAssertTrue(summary.hasPrefix(refused), "\(spec): \(summary)")
                XCTAssertEqual(reason, "it has no network3 counterpart")
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), "\(spec): nothing written")
            try? FileManager.default.removeItem(atPath: out)
        }
    }

    func testSpecialFilesAreRefusedByTypeBeforeTheyAreOpened() throws {
        let fifo = path("data.fifo")
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        // Before, open(2) waited for a writer forever.
        for read in [{ _ = try BoundedFile.read(fifo, limit: 100, expected: "a checkpoint") },
                     { try BoundedFile.checkReadable(fifo, limit: 100, expected: "a data file") }] {
            XCTAssertThrowsError(try read()) { error in
                guard case .notPlainFile(fifo, "a named pipe (FIFO)", _)? = error as? FileError else { return XCTFail("\(error)") }
            }
        }
        XCTAssertThrowsError(try Checkpoint.load(contentsOf: fifo)) { error in
            XCTAssertEqual("\(error)", "\(fifo): is a named pipe (FIFO), not a checkpoint")
        }
        XCTAssertThrowsError(try MNIST.load(contentsOf: fifo)) { error in
            XCTAssertEqual("\(error)", "\(fifo): is a named pipe (FIFO), not a data file")
        }
        XCTAssertThrowsError(try MetricsLog.read(contentsOf: "/dev/zero")) { error in
            XCTAssertEqual("\(error)", "/dev/zero: is a character device, not a metrics log")
        }
    }
}
