// ImageFolderTests.swift: class folders of a person's own images, through the
// public API (`import SwiftNetImages`, no @testable).
//
// Small folders are written into a temporary directory: classes created out
// of order (they must come back sorted), images whose every pixel encodes
// its class and number (so a test can tell which file landed where), a
// train/val/test layout, a damaged file, sizes that differ, colour and gray.
// Resampling is checked on values worked out by hand.

import Foundation
import SwiftNet
import SwiftNetImages
import XCTest

final class ImageFolderTests: XCTestCase {
    private var root = ""

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("swiftnet-folder-\(getpid())-\(name.hashValue)").path
        try? FileManager.default.removeItem(atPath: root)
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: root)
    }

    /// Writes `count` gray width x height PNGs into root/relative, pixel value = 10 * class + image.
    private func writeClass(_ relative: String, classValue: Int, count: Int, width: Int = 6, height: Int = 5) throws {
        let folder = (root as NSString).appendingPathComponent(relative)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for image in 0..<count {
            let value = UInt8(10 * classValue + image)
            try PNG.write(try Bitmap(width: width, height: height, channels: 1, fill: value),
                          to: (folder as NSString).appendingPathComponent(String(format: "%03d.png", image)))
        }
    }

    func testClassFoldersAreSortedAndCarvedByClassFromTheSeed() throws {
        try writeClass("dog", classValue: 2, count: 10)
        try writeClass("bird", classValue: 0, count: 10)
        try writeClass("cat", classValue: 1, count: 10)
        try "not an image".write(toFile: (root as NSString).appendingPathComponent("cat/notes.txt"), atomically: true, encoding: .utf8)
        let data = try ImageFolder.load(root)
        XCTAssertEqual(data.classNames, ["bird", "cat", "dog"])
        XCTAssertEqual([data.splits.training.count, data.splits.validation.count, data.splits.test.count], [24, 3, 3])
        for split in [data.splits.training, data.splits.validation, data.splits.test] {
            XCTAssertEqual([split.channels, split.height, split.width], [1, 5, 6])
            for index in 0..<split.count {
                let value = Int(split.pixels[index * split.imageSize])
                XCTAssertEqual(Int(split.labels[index]), value / 10, "image \(index) of \(split.name) has its folder's class")
                XCTAssertTrue(split.pixels[(index * split.imageSize)..<((index + 1) * split.imageSize)].allSatisfy { Int($0) == value })
            }
            XCTAssertEqual(Set(split.labels), [0, 1, 2], "\(split.name) holds every class (stratified)")
        }
        var options = ImageFolderOptions()
        XCTAssertEqual(try ImageFolder.load(root, options: options).splits.validation.pixels, data.splits.validation.pixels,
                       "the same seed carves the same split")
        options.seed = 7
        let other = try ImageFolder.load(root, options: options)
        XCTAssertNotEqual(other.splits.validation.pixels + other.splits.test.pixels,
                          data.splits.validation.pixels + data.splits.test.pixels, "another seed carves another split")
    }

    func testTrainValAndTestFoldersAreTakenAsTheyAre() throws {
        try writeClass("train/b", classValue: 1, count: 3)
        try writeClass("train/a", classValue: 0, count: 4)
        try writeClass("val/a", classValue: 0, count: 2)
        try writeClass("test/b", classValue: 1, count: 1)
        let data = try ImageFolder.load(root)
        XCTAssertEqual(data.classNames, ["a", "b"])
        XCTAssertEqual(data.splits.training.labels.sorted(), [0, 0, 0, 0, 1, 1, 1], "every training image, shuffled")
        XCTAssertEqual(data.splits.validation.labels, [0, 0])
        XCTAssertEqual(data.splits.test.labels, [1])
        try writeClass("test/c", classValue: 2, count: 1)
        XCTAssertThrowsError(try ImageFolder.load(root)) {
            guard case .unknownClass(let path, ["a", "b"])? = $0 as? ImageFolderError else { return XCTFail("\($0)") }
            XCTAssertTrue(path.hasSuffix("test/c"), path)
        }
    }

    func testTrainingImagesAreShuffledFromTheSeedAndTheOtherSplitsKeepFileOrder() throws {
        for (index, name) in ["a", "b", "c", "d"].enumerated() { try writeClass(name, classValue: index, count: 10) }
        let data = try ImageFolder.load(root)
        let labels = data.splits.training.labels
        XCTAssertEqual(labels.sorted(), labels.sorted(by: <))
        XCTAssertNotEqual(labels, labels.sorted(), "a folder lists one class after another; SGD must not see them so")
        XCTAssertEqual(try ImageFolder.load(root).splits.training.pixels, data.splits.training.pixels, "the same seed, the same order")
        XCTAssertEqual(data.splits.validation.labels, data.splits.validation.labels.sorted())
        XCTAssertEqual(data.splits.test.labels, data.splits.test.labels.sorted())
    }

    func testSizesMustAgreeUnlessATargetSizeIsGiven() throws {
        try writeClass("a", classValue: 0, count: 2)
        try writeClass("b", classValue: 1, count: 2, width: 8, height: 8)
        XCTAssertThrowsError(try ImageFolder.load(root)) {
            guard case .sizeMismatch(let path, 8, 8, 6, 5)? = $0 as? ImageFolderError else { return XCTFail("\($0)") }
            XCTAssertTrue(path.hasSuffix("b/000.png"), path)
            XCTAssertFalse("\($0)".contains("\n"))
        }
        var options = ImageFolderOptions()
        options.size = (width: 4, height: 4)
        options.validationFraction = 0
        options.testFraction = 0
        let data = try ImageFolder.load(root, options: options)
        XCTAssertEqual([data.splits.training.height, data.splits.training.width], [4, 4])
        for image in 0..<data.splits.training.count {
            let pixels = data.splits.training.pixels[(image * 16)..<((image + 1) * 16)]
            XCTAssertEqual(Set(pixels).count, 1, "flat images stay flat")
        }
    }

    func testColourBecomesGrayByLumaAndGrayBecomesThreePlanes() throws {
        let folder = (root as NSString).appendingPathComponent("only")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let rgb = try Bitmap(width: 2, height: 1, channels: 3, samples: [255, 0, 0, 0, 0, 255])
        try PNG.write(rgb, to: (folder as NSString).appendingPathComponent("a.png"))
        try writeClass("plain", classValue: 5, count: 1, width: 2, height: 1)
        var options = ImageFolderOptions()
        options.validationFraction = 0
        options.testFraction = 0
        /// The pixels of the "only" class's one image (class 0, as the names sort).
        func only(_ data: ImageFolderData) -> [UInt8] {
            let split = data.splits.training, index = split.labels.firstIndex(of: 0)!
            return Array(split.pixels[(index * split.imageSize)..<((index + 1) * split.imageSize)])
        }
        XCTAssertEqual(only(try ImageFolder.load(root, options: options)), [76, 29], "0.299 * 255, 0.114 * 255")
        options.channels = 3
        XCTAssertEqual(only(try ImageFolder.load(root, options: options)), [255, 0, 0, 0, 0, 255],
                       "RGB planes: red plane, green plane, blue plane")
        let gray = try Bitmap(width: 2, height: 1, channels: 2, samples: [100, 255, 0, 0])
        XCTAssertEqual(try gray.converted(toChannels: 3).samples, [100, 100, 100, 255, 255, 255],
                       "gray copied to three channels; a transparent pixel shows the white behind it")
    }

    func testADamagedImageStopsTheLoadOrIsSkippedWhenAsked() throws {
        try writeClass("a", classValue: 0, count: 3)
        try writeClass("b", classValue: 1, count: 3)
        let damaged = (root as NSString).appendingPathComponent("b/001.png")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: damaged))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: damaged))
        XCTAssertThrowsError(try ImageFolder.load(root)) {
            XCTAssertTrue("\($0)".hasPrefix(damaged + ": "), "\($0)")
            XCTAssertFalse("\($0)".contains("\n"))
        }
        var options = ImageFolderOptions()
        options.skipBadImages = true
        options.validationFraction = 0
        options.testFraction = 0
        let counter = ProgressLog()
        let data = try ImageFolder.load(root, options: options) { counter.record($0) }
        XCTAssertEqual(data.skipped.map(\.path), [damaged])
        XCTAssertEqual(data.splits.training.labels.sorted(), [0, 0, 0, 1, 1])
        XCTAssertEqual(counter.last?.done, 6)
        XCTAssertEqual(counter.last?.total, 6)
    }

    func testImpossibleOptionsAndLayoutsAreOneLineErrors() throws {
        XCTAssertThrowsError(try ImageFolder.load((root as NSString).appendingPathComponent("missing"))) {
            guard case .notAFolder? = $0 as? ImageFolderError else { return XCTFail("\($0)") }
        }
        XCTAssertThrowsError(try ImageFolder.load(root)) { XCTAssertEqual($0 as? ImageFolderError, .noClasses(path: root)) }
        try writeClass("a", classValue: 0, count: 2)
        XCTAssertThrowsError(try ImageFolder.load(root)) {
            XCTAssertEqual($0 as? ImageFolderError, .oneClass(path: root, name: "a"))
            XCTAssertFalse("\($0)".contains("\n"))
        }
        var options = ImageFolderOptions()
        options.validationFraction = 0.6
        options.testFraction = 0.5
        XCTAssertThrowsError(try ImageFolder.load(root, options: options)) {
            guard case .badOption? = $0 as? ImageFolderError else { return XCTFail("\($0)") }
        }
        options = ImageFolderOptions()
        options.channels = 2
        XCTAssertThrowsError(try ImageFolder.load(root, options: options))
        try FileManager.default.createDirectory(atPath: (root as NSString).appendingPathComponent("empty"), withIntermediateDirectories: true)
        XCTAssertThrowsError(try ImageFolder.load(root)) {
            guard case .emptyClass? = $0 as? ImageFolderError else { return XCTFail("\($0)") }
        }
    }

    /// A million files named in one class folder: the listing keeps names, not files, and
    /// skips what is not an image, so memory stays bounded.  (Made on /dev/shm where there
    /// is one, so that creating them takes seconds.)
    func testAMillionFilesInOneFolderAreListedInBoundedMemory() throws {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : FileManager.default.temporaryDirectory.path
        let big = "\(base)/swiftnet-million-\(getpid())"
        try? FileManager.default.removeItem(atPath: big)
        defer { try? FileManager.default.removeItem(atPath: big) }
        let saved = root
        root = big
        defer { root = saved }
        try writeClass("a", classValue: 0, count: 3)
        try writeClass("b", classValue: 1, count: 3)
        let crowded = big + "/a"
        for index in 0..<1_000_000 {
            let descriptor = open("\(crowded)/note-\(index).txt", O_CREAT | O_WRONLY, 0o644)
            XCTAssertGreaterThanOrEqual(descriptor, 0)
            close(descriptor)
        }
        // Reset the peak resident size (clear_refs 5), so the peak below is this load's.
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
        let before = Self.residentKilobytes("VmRSS")
        var options = ImageFolderOptions()
        options.validationFraction = 0
        options.testFraction = 0
        let data = try ImageFolder.load(big, options: options)
        XCTAssertEqual(data.splits.training.labels.sorted(), [0, 0, 0, 1, 1, 1], "the images, and none of the notes")
        let growth = Self.residentKilobytes("VmHWM") - before
        print("a million files: the load grew the peak resident size by \(growth) kB")
        XCTAssertLessThan(growth, 256 * 1024, "a million names held at once take tens of megabytes, not more")
    }

    /// A field of /proc/self/status, in kilobytes.
    private static func residentKilobytes(_ field: String) -> Int {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix(field + ":") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    func testTheImagesMustFitTheMemoryBudget() throws {
        try writeClass("a", classValue: 0, count: 2)
        try writeClass("b", classValue: 1, count: 2)
        let saved = MemoryBudget.default
        defer { MemoryBudget.default = saved }
        MemoryBudget.default = MemoryBudget(bytes: 1 << 20)
        var options = ImageFolderOptions()
        options.size = (width: 1000, height: 1000)
        XCTAssertThrowsError(try ImageFolder.load(root, options: options)) {
            XCTAssertTrue($0 is MemoryBudgetError, "\($0)")
            XCTAssertTrue("\($0)".contains("4 images of 1000x1000x1"), "\($0)")
        }
        options.size = (width: 10, height: 10)
        XCTAssertEqual(try ImageFolder.load(root, options: options).splits.training.count, 4,
                       "small images fit the same budget (two a class are too few to carve)")
    }

    func testAClassFolderWhoseNameIsNotUTF8IsNamedNotDropped() throws {
        try writeClass("a", classValue: 0, count: 2)
        try writeClass("b", classValue: 1, count: 2)
        // FileManager cannot even list this name; the loader must not lose the class without a word.
        let bytes = Array((root + "/c").utf8) + [0xFF, 0]
        XCTAssertEqual(bytes.withUnsafeBufferPointer { mkdir(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), 0o755) }, 0)
        XCTAssertThrowsError(try ImageFolder.load(root)) {
            guard case .notUTF8(let path)? = $0 as? ImageFolderError else { return XCTFail("\($0)") }
            XCTAssertTrue(path.hasPrefix(root + "/c"), path)
            XCTAssertFalse("\($0)".contains("\n"))
        }
    }

    func testShrinkingAveragesAreasAndGrowingInterpolates() throws {
        let square = try Bitmap(width: 4, height: 4, channels: 1, samples: (0..<16).map { UInt8($0 * 10) })
        // Each output pixel is the mean of a 2x2 block: (0+10+40+50)/4 = 25, ...
        XCTAssertEqual(try square.resized(width: 2, height: 2).samples, [25, 45, 105, 125])
        let pair = try Bitmap(width: 2, height: 1, channels: 1, samples: [0, 200])
        // Centres of 4 outputs at source positions -0.25, 0.25, 0.75, 1.25: held, 1/4, 3/4, held.
        XCTAssertEqual(try pair.resized(width: 4, height: 1).samples, [0, 50, 150, 200])
        let wide = try Bitmap(width: 4, height: 2, channels: 1, fill: 200)
        let fitted = try wide.resized(width: 4, height: 4, keepAspect: true)
        XCTAssertEqual(fitted.samples, [UInt8](repeating: 0, count: 4) + [UInt8](repeating: 200, count: 8)
                       + [UInt8](repeating: 0, count: 4), "fitted, centred, padded with black")
        XCTAssertThrowsError(try square.resized(width: 0, height: 3))
    }
}

/// Progress reports collected from the decoding threads.
private final class ProgressLog: @unchecked Sendable {
    private let lock = NSLock()
    private var reports: [ImageFolderProgress] = []

    func record(_ report: ImageFolderProgress) {
        lock.lock(); defer { lock.unlock() }
        reports.append(report)
    }

    var last: ImageFolderProgress? {
        lock.lock(); defer { lock.unlock() }
        return reports.max { $0.done < $1.done }
    }
}
