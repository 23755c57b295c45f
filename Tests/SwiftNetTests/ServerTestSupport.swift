// ServerTestSupport.swift: a trained digit model, and a server on it, for the server tests.
//
// The model is a one-conv network trained for one epoch on 10,000 real
// MNIST images (right most of the time, not always, so agreement between
// two paths means something), trained once per test process and saved in
// a folder of its own.  `withModelServer` runs `cnn serve`'s ModelServer in
// process on a free port and cancels it when the body returns; `blocking`
// runs the tests' socket client on a thread of its own, off Swift's
// cooperative pool, which the server needs for itself.

import Foundation
@testable import SwiftNet
@testable import SwiftNetImages
@testable import SwiftNetServer
import XCTest

/// A digit model trained once per test process, and MNIST's first test digits.
struct ServedModel: @unchecked Sendable {
    // @unchecked: built once, then only read.
    let checkpointPath: String
    let testDigits: Dataset

    nonisolated(unsafe) private static var cached: ServedModel?
    private static let lock = NSLock()

    static func shared() throws -> ServedModel {
        try lock.withLock {
            if let cached { return cached }
            let mnist = try MNIST.load(contentsOf: try RealMNISTFile.path())
            let network = try Network(layers: seedOneConvLayers(batch: 10, dropout: 0), miniBatchSize: 10, threads: 1, seed: 0)
            _ = try network.train(trainingData: mnist.training.prefix(10000), validationData: mnist.validation.prefix(100),
                                  testData: nil, epochs: 1, eta: 0.5)
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("swiftnet-served-model-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let path = folder.appendingPathComponent("digits.ckpt").path
            try Checkpoint(network: network, hyperparameters: TrainingHyperparameters(epochs: 1, eta: 0.5, lmbda: 0, seed: 0),
                           progress: TrainingProgress(), trainingData: nil).write(to: path)
            let model = ServedModel(checkpointPath: path, testDigits: mnist.test.prefix(200))
            cached = model
            return model
        }
    }

    /// Test digit `index` as 784 bytes.
    func digit(_ index: Int) -> [UInt8] { Array(testDigits.pixels[(index * 784)..<((index + 1) * 784)]) }

    /// Test digit `index` as PNG bytes.
    func digitPNG(_ index: Int) throws -> [UInt8] {
        PNG.encode(try Bitmap(width: 28, height: 28, channels: 1, samples: digit(index)))
    }
}

/// Runs `body` with the port of a ModelServer serving `service`, stopping the server after it.
func withModelServer<Result>(_ service: PredictionService, settings: ServerSettings = ServerSettings(),
                             _ body: (Int) async throws -> Result) async throws -> Result {
    var settings = settings
    settings.port = 0
    let (ports, continuation) = AsyncStream<Int>.makeStream()
    let server = Task {
        defer { continuation.finish() }
        try await ModelServer.run(service, settings: settings, stopOnSignals: false) { port in continuation.yield(port) }
    }
    defer { server.cancel() }
    var iterator = ports.makeAsyncIterator()
    guard let port = await iterator.next() else {
        _ = try await server.value
        throw LoopbackError(description: "the server ended before it listened")
    }
    return try await body(port)
}

/// Runs blocking `work` on a thread of its own and returns its result.
func blocking<Result: Sendable>(_ work: @escaping @Sendable () throws -> Result) async throws -> Result {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Swift.Result(catching: work)) }.start()
    }
}

/// A POST of `body` as `contentType` to /v1/predict, from a thread of its own.
func postPredict(port: Int, _ body: [UInt8], contentType: String) async throws -> HTTPAnswer {
    try await blocking {
        try LoopbackClient.request(port: port, "POST", "/v1/predict", headers: ["Content-Type": contentType], body: body)
    }
}

/// The answer JSON of a successful prediction.
func decodedAnswer(_ answer: HTTPAnswer, file: StaticString = #filePath, line: UInt = #line) throws -> PredictionAnswer {
    XCTAssertEqual(answer.status, 200, answer.text, file: file, line: line)
    return try JSONDecoder().decode(PredictionAnswer.self, from: Data(answer.body))
}
