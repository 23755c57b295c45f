// ServerAPITests.swift: `cnn serve`'s JSON API over loopback, against `cnn predict`.
//
// The server runs in process on a free port (ServerTestSupport); the
// requests are real HTTP on real sockets.  Its answers on 200 test digits
// sent as PNG must be `cnn predict`'s (the child process, on the same
// files), and JSON pixels of the same digits must be answered exactly as
// the PNG.  Every refusal (bad JSON, an empty or oversize body, a hostile
// or truncated PNG, a wrong Content-Type, an unknown route, a stalled body)
// must be its own 4xx with one JSON error, and 32 clients at once must each
// get their own right answer.

import CKernels
import Foundation
@testable import SwiftNet
@testable import SwiftNetImages
@testable import SwiftNetServer
import XCTest

final class ServerAPITests: CheckpointTestCase {
    func testAnswersEqualCNNPredictOn200TestDigitsAndJSONPixelsEqualThePNG() async throws {
        let model = try ServedModel.shared()
        let count = model.testDigits.count
        XCTAssertEqual(count, 200)
        var files: [String] = []
        for index in 0..<count {
            let file = path("digit\(index).png")
            try Data(try model.digitPNG(index)).write(to: URL(fileURLWithPath: file))
            files.append(file)
        }
        let predicted = try runCNN(["predict", "--model", model.checkpointPath] + files, in: folder)
        XCTAssertEqual(predicted.status, 0, predicted.standardError)
        let lines = predicted.standardOutput.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, count)

