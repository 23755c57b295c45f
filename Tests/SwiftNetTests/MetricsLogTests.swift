// MetricsLogTests.swift: the per-epoch JSON lines of `cnn train`.
//
// Each line must parse as JSON with the documented fields and values, lines
// must append (a resumed run continues the same file), and the file beside
// a checkpoint must be named as documented.

import Foundation
@testable import SwiftNet
import XCTest

final class MetricsLogTests: XCTestCase {
    private func report(epoch: Int, test: Double?) -> EpochReport {
        EpochReport(epoch: epoch, trainingCost: 0.123456, validationAccuracy: 0.9871, isBestSoFar: test != nil,
                    testAccuracy: test, trainingSeconds: 1.3804, imagesPerSecond: 36221.4)
    }

    private func parse(_ line: String) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8))
        return try XCTUnwrap(object as? [String: Any], line)
    }

    func testALineHoldsEveryField() throws {
        let fields = try parse(report(epoch: 7, test: 0.9902).jsonLine)
        XCTAssertEqual(fields["epoch"] as? Int, 7)
        XCTAssertEqual(try XCTUnwrap(fields["training_cost"] as? Double), 0.123456, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(fields["validation_accuracy"] as? Double), 0.9871, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(fields["test_accuracy"] as? Double), 0.9902, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(fields["seconds"] as? Double), 1.380, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(fields["images_per_second"] as? Double), 36221.4, accuracy: 1e-6)
        XCTAssertTrue(try parse(report(epoch: 8, test: nil).jsonLine)["test_accuracy"] is NSNull)
    }

    func testLinesAppendAcrossOpenings() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("run.jsonl").path
        try MetricsLog(path: path).append(report(epoch: 0, test: 0.95))
        try MetricsLog(path: path).append(report(epoch: 1, test: nil))  // a resumed run reopens the file
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        XCTAssertEqual(try lines.map { try parse($0)["epoch"] as? Int }, [0, 1])
    }

    func testAnUnwritablePathIsOneClearError() {
        XCTAssertThrowsError(try MetricsLog(path: "/nonexistent-folder/run.jsonl")) { error in
            let message = String(describing: error)
            XCTAssertTrue(message.hasPrefix("/nonexistent-folder/run.jsonl: "), message)
            XCTAssertFalse(message.contains("\n"), message)
        }
    }

    func testTheLogBesideACheckpoint() {
        XCTAssertEqual(MetricsLog.path(besideCheckpoint: "runs/m.ckpt"), "runs/m.jsonl")
        XCTAssertEqual(MetricsLog.path(besideCheckpoint: "model"), "model.jsonl")
        XCTAssertEqual(MetricsLog.path(besideCheckpoint: "/tmp/a.b/model"), "/tmp/a.b/model.jsonl")
    }
}
