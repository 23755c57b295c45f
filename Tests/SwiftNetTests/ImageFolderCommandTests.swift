// ImageFolderCommandTests.swift: `cnn` on a folder of your own images, as a child process.
//
// A small folder of three classes of striped and dotted PGM pictures (and
// the same as RGB PNGs in random hues), in three sizes and with one damaged
// file, is trained on with --image-size,
// evaluated (the confusion matrix names the classes), and its pictures
// predicted by name.  The image flags are refused with MNIST's pickle, and
// a folder of mixed sizes without --image-size says which file and which flag.

import Foundation
@testable import SwiftNet
import SwiftNetImages
import XCTest

final class ImageFolderCommandTests: CheckpointTestCase {
    /// Writes root/<class>/NNN.pgm: vertical stripes, horizontal stripes or dots, 12 to 20 pixels square.
    /// With `colour`, RGB PNGs instead: the same patterns in a random hue per image, so
    /// that colour is real but says nothing of the class.
    private func writeShapes(count: Int = 40, colour: Bool = false) throws -> String {
        var random = RandomSource(seed: 9)
        let root = colour ? "colour-shapes" : "shapes"
        for name in ["vertical", "horizontal", "dots"] {
            let folder = folder.appendingPathComponent("\(root)/\(name)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for index in 0..<count {
                let side = [12, 16, 20][index % 3], offset = Int(random.next() % 3)
                var pixels: [UInt8] = []
                for y in 0..<side {
                    for x in 0..<side {
                        let on = name == "vertical" ? (x + offset) % 4 < 2
                            : name == "horizontal" ? (y + offset) % 4 < 2 : (x % 4 == offset && y % 4 == offset)
                        pixels.append(UInt8((on ? 200 : 30) + Int(random.next() % 40) - 20))
                    }
                }
                if colour {
                    let hue = (0..<3).map { _ in 0.3 + Double(random.next() % 70) / 100 }
                    let rgb = pixels.flatMap { value in hue.map { UInt8(min(255, Double(value) * $0)) } }
                    try PNG.write(try Bitmap(width: side, height: side, channels: 3, samples: rgb),
                                  to: folder.appendingPathComponent(String(format: "%03d.png", index)).path)
                } else {
                    let file = folder.appendingPathComponent(String(format: "%03d.pgm", index))
                    try Data(Array("P5\n\(side) \(side)\n255\n".utf8) + pixels).write(to: file)
                }
            }
        }
        try Data(Array("P5\n12 12\n255\n".utf8) + [1, 2]).write(to: folder.appendingPathComponent("\(root)/dots/broken.pgm"))
        return path(root)
    }

    func testTrainEvalAndPredictOnClassFoldersByName() throws {
        let shapes = try writeShapes()
        let flags = ["--data", shapes, "--image-size", "20x20", "--skip-bad-images"]
        let train = try runCNN(["train"] + flags + ["--layers", "conv 8 3x3 relu, pool 2, fc 32 relu, softmax 3",
                                                    "--epochs", "8", "--eta", "0.1", "--mini-batch-size", "10", "--save", "s.ckpt"],
                               in: folder)
        XCTAssertEqual(train.status, 0, train.standardError)
        XCTAssertTrue(train.standardError.contains("skipped 1 image that could not be read (the first: \(shapes)/dots/broken.pgm: "),
                      train.standardError)
        let best = try XCTUnwrap(train.standardOutput.split(separator: "\n").first { $0.hasPrefix("Best validation accuracy") })
        let accuracy = try XCTUnwrap(Double(best.split(separator: " ")[4].dropLast()))
        XCTAssertGreaterThan(accuracy, 80, "stripes and dots are easy to tell apart: \(best)")
        XCTAssertEqual(try Checkpoint.load(contentsOf: path("s.ckpt")).classNames, ["dots", "horizontal", "vertical"])

        let eval = try runCNN(["eval", "--model", "s.ckpt", "--confusion"] + flags, in: folder)
        XCTAssertEqual(eval.status, 0, eval.standardError)
        XCTAssertTrue(eval.standardOutput.contains("horizontal"), eval.standardOutput)

        let predict = try runCNN(["predict", "--model", "s.ckpt", "\(shapes)/vertical/004.pgm", "\(shapes)/dots/005.pgm"], in: folder)
        XCTAssertEqual(predict.status, 0, predict.standardError)
        let lines = predict.standardOutput.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 2, predict.standardOutput)
        XCTAssertTrue(lines[0].hasPrefix("\(shapes)/vertical/004.pgm: vertical ("), lines[0])
        XCTAssertTrue(lines[1].hasPrefix("\(shapes)/dots/005.pgm: dots ("), lines[1])
        XCTAssertEqual(lines[0].components(separatedBy: "%)").count - 1, 3, "three classes, ranked: \(lines[0])")