        let service = try PredictionService(modelPath: model.checkpointPath, poolSize: 2)
        try await withModelServer(service) { port in
            var correct = 0
            for index in 0..<count {
                let png = try decodedAnswer(try await postPredict(port: port, try model.digitPNG(index), contentType: "image/png"))
                // "path: 7 (98.9%), 2 (0.6%), 1 (0.2%)": cnn predict's three likeliest, rounded to 0.1%.
                let printed = lines[index].dropFirst(files[index].count + 2).components(separatedBy: ", ")
                XCTAssertEqual(printed.count, 3, lines[index])
                for (rank, entry) in printed.enumerated() {
                    let parts = entry.split(separator: " ")
                    let percent = try XCTUnwrap(Double(parts[1].dropFirst().dropLast(2)), entry)
                    XCTAssertEqual(png.predictions[rank].name, String(parts[0]), "digit \(index): \(lines[index])")
                    XCTAssertEqual(png.predictions[rank].probability * 100, percent, accuracy: 0.05 + 1e-3, "digit \(index)")
                }
                if png.predictions[0].label == Int(model.testDigits.labels[index]) { correct += 1 }
                XCTAssertEqual(png.view.pixels, model.digit(index), "a test digit is in MNIST's form and is kept as it is")
                XCTAssertEqual(png.model, "digits")

                let json = try JSONEncoder().encode(["pixels": model.digit(index).map(Int.init)] as [String: [Int]])
                var body = try XCTUnwrap(JSONSerialization.jsonObject(with: json) as? [String: Any])
                body["width"] = 28
                body["height"] = 28
                let pixels = try decodedAnswer(try await postPredict(port: port, Array(try JSONSerialization.data(withJSONObject: body)),
                                                                     contentType: "application/json; charset=utf-8"))
                XCTAssertEqual(pixels, png, "JSON pixels and a PNG of the same digit must get the same answer")
            }
            XCTAssertGreaterThanOrEqual(correct, 170, "a network trained on 10000 images should read most test digits")
        }
    }

    func testEachRefusalIsItsOwnStatusWithOneJSONError() async throws {
        let model = try ServedModel.shared()
        let service = try PredictionService(modelPath: model.checkpointPath, poolSize: 1)
        let png = try model.digitPNG(0)
        // A PNG whose header claims 60000 x 60000 pixels (a decompression bomb's first bytes), and
        // one of 5000 x 5000, which a file reader would take but the server (16 Mpx) refuses.
        let bomb = claiming(png, side: 60000), large = claiming(png, side: 5000)
        try await withModelServer(service) { port in
            let cases: [(what: String, body: [UInt8], type: String, status: Int, says: String)] = [
                ("not JSON", Array("{pixels: [".utf8), "application/json", 400, "not valid JSON"),
                ("no width", Array(#"{"pixels": [1, 2], "height": 1}"#.utf8), "application/json", 400, "no \"width\""),
                ("a pixel of 300", Array(#"{"pixels": [1, 300], "width": 2, "height": 1}"#.utf8), "application/json", 400, "pixels[1] is 300"),
                ("too few pixels", Array(#"{"pixels": [1, 2], "width": 3, "height": 1}"#.utf8), "application/json", 400, "which needs 3"),
                ("an empty body", [], "image/png", 400, "empty"),
                ("text", Array("seven".utf8), "text/plain", 415, "text/plain"),
                ("no Content-Type", png, "", 415, "(none)"),
                ("a bomb's header", bomb, "image/png", 422, "claims 60000x60000 pixels"),
                ("a 5000x5000 header", large, "image/png", 422, "16777216 pixels in all"),
                ("a truncated PNG", Array(png.prefix(png.count / 2)), "image/png", 422, "truncated"),
                ("neither PNG nor PGM", Array("GIF89a........".utf8), "application/octet-stream", 422, "neither a PNG"),
                ("a blank page", PNG.encode(try Bitmap(width: 40, height: 40, channels: 1, fill: 255)), "image/png", 422, "shows no digit"),
            ]
            for refusal in cases {
                let answer = try await blocking {
                    try LoopbackClient.request(port: port, "POST", "/v1/predict",
                                               headers: refusal.type.isEmpty ? [:] : ["Content-Type": refusal.type], body: refusal.body)
                }
                XCTAssertEqual(answer.status, refusal.status, "\(refusal.what): \(answer.text)")
                XCTAssertEqual(answer.headers["content-type"], "application/json", refusal.what)
                let message = try XCTUnwrap(answer.errorMessage, "\(refusal.what): \(answer.text)")
                XCTAssertTrue(message.contains(refusal.says), "\(refusal.what): \(message)")
                XCTAssertFalse(message.contains("\n"), "one line: \(message)")
            }

            // Too large: by Content-Length before any byte of it is read, and by the bytes themselves.
            let huge = try await blocking {
                try LoopbackClient.request(port: port, "POST", "/v1/predict", headers: ["Content-Type": "image/png"],
                                           body: [UInt8](repeating: 0, count: (4 << 20) + 1))
            }
            XCTAssertEqual(huge.status, 413, huge.text)
            XCTAssertTrue(huge.errorMessage?.contains("4194304 bytes") == true, huge.text)

            for (method, route) in [("GET", "/nowhere"), ("GET", "/v1/predict"), ("DELETE", "/v1/model"),
                                    ("GET", "/../../etc/passwd"), ("GET", "/%2e%2e/%2e%2e/etc/passwd")] {
                let answer = try await blocking { try LoopbackClient.request(port: port, method, route) }
                XCTAssertEqual(answer.status, 404, "\(method) \(route): \(answer.text)")
                XCTAssertNotNil(answer.errorMessage, "\(method) \(route): \(answer.text)")
                XCTAssertFalse(answer.text.contains("root:"), "no request reads the server's files")
            }
        }
    }

    /// `png` with its IHDR claiming `side` x `side` pixels, and that chunk's CRC made right again,
    /// so that only the size is wrong.
    private func claiming(_ png: [UInt8], side: Int) -> [UInt8] {
        var bytes = png
        let big = [UInt8((side >> 24) & 255), UInt8((side >> 16) & 255), UInt8((side >> 8) & 255), UInt8(side & 255)]
        bytes.replaceSubrange(16..<24, with: big + big)
        let crc = bytes[12..<29].withUnsafeBytes { ck_crc32(0, $0.baseAddress, $0.count) }
        bytes.replaceSubrange(29..<33, with: [UInt8(crc >> 24), UInt8((crc >> 16) & 255), UInt8((crc >> 8) & 255), UInt8(crc & 255)])
        return bytes
    }

    func testAStalledBodyIsRefusedWithinItsTime() async throws {
        let service = try PredictionService(modelPath: try ServedModel.shared().checkpointPath, poolSize: 1)
        var settings = ServerSettings()
        settings.bodySeconds = 1
        try await withModelServer(service, settings: settings) { port in
            let started = Date()
            let answer = try await blocking {
                let connection = try LoopbackConnection(port: port)
                // 1000 bytes promised, 10 sent, then nothing.
                try connection.send(LoopbackClient.head("POST", "/v1/predict", headers: ["Content-Type": "image/png"], contentLength: 1000)
                    + [UInt8](repeating: 0x89, count: 10))
                return try LoopbackClient.parse(try connection.receiveAll())
            }
            XCTAssertEqual(answer.status, 408, answer.text)
            XCTAssertLessThan(Date().timeIntervalSince(started), 10, "the server must not wait for a stalled client")
        }
    }

    func test32ConcurrentClientsEachGetTheirOwnAnswer() async throws {
        let model = try ServedModel.shared()
        let service = try PredictionService(modelPath: model.checkpointPath, poolSize: 2)
        try await withModelServer(service) { port in
            var alone: [PredictionAnswer] = []
            for index in 0..<32 {
                alone.append(try decodedAnswer(try await postPredict(port: port, try model.digitPNG(index), contentType: "image/png")))
            }
            let bodies = try (0..<32).map { try model.digitPNG($0) }
            let together = try await withThrowingTaskGroup(of: (Int, HTTPAnswer).self) { group in
                for index in 0..<32 {
                    group.addTask { (index, try await postPredict(port: port, bodies[index], contentType: "image/png")) }
                }
                var answers = [HTTPAnswer?](repeating: nil, count: 32)
                for try await (index, answer) in group { answers[index] = answer }
                return answers
            }
            for index in 0..<32 {
                let answer = try decodedAnswer(try XCTUnwrap(together[index]))
                XCTAssertEqual(answer, alone[index], "client \(index) got another client's answer, or a different one")
            }
            XCTAssertGreaterThan(Set(alone.map { $0.predictions[0].label }).count, 5, "the 32 digits are not all read alike")
        }
    }

    func testAModelOfNamedClassesAnswersWithItsNamesAndReadsImagesAtItsOwnSize() async throws {
        let model = try ServedModel.shared()
        // The digit model renamed: it now reads pictures as its own 28x28 images, not as MNIST digits.
        let checkpoint = try Checkpoint.load(contentsOf: model.checkpointPath)
        let network = try checkpoint.makeNetwork(threads: 1)
        let names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
        try network.setClassNames(names)
        let named = path("named.ckpt")
        try Checkpoint(network: network, hyperparameters: checkpoint.hyperparameters, progress: checkpoint.progress,
                       trainingData: nil).write(to: named)
        let digits = try PredictionService(modelPath: model.checkpointPath, poolSize: 1)
        let service = try PredictionService(modelPath: named, poolSize: 1)
        XCTAssertEqual(service.model.preprocessing, "image")
        XCTAssertEqual(service.model.classNames, names)
        XCTAssertTrue(service.model.namedClasses)
        try await withModelServer(service) { port in
            for index in 0..<10 {
                let answer = try decodedAnswer(try await postPredict(port: port, try model.digitPNG(index), contentType: "image/png"))
                let digit = try await digits.predict(body: try model.digitPNG(index), contentType: "image/png")
                XCTAssertEqual(answer.predictions.map(\.name), digit.predictions.map { names[$0.label] },
                               "a 28x28 test digit is the same input to both readings")
                XCTAssertEqual(answer.predictions.map(\.probability), digit.predictions.map(\.probability))
            }
            // An RGB picture twice the size is converted to gray and resampled to 28x28 before it is read.
            let large = PNG.encode(try Bitmap(width: 56, height: 56, channels: 3, fill: 40))
            let answer = try decodedAnswer(try await postPredict(port: port, large, contentType: "image/png"))
            XCTAssertEqual([answer.view.channels, answer.view.width, answer.view.height], [1, 28, 28])
            XCTAssertEqual(Set(answer.view.pixels), [40], "a flat picture stays flat through conversion and resampling")
        }
    }

    func testModelDescriptionHealthAndASelfContainedPage() async throws {
        let model = try ServedModel.shared()
        let service = try PredictionService(modelPath: model.checkpointPath, poolSize: 1)
        try await withModelServer(service) { port in
            let health = try await blocking { try LoopbackClient.request(port: port, "GET", "/healthz") }
            XCTAssertEqual(health.status, 200)
            XCTAssertEqual(health.text, #"{"status":"ok"}"#)

            let described = try await blocking { try LoopbackClient.request(port: port, "GET", "/v1/model") }
            let description = try JSONDecoder().decode(ModelDescription.self, from: Data(described.body))
            XCTAssertEqual(description.name, "digits")
            XCTAssertEqual(description.spec, NetworkSpec.describe(seedOneConvLayers(batch: 10, dropout: 0)))
            XCTAssertEqual(description.classNames, (0..<10).map(String.init))
            XCTAssertFalse(description.namedClasses)
            XCTAssertEqual(description.inputShape, .init(channels: 1, height: 28, width: 28))
            XCTAssertEqual(description.preprocessing, "digit")
            XCTAssertEqual(description.swiftNetVersion, SwiftNetVersion.string)

            let page = try await blocking { try LoopbackClient.request(port: port, "GET", "/") }
            XCTAssertEqual(page.status, 200)
            XCTAssertEqual(page.headers["content-type"], "text/html; charset=utf-8")
            XCTAssertTrue(page.text.contains("<canvas id=\"pad\""))
            for outside in ["src=\"http", "href=\"http", "@import", "url(http"] {
                XCTAssertFalse(page.text.contains(outside), "the page loads nothing from elsewhere: \(outside)")
            }
            XCTAssertTrue(page.headers["content-security-policy"]?.contains("default-src 'none'") == true)
        }
    }
}
