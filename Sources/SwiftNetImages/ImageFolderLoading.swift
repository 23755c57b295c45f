// ImageFolderLoading.swift: finding a folder's images and decoding them on every core.
//
// ImageFolderListing walks the layout once (class folders, or train/, val/
// and test/ of them), sorting classes and files by name so that a load is
// the same on every machine.  decodeAll then sizes one block for every
// image at the target size (checked arithmetic, against a fixed cap) and
// fills it from several threads: each takes the next file, decodes,
// converts and resizes it, and copies its planes into the file's own slot,
// so that no thread waits on another and only final bytes stay in memory.

import Dispatch
import Foundation
import SwiftNet

/// A folder's image files, each with its class and split (0 training, 1 validation, 2 test).
struct ImageFolderListing {
    struct File {
        let path: String
        let label: Int
        let split: Int
    }

    let classNames: [String]
    let files: [File]
    static let splitFolders = ["train", "val", "test"]

    init(path: String) throws {
        let root = try Self.folders(in: path)
        if root.contains("train") {
            let trainPath = (path as NSString).appendingPathComponent("train")
            classNames = try Self.folders(in: trainPath).sorted()
            guard !classNames.isEmpty else { throw ImageFolderError.noClasses(path: trainPath) }
            guard classNames.count > 1 else { throw ImageFolderError.oneClass(path: trainPath, name: classNames[0]) }
            var files: [File] = []
            for (split, name) in Self.splitFolders.enumerated() where root.contains(name) {
                let splitPath = (path as NSString).appendingPathComponent(name)
                for folder in try Self.folders(in: splitPath).sorted() {
                    let classPath = (splitPath as NSString).appendingPathComponent(folder)
                    guard let label = classNames.firstIndex(of: folder) else {
                        throw ImageFolderError.unknownClass(path: classPath, known: classNames)
                    }
                    let images = try Self.images(in: classPath)
                    if split == 0 && images.isEmpty { throw ImageFolderError.emptyClass(path: classPath) }
                    files += images.map { File(path: $0, label: label, split: split) }
                }
            }
            self.files = files
        } else {
            classNames = root.sorted()
            guard !classNames.isEmpty else { throw ImageFolderError.noClasses(path: path) }
            guard classNames.count > 1 else { throw ImageFolderError.oneClass(path: path, name: classNames[0]) }
            var files: [File] = []
            for (label, folder) in classNames.enumerated() {
                let classPath = (path as NSString).appendingPathComponent(folder)
                let images = try Self.images(in: classPath)
                guard !images.isEmpty else { throw ImageFolderError.emptyClass(path: classPath) }
                files += images.map { File(path: $0, label: label, split: 0) }
            }
            self.files = files
        }
    }

    /// The names of the visible folders in `path`.
    static func folders(in path: String) throws -> [String] {
        try entries(in: path).filter { isFolder((path as NSString).appendingPathComponent($0)) }
    }

    /// The PNG and PGM files in `path`, sorted by name, as paths.
    static func images(in path: String) throws -> [String] {
        try entries(in: path).sorted()
            .filter { ImageFolder.extensions.contains(($0 as NSString).pathExtension.lowercased()) }
            .map { (path as NSString).appendingPathComponent($0) }
            .filter { !isFolder($0) }
    }

    /// The visible entries of `path`, read with readdir(3): FileManager leaves out names
    /// that are not UTF-8, which would drop a class, or an image, without a word.
    private static func entries(in path: String) throws -> [String] {
        guard isFolder(path), let folder = opendir(path) else { throw ImageFolderError.notAFolder(path: path) }
        defer { closedir(folder) }
        var names: [String] = []
        while let entry = readdir(folder) {
            let bytes = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
            guard let name = String(validating: bytes, as: UTF8.self) else {
                let shown = String(decoding: bytes, as: UTF8.self)
                throw ImageFolderError.notUTF8(path: (path as NSString).appendingPathComponent(shown))
            }
            if !name.hasPrefix(".") { names.append(name) }
        }
        return names
    }

    private static func isFolder(_ path: String) -> Bool {
        var folder: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &folder) && folder.boolValue
    }
}

/// Every image of a listing at one size and colour, planes per image, in file order.
struct DecodedImages {
    let width: Int, height: Int
    let imageSize: Int
    /// `files.count * imageSize` bytes; a failed file's slot stays zero.
    let pixels: [UInt8]
    /// Per file: why it could not be used (an `ImageError`, or an `ImageFolderError`
    /// for a size that differs), or nil.
    let failures: [(any Error)?]
}

/// The block the decoding threads fill; each writes only its own files' slots.
private struct ImageSlots: @unchecked Sendable {
    let base: UnsafeMutablePointer<UInt8>
}

