// CheckpointTestSupport.swift: small networks, data and processes for the checkpoint tests.
//
// The checkpoint tests need networks that train in milliseconds, so most use
// a tiny architecture of every layer kind (an 8x8 conv-pool layer, a dense
// layer and a softmax layer, both with dropout, so the random state matters),
// on synthetic data whose classes are learnable.  The tests of the `cnn`
// tool run the built executable as a child process, which is the only way
// to kill a process at a chosen moment and look at what it left behind.

import Foundation
@testable import SwiftNet
import XCTest

enum TinyNetwork {
    /// conv 2 filters 3x3 on 1x8x8 -> pool 2x2 -> 2x3x3; dense 18 -> 6; softmax 6 -> 3.
    static func layers(batch: Int, dropout: Float = 0.25) -> [any Layer] {
        [
            ConvPoolLayer(filterShape: (2, 1, 3, 3), imageShape: (batch, 1, 8, 8), poolSize: (2, 2), activation: .sigmoid),
            FullyConnectedLayer(nIn: 18, nOut: 6, activation: .tanh, pDropout: dropout),
            SoftmaxLayer(nIn: 6, nOut: 3, pDropout: 0.1),
        ]
    }

    static func network(batch: Int = 5, threads: Int = 1, seed: UInt64 = 11) throws -> Network {
        try Network(layers: layers(batch: batch), miniBatchSize: batch, evaluationBatchSize: 7, threads: threads, seed: seed)
    }

    /// Images of three classes (side x side, 8 by default): a bright row, column or diagonal, plus noise.
    static func data(count: Int, seed: UInt64, name: String = "synthetic", side: Int = 8) -> Dataset {
        var random = RandomSource(seed: seed)
        var pixels = [UInt8](repeating: 0, count: count * side * side)
        var labels = [Int32](repeating: 0, count: count)
        for image in 0..<count {
            let label = Int(random.next() % 3)
            labels[image] = Int32(label)
            for row in 0..<side {
                for column in 0..<side {
                    let lit = [row == side / 2 - 1, column == side / 2, row == column][label]
                    pixels[(image * side + row) * side + column] = UInt8((lit ? 180 : 0) + Int(random.next() % 60))
                }
            }
        }
        return Dataset.valid(name: name, channels: 1, height: side, width: side, pixels: pixels, labels: labels, classCount: 3)
    }
}

/// A temporary folder for one test, removed afterwards.
class CheckpointTestCase: XCTestCase {
    private(set) var folder = URL(fileURLWithPath: "/nonexistent")

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("swiftnet-checkpoint-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    /// Writes a 300/60/60-image pickle in MNIST's format, with a learnable
    /// stripe per digit, into the test's folder; returns its path.
    func smallMNISTPickle() throws -> String {
        var pickle = SmallMNISTPickle()
        pickle.counts = [300, 60, 60]
        pickle.pixels = { split, image, index in
            let label = (split + image) % 10
            return index / 28 == 3 + 2 * label ? 0.75 : Float((index * 7 + image) % 32) / 256
        }
        return try write(pickle.bytes, to: "small-mnist.pkl")
    }

    func write(_ bytes: [UInt8], to name: String) throws -> String {
        let file = path(name)
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        return file
    }

    func contents(of file: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
    }

    /// The error loading `bytes` gives; fails unless it is a one-line CheckpointError naming the file.
    @discardableResult
    func loadError(_ bytes: [UInt8], name: String = "damaged.ckpt", file: StaticString = #filePath,
                   line: UInt = #line) throws -> CheckpointError? {
        let checkpointPath = try write(bytes, to: name)
        do {
            _ = try Checkpoint.load(contentsOf: checkpointPath)
            XCTFail("loaded \(bytes.count) bytes that should have been refused", file: file, line: line)
            return nil
        } catch let error as CheckpointError {
            XCTAssertEqual(error.path, checkpointPath, file: file, line: line)
            XCTAssertTrue(error.description.hasPrefix(checkpointPath + ": "), error.description, file: file, line: line)
            XCTAssertFalse(error.description.contains("\n"), error.description, file: file, line: line)
            return error
        }
    }

    /// A trained tiny network's checkpoint, stopped in the middle of its second epoch.
    func tinyCheckpoint(threads: Int = 1) throws -> (Checkpoint, Network) {
        let network = try TinyNetwork.network(threads: threads)
        let data = TinyNetwork.data(count: 40, seed: 3)
        var calls = 0
        let outcome = try network.train(trainingData: data, validationData: data, testData: data, epochs: 3, eta: 0.5,
                                        shouldStop: { calls += 1; return calls == 12 })
        guard case .stopped(let progress) = outcome else {
            XCTFail("the run did not stop when asked")
            throw CheckpointTestFailure()
        }
        let hyperparameters = TrainingHyperparameters(epochs: 3, eta: 0.5, lmbda: 0, seed: 11)
        return (try Checkpoint(network: network, hyperparameters: hyperparameters, progress: progress,
                               trainingData: DataFingerprint(data)), network)
    }
}

/// Thrown after an XCTFail when a test cannot go on.
struct CheckpointTestFailure: Error {}

/// The seed's one-conv network as `cnn train` builds it.
func seedOneConvLayers(batch: Int, dropout: Float = 0.3) -> [any Layer] {
    [
        ConvPoolLayer(filterShape: (20, 1, 5, 5), imageShape: (batch, 1, 28, 28), poolSize: (2, 2), activation: .sigmoid),
        FullyConnectedLayer(nIn: 20 * 12 * 12, nOut: 100, activation: .sigmoid, pDropout: dropout),
        SoftmaxLayer(nIn: 100, nOut: 10),
    ]
}

/// Every prediction a network makes on `data`, in order.
func predictions(of network: Network, on data: Dataset) throws -> [Int32] {
    var predicted: [Int32] = []
    try network.forEachPrediction(on: data) { _, prediction, _ in predicted.append(prediction) }
    return predicted
}

/// Rewrites the CRC-32 of a checkpoint's header and of every section it can
/// walk, so that a deliberate change reaches the checks behind the CRCs.
func repairCRCs(_ bytes: [UInt8]) -> [UInt8] {
    var fixed = bytes
    guard fixed.count >= 20 else { return fixed }
    func put(_ value: UInt32, at offset: Int) {
        for index in 0..<4 { fixed[offset + index] = UInt8(truncatingIfNeeded: value >> UInt32(8 * index)) }
    }
    func get(_ offset: Int) -> Int {
        (0..<4).reduce(0) { $0 | Int(fixed[offset + $1]) << (8 * $1) }
    }
    put(crc32(Array(fixed[0..<16])), at: 16)
    var position = 20
    while fixed.count - position >= 12 {
        let length = get(position + 4)
        guard fixed.count - position - 12 >= length else { break }
        put(crc32(Array(fixed[(position + 12)..<(position + 12 + length)])), at: position + 8)
        position += 12 + length
    }
    return fixed
}

// MARK: - Child processes

/// What a finished child process left.
struct ProcessResult {
    let status: Int32
    /// True when a signal ended it; `status` is then the signal.
    let killedBySignal: Bool
    let standardOutput: String
    let standardError: String
}

/// The `cnn` executable built beside this test bundle (SWIFTNET_CNN overrides).
func cnnExecutable() throws -> URL {
    if let path = ProcessInfo.processInfo.environment["SWIFTNET_CNN"] { return URL(fileURLWithPath: path) }
    let bundleFolder = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    for folder in [bundleFolder, Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent()] {
        let candidate = folder.appendingPathComponent("cnn")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
    }
    XCTFail("no cnn executable beside the tests in \(bundleFolder.path); build it with `swift build` first")
    throw XCTSkip("cnn is not built")
}

/// A running `cnn` whose output goes to files, so that it never blocks on a full pipe.
final class CNNProcess {
    let process = Process()
    private let outputFile: URL
    private let errorFile: URL