        let embed = try runCNN(["embed", "--model", "s.ckpt", "--out", "embed.png", "--csv", "embed.csv"] + flags, in: folder)
        XCTAssertEqual(embed.status, 0, embed.standardError)
        let picture = try PNG.read(contentsOf: path("embed.png"))
        XCTAssertEqual(picture.channels, 3, "a valid PNG, in colour")
        let rows = try String(contentsOfFile: path("embed.csv"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(rows.first, "index,label,class,x,y")
        XCTAssertEqual(rows.count, 1 + 12, "one row per test image (10% of each class of 40)")
        XCTAssertTrue(rows.dropFirst().allSatisfy { $0.split(separator: ",").count == 5 })

        // The same patterns in colour, as RGB PNGs read as three planes.
        let colourShapes = try writeShapes(colour: true)
        let colour = try runCNN(["train", "--data", colourShapes, "--image-size", "20x20", "--channels", "3", "--skip-bad-images",
                                 "--layers", "conv 8 3x3 relu, pool 2, fc 32 relu, softmax 3", "--epochs", "8", "--eta", "0.1",
                                 "--mini-batch-size", "10"], in: folder)
        XCTAssertEqual(colour.status, 0, colour.standardError)
        let colourBest = try XCTUnwrap(colour.standardOutput.split(separator: "\n").first { $0.hasPrefix("Best validation accuracy") })
        XCTAssertGreaterThan(try XCTUnwrap(Double(colourBest.split(separator: " ")[4].dropLast())), 80, String(colourBest))
    }

    func testMixedSizesWithoutATargetAndImageFlagsWithMNISTAreOneLine() throws {
        let shapes = try writeShapes(count: 3)
        let mixed = try runCNN(["eval", "--model", "none.ckpt", "--data", shapes, "--skip-bad-images"], in: folder)
        XCTAssertNotEqual(mixed.status, 0)
        let model = try runCNN(["train", "--data", shapes, "--skip-bad-images", "--epochs", "1"], in: folder)
        XCTAssertEqual(model.status, 1, model.standardError)
        XCTAssertEqual(model.standardError.filter { $0 == "\n" }.count, 1, model.standardError)
        XCTAssertTrue(model.standardError.contains("dots/001.pgm: 16x16 pixels, but the first image is 12x12"), model.standardError)
        XCTAssertTrue(model.standardError.contains("(--image-size HxW)"), model.standardError)
        let pickle = try smallMNISTPickle()
        let refused = try runCNN(["train", "--data", pickle, "--image-size", "28x28"], in: folder)
        XCTAssertEqual(refused.status, 64, refused.standardError)
        XCTAssertTrue(refused.standardError.contains("--image-size applies to a folder of class folders"), refused.standardError)
        let badSize = try runCNN(["train", "--data", shapes, "--image-size", "0x20"], in: folder)
        XCTAssertEqual(badSize.status, 64, badSize.standardError)
        XCTAssertTrue(badSize.standardError.contains("--image-size must be HEIGHTxWIDTH"), badSize.standardError)
    }

    func testTheBinaryLinksLAPACKBecauseEmbedUsesIt() throws {
        let ldd = Process()
        ldd.executableURL = URL(fileURLWithPath: "/usr/bin/ldd")
        ldd.arguments = [try cnnExecutable().path]
        let output = Pipe()
        ldd.standardOutput = output
        try ldd.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        ldd.waitUntilExit()
        XCTAssertTrue(text.contains("liblapacke"), text)
    }
}