/// Shared among decoding threads: the next file to take, results, progress.
private final class DecodingState: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0
    private(set) var done = 0
    var failures: [(any Error)?]

    init(count: Int) { failures = [(any Error)?](repeating: nil, count: count) }

    func take() -> Int {
        lock.lock(); defer { lock.unlock() }
        next += 1
        return next - 1
    }

    /// Records a finished file; returns the new count of finished files.
    func finish(_ index: Int, failure: (any Error)?) -> Int {
        lock.lock(); defer { lock.unlock() }
        failures[index] = failure
        done += 1
        return done
    }
}

extension ImageFolder {
    /// One image file as a network of `channels` x `height` x `width` input takes it, read
    /// as `load` reads a folder's: converted, resampled, and laid out as planes.
    /// - Throws: `ImageError` naming the file, or `BitmapError` for an impossible size.
    public static func networkPlanes(of path: String, channels: Int, width: Int, height: Int,
                                     keepAspect: Bool = false) throws -> [UInt8] {
        var options = ImageFolderOptions()
        options.channels = channels
        options.size = (width: width, height: height)
        options.keepAspect = keepAspect
        return try networkPlanes(of: path, options: options, width: width, height: height)
    }

    /// One file as the network takes it: the options' channels and size, as planes.
    static func networkPlanes(of path: String, options: ImageFolderOptions,
                              width: Int, height: Int) throws -> [UInt8] {
        try networkPlanes(of: Bitmap(contentsOf: path), named: path, options: options, width: width, height: height)
    }

    /// A decoded image as the network takes it; `name` is what a size mismatch calls it.
    static func networkPlanes(of decoded: Bitmap, named path: String, options: ImageFolderOptions,
                              width: Int, height: Int) throws -> [UInt8] {
        let image = try decoded.converted(toChannels: options.channels)
        let sized: Bitmap
        if options.size != nil {
            sized = try image.resized(width: width, height: height, keepAspect: options.keepAspect)
        } else {
            guard image.width == width, image.height == height else {
                throw ImageFolderError.sizeMismatch(path: path, width: image.width, height: image.height,
                                                    expectedWidth: width, expectedHeight: height)
            }
            sized = image
        }
        let channels = options.channels, plane = width * height
        var planes = [UInt8](repeating: 0, count: plane * channels)
        for pixel in 0..<plane {
            for channel in 0..<channels { planes[channel * plane + pixel] = sized.samples[pixel * channels + channel] }
        }
        return planes
    }

    static func decodeAll(_ files: [ImageFolderListing.File], options: ImageFolderOptions, folder: String,
                          progress: (@Sendable (ImageFolderProgress) -> Void)?) throws -> DecodedImages {
        // The target size: the options', or the first readable file's.
        var firstSize: (width: Int, height: Int)? = options.size
        for file in files where firstSize == nil {
            do {
                let first = try Bitmap(contentsOf: file.path)
                firstSize = (first.width, first.height)
            } catch let error as ImageError where options.skipBadImages {
                _ = error  // reported again, in order, by the pass below
            }
        }
        guard let (width, height) = firstSize else { throw ImageFolderError.noTrainingImages(path: folder) }
        let imageSize = width * height * options.channels
        // The one budget every reader answers to (cnn --memory-limit): the block, and the
        // splits the caller is given, which copy it; an overflow is refused as too large.
        let (total, overflow) = imageSize.multipliedReportingOverflow(by: files.count)
        let (held, heldOverflow) = total.multipliedReportingOverflow(by: 2)
        try MemoryBudget.default.check(overflow || heldOverflow ? nil : held,
                                       for: "\(files.count) images of \(width)x\(height)x\(options.channels) from \(folder)")
        var pixels = [UInt8](repeating: 0, count: total)
        let state = DecodingState(count: files.count)
        let threads = min(max(1, options.threads == 0 ? ProcessInfo.processInfo.activeProcessorCount : options.threads),
                          max(1, files.count))
        let step = max(1, files.count / 200)
        pixels.withUnsafeMutableBufferPointer { block in
            let base = ImageSlots(base: block.baseAddress!)
            DispatchQueue.concurrentPerform(iterations: threads) { _ in
                while true {
                    let index = state.take()
                    guard index < files.count else { return }
                    var failure: (any Error)?
                    do {
                        let planes = try networkPlanes(of: files[index].path, options: options, width: width, height: height)
                        planes.withUnsafeBufferPointer { (base.base + index * imageSize).update(from: $0.baseAddress!, count: imageSize) }
                    } catch {
                        failure = error
                    }
                    let done = state.finish(index, failure: failure)
                    if let progress, done % step == 0 || done == files.count {
                        progress(ImageFolderProgress(done: done, total: files.count))
                    }
                }
            }
        }
        // The first problem in file order, so that a load fails the same way every time.
        // A size that differs is not damage: it stops the load even when bad images are skipped.
        if let mismatch = state.failures.first(where: { $0 is ImageFolderError }) { throw mismatch! }
        if !options.skipBadImages, let failure = state.failures.first(where: { $0 != nil }) { throw failure! }
        return DecodedImages(width: width, height: height, imageSize: imageSize, pixels: pixels, failures: state.failures)
    }
}