    /// - Parameter executable: what to run instead of `cnn` (mpirun, for the MPI tests).
    init(_ arguments: [String], in folder: URL, environment: [String: String] = [:], executable: URL? = nil) throws {
        let id = UUID().uuidString
        outputFile = folder.appendingPathComponent("stdout-\(id)")
        errorFile = folder.appendingPathComponent("stderr-\(id)")
        _ = FileManager.default.createFile(atPath: outputFile.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
        process.executableURL = try executable ?? cnnExecutable()
        process.arguments = arguments
        process.currentDirectoryURL = folder
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = try FileHandle(forWritingTo: outputFile)
        process.standardError = try FileHandle(forWritingTo: errorFile)
        try process.run()
    }

    /// The standard error written so far.
    var errorSoFar: String { (try? String(contentsOf: errorFile, encoding: .utf8)) ?? "" }

    /// The standard output written so far.
    var outputSoFar: String { (try? String(contentsOf: outputFile, encoding: .utf8)) ?? "" }

    func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// Waits for the process to end (killing it after `timeout` seconds, which fails the test).
    func finish(timeout: Double = 120, file: StaticString = #filePath, line: UInt = #line) -> ProcessResult {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning, Date() < deadline { usleep(5_000) }
        if process.isRunning {
            XCTFail("cnn \(process.arguments ?? []) did not end within \(timeout) s", file: file, line: line)
            signal(SIGKILL)
            process.waitUntilExit()
        }
        process.waitUntilExit()
        return ProcessResult(status: process.terminationStatus,
                             killedBySignal: process.terminationReason == .uncaughtSignal,
                             standardOutput: (try? String(contentsOf: outputFile, encoding: .utf8)) ?? "",
                             standardError: errorSoFar)
    }

    /// Polls until `condition` holds; false after `timeout` seconds or if the process ended first.
    func wait(upTo timeout: Double, for condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            if !process.isRunning { return condition() }
            usleep(2_000)
        }
        return false
    }
}

/// Runs `cnn` to the end.
func runCNN(_ arguments: [String], in folder: URL, file: StaticString = #filePath, line: UInt = #line) throws -> ProcessResult {
    try CNNProcess(arguments, in: folder).finish(file: file, line: line)
}

/// The lines of a run's standard output that two runs of the same seed share (all but timing).
func accuracyLines(_ output: String) -> [String] {
    output.split(separator: "\n").map(String.init).filter { !TrainingEvent.isTimingLine($0) }
}
