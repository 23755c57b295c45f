// TrainerTests.swift: the library's training run, through plain `import SwiftNet`.
//
// A Trainer saves its checkpoint and best model every epoch and appends the
// metrics log; stopped by its closure it saves where it stands, and a
// Trainer resuming that file ends with the same bytes as a run never
// stopped; its events also arrive through the AsyncStream.

import Foundation
import SwiftNet
import XCTest

final class TrainerTests: XCTestCase {
    private var folder = URL(fileURLWithPath: "/nonexistent")

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("swiftnet-trainer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    private func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    /// Three classes of 1x8x8 images: a bright row, column or diagonal, plus noise.
    private func splits() throws -> DataSplits {
        func split(_ name: String, count: Int, offset: Int) throws -> Dataset {
            var pixels = [UInt8](repeating: 0, count: count * 64)
            var labels = [Int32](repeating: 0, count: count)
            for image in 0..<count {
                let label = (image + offset) % 3
                labels[image] = Int32(label)
                for row in 0..<8 {
                    for column in 0..<8 {
                        let lit = [row == 3, column == 4, row == column][label]
                        pixels[image * 64 + row * 8 + column] = UInt8((lit ? 180 : 0) + (image * 7 + row * 3 + column) % 50)
                    }
                }
            }
            return try Dataset(name: name, channels: 1, height: 8, width: 8, pixels: pixels, labels: labels, classCount: 3,
                               classNames: ["row", "column", "diagonal"])
        }
        return try DataSplits(training: split("training", count: 40, offset: 0), validation: split("validation", count: 12, offset: 1),
                              test: split("test", count: 12, offset: 2))
    }

    private func network() throws -> Network {
        try Network(layers: [
            ConvPoolLayer(filterShape: (2, 1, 3, 3), imageShape: (5, 1, 8, 8), poolSize: (2, 2), activation: .tanh),
            FullyConnectedLayer(nIn: 18, nOut: 6, activation: .sigmoid, pDropout: 0.2),
            SoftmaxLayer(nIn: 6, nOut: 3),
        ], miniBatchSize: 5, threads: 2, seed: 4)
    }

    private let settings = TrainingHyperparameters(epochs: 3, eta: 0.5, seed: 4)

    func testATrainerSavesEveryEpochAndResumesToTheSameBytes() throws {
        let data = try splits()
        let whole = Trainer(network: try network(), data: data, settings: settings, checkpointPath: path("whole.ckpt"))
        var epochs = 0
        guard case .finished(let summary) = try whole.run(report: { if case .epochFinished = $0 { epochs += 1 } }) else {
            return XCTFail("the run did not finish")
        }
        XCTAssertEqual(epochs, 3)
        XCTAssertEqual(summary.epochs.count, 3)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("whole.best.ckpt")))
        XCTAssertEqual(try MetricsLog.read(contentsOf: path("whole.jsonl")).count, 3)

        var calls = 0
        let first = Trainer(network: try network(), data: data, settings: settings, checkpointPath: path("half.ckpt"))
        guard case .stopped(let stop, let saved) = try first.run(shouldStop: { calls += 1; return calls == 11 }) else {
            return XCTFail("the run did not stop")
        }
        XCTAssertEqual(saved, path("half.ckpt"))
        XCTAssertEqual(stop.epoch, 1, "11 mini-batches of 8 per epoch stop inside epoch 1")
        let resumed = try Trainer(resuming: path("half.ckpt"), data: data)
        XCTAssertEqual(resumed.progress, stop)
        guard case .finished = try resumed.run() else { return XCTFail("the resumed run did not finish") }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path("half.ckpt"))),
                       try Data(contentsOf: URL(fileURLWithPath: path("whole.ckpt"))))
        XCTAssertEqual(try resumed.network.probabilities(on: data.test), try whole.network.probabilities(on: data.test))
    }

    func testResumingOnOtherDataIsRefused() throws {
        let data = try splits()
        _ = try Trainer(network: try network(), data: data, settings: settings, checkpointPath: path("m.ckpt")).run()
        let other = try DataSplits(training: data.training.prefix(30), validation: data.validation, test: data.test)
        XCTAssertThrowsError(try Trainer(resuming: path("m.ckpt"), data: other)) {
            XCTAssertEqual(($0 as? CheckpointError)?.kind, .unusable, "\($0)")
        }
    }

    func testEventsArriveThroughTheAsyncStream() async throws {
        let trainer = Trainer(network: try network(), data: try splits(), settings: settings)
        // The stream is Sendable; the trainer stays on this task.
        let events = trainer.events
        let collector = Task { () -> [String] in
            var kinds: [String] = []
            for await event in events {
                switch event {
                case .epochFinished: kinds.append("epoch")
                case .finished: kinds.append("finished")
                default: break
                }
            }
            return kinds
        }
        _ = try trainer.run()
        let kinds = await collector.value
        XCTAssertEqual(kinds, ["epoch", "epoch", "epoch", "finished"])
    }

    func testAModelFileSavesAndLoadsWithoutTrainingSettings() throws {
        let data = try splits()
        let trainer = Trainer(network: try network(), data: data, settings: settings, checkpointPath: path("run.ckpt"))
        _ = try trainer.run()
        try trainer.network.saveModel(to: path("m.model"))
        let model = try Checkpoint.load(contentsOf: path("m.model"))
        XCTAssertTrue(model.isModel)
        XCTAssertFalse(try Checkpoint.load(contentsOf: path("run.ckpt")).isModel, "a training checkpoint keeps its run")
        let loaded = try Network.loadModel(contentsOf: path("m.model"), threads: 1)
        XCTAssertEqual(try loaded.probabilities(on: data.test), try trainer.network.probabilities(on: data.test))
        XCTAssertEqual(loaded.parameterValues, trainer.network.parameterValues)
        XCTAssertThrowsError(try Trainer(resuming: path("m.model"), data: data)) {
            XCTAssertEqual(($0 as? CheckpointError)?.kind, .unusable, "\($0)")
        }
    }
}
