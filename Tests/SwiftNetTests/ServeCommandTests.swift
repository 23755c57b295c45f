// ServeCommandTests.swift: `cnn serve` and `cnn train --serve` as processes.
//
// - A 2-epoch `cnn train --serve --port 0` run: a client that connects to
//   /v1/events once the URL is printed gets one epoch frame per epoch, the
//   first while the run is still training, then "finished"; and stdout is
//   the same seed lines as the same run without --serve.
// - `cnn serve` answers, then SIGINT and SIGTERM each shut it down with
//   status 0 within seconds.
// - A port already in use, and --port without --serve, are one line each.

import Foundation
import SwiftNet
import XCTest

final class ServeCommandTests: CheckpointTestCase {
    /// Waits until `text` appears in what `read` returns, failing after `timeout` seconds.
    private func wait(for pattern: String, in read: () -> String, timeout: Double = 60) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let text = read()
            if let range = text.range(of: pattern, options: .regularExpression) { return String(text[range]) }
            usleep(20_000)
        }
        throw LoopbackError(description: "'\(pattern)' did not appear within \(timeout) s: \(read())")
    }

    private func port(in url: String) throws -> Int {
        try XCTUnwrap(Int(url.split(separator: ":").last?.filter(\.isNumber) ?? ""), url)
    }

    func testTrainServeStreamsEachEpochLiveAndKeepsTheSeedLines() throws {
        let mnist = try RealMNISTFile.path()
        let arguments = ["train", "--data", mnist, "--epochs", "2", "--plain", "--threads", "1"]
        let run = try CNNProcess(arguments + ["--serve", "--port", "0"], in: folder)
        let url = try wait(for: "http://127.0.0.1:[0-9]+/", in: { run.errorSoFar })
        let connection = try LoopbackConnection(port: try port(in: url))
        try connection.send(LoopbackClient.head("GET", "/v1/events", headers: ["Accept": "text/event-stream"], contentLength: nil))
        var received: [UInt8] = [], firstEpochWhileTraining: Bool?
        while true {
            let chunk = try connection.receive()
            if chunk.isEmpty { break }
            received += chunk
            if firstEpochWhileTraining == nil, String(decoding: received, as: UTF8.self).contains("event: epoch") {
                firstEpochWhileTraining = run.process.isRunning
            }
        }
        let result = run.finish()
        XCTAssertEqual(result.status, 0, result.standardError)
        let answer = try LoopbackClient.parse(received)
        XCTAssertEqual(answer.status, 200)
        XCTAssertEqual(answer.headers["content-type"], "text/event-stream")
        let events = answer.text.components(separatedBy: "\n").filter { $0.hasPrefix("event: ") }
        XCTAssertEqual(events.filter { $0 == "event: epoch" }.count, 2, answer.text)
        XCTAssertEqual(events.first, "event: run")
        XCTAssertEqual(events.last, "event: finished")
        XCTAssertTrue(answer.text.contains(#""epoch":1"#), answer.text)
        XCTAssertEqual(firstEpochWhileTraining, true, "the first epoch's frame must arrive while the run trains")

        let plain = try runCNN(arguments, in: folder)
        XCTAssertEqual(plain.status, 0, plain.standardError)
        XCTAssertEqual(accuracyLines(result.standardOutput), accuracyLines(plain.standardOutput),
                       "--serve must not change the seed's lines on stdout")
    }

    func testServeAnswersThenStopsCleanlyOnSIGINTAndSIGTERM() throws {
        let model = try ServedModel.shared().checkpointPath
        for signal in [SIGINT, SIGTERM] {
            let serve = try CNNProcess(["serve", "--model", model, "--port", "0"], in: folder)
            let url = try wait(for: "http://127.0.0.1:[0-9]+/", in: { serve.outputSoFar })
            XCTAssertTrue(serve.outputSoFar.hasPrefix("Serving digits at \(url)"), serve.outputSoFar)
            let health = try LoopbackClient.request(port: try port(in: url), "GET", "/healthz")
            XCTAssertEqual(health.status, 200)
            serve.signal(signal)
            let result = serve.finish(timeout: 10)
            XCTAssertEqual(result.status, 0, "signal \(signal): \(result.standardError)")
            XCTAssertFalse(result.killedBySignal)
        }
    }

    func testAPortInUseAndServerFlagsWithoutServeAreOneLine() throws {
        let model = try ServedModel.shared().checkpointPath
        let first = try CNNProcess(["serve", "--model", model, "--port", "0"], in: folder)
        defer { first.signal(SIGTERM); _ = first.finish(timeout: 10) }
        let url = try wait(for: "http://127.0.0.1:[0-9]+/", in: { first.outputSoFar })
        let second = try runCNN(["serve", "--model", model, "--port", String(try port(in: url))], in: folder)
        XCTAssertEqual(second.status, 1)
        XCTAssertTrue(second.standardError.hasPrefix("cnn: error: cannot listen on 127.0.0.1:\(try port(in: url)):"), second.standardError)
        XCTAssertEqual(second.standardError.split(separator: "\n").count, 1, second.standardError)

        let flags = try runCNN(["train", "--port", "9000", "--epochs", "1"], in: folder)
        XCTAssertEqual(flags.status, 64)
        XCTAssertTrue(flags.standardError.contains("give --serve too"), flags.standardError)

        let notAModel = try runCNN(["serve", "--model", path("missing.ckpt")], in: folder)
        XCTAssertEqual(notAModel.status, 1)
        XCTAssertTrue(notAModel.standardError.hasPrefix("cnn: error: \(path("missing.ckpt"))"), notAModel.standardError)
    }
}
