// ImageFolder.swift: a folder of class folders of images, as training data.
//
// The request users make most of small trainers is "can I train on my own
// images?".  This reads torchvision's ImageFolder convention: DIR holds one
// folder per class, named for the class, of PNG or binary PGM files; classes
// are sorted by name and numbered from 0.  DIR may instead hold `train/`,
// `val/` and `test/`, each laid out that way (the validation and test
// folders may lack a class, never add one); a split that is missing is
// carved from the training images, deterministically from the seed and
// stratified by class, so each class keeps its share.
//
// Only decoded bytes are kept, at the network's size and colour: each file
// is read, decoded, converted and resized on one of several threads, written
// straight into one preallocated block, and dropped.  Without a target size
// every image must have the first image's size, and a mismatch names the
// file.  A damaged image names its file and stops the load, unless the
// caller asks to skip bad images; then each is reported and left out.

import Dispatch
import Foundation
import SwiftNet

/// How `ImageFolder.load` turns image files into a network's input.
public struct ImageFolderOptions: Sendable {
    /// The size every image is resampled to (`Bitmap.resized`); nil keeps the files'
    /// size, which must then be the same for all.
    public var size: (width: Int, height: Int)?
    /// Fit each image inside `size` with its proportions kept, padded with black.
    public var keepAspect = false
    /// 1 (gray) or 3 (RGB planes); colour becomes gray by BT.601 luma, gray is copied
    /// to three planes, and alpha is composited over white.
    public var channels = 1
    /// The share of each class carved out for validation when DIR has no `val/`.
    public var validationFraction = 0.1
    /// The share of each class carved out for testing when DIR has no `test/`.
    public var testFraction = 0.1
    /// The seed of the carving: equal seeds carve equal splits.
    public var seed: UInt64 = 0
    /// Leave out images that cannot be read or decoded (listed in `ImageFolderData.skipped`)
    /// instead of stopping at the first.  An image of another size is not skipped: it
    /// still stops the load, naming the file.
    public var skipBadImages = false
    /// Threads that decode; 0 uses every core.
    public var threads = 0

    /// The defaults: files' own size, gray, 10% validation and 10% test, seed 0.
    public init() {}

    /// Throws unless the options can be used: fractions in [0, 1) that leave images to
    /// train on, 1 or 3 channels, threads not negative, a size that an image may have.
    /// - Throws: `ImageFolderError.badOption`, or `BitmapError` for the size.
    public func validate() throws {
        let fractions = [("validation", validationFraction), ("test", testFraction)]
        for (name, value) in fractions where !(value >= 0 && value < 1) {
            throw ImageFolderError.badOption(option: name + "Fraction", problem: "is \(value); it must be at least 0 and below 1")
        }
        guard validationFraction + testFraction < 1 else {
            throw ImageFolderError.badOption(option: "validationFraction", problem: "and testFraction add up to "
                + "\(validationFraction + testFraction); they must leave some images to train on")
        }
        guard channels == 1 || channels == 3 else {
            throw ImageFolderError.badOption(option: "channels", problem: "is \(channels); choose 1 (gray) or 3 (RGB)")
        }
        guard threads >= 0 else { throw ImageFolderError.badOption(option: "threads", problem: "is \(threads); give 0 (every core) or more") }
        if let size = size {
            _ = try Bitmap.sampleCount(width: size.width, height: size.height, channels: channels)
        }
    }
}

/// What `ImageFolder.load` read.
public struct ImageFolderData: Sendable {
    /// The training, validation and test sets, with the class names.
    public let splits: DataSplits
    /// The images left out because they could not be read (only with `skipBadImages`).
    public let skipped: [ImageError]
    /// The class names, sorted, one per class (the folders' names).
    public var classNames: [String] { splits.training.classNames ?? [] }
}

/// Loading progress: files decoded so far, out of all of them.
public struct ImageFolderProgress: Sendable {
    /// Files decoded (or found bad) so far.
    public let done: Int
    /// Image files found.
    public let total: Int
}

/// A folder that cannot be read as class folders of images; one line each, naming it.
public enum ImageFolderError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The path is not a folder (or cannot be listed).
    case notAFolder(path: String)
    /// The folder has no class folders.
    case noClasses(path: String)
    /// A name in the folder is not UTF-8 (shown with U+FFFD for the bytes that are not),
    /// so it cannot be a class name or be named in a message.
    case notUTF8(path: String)
    /// The folder has one class folder: there is nothing to tell apart.
    case oneClass(path: String, name: String)
    /// A class folder holds no PNG or PGM files.
    case emptyClass(path: String)
    /// A validation or test folder names a class the training folder lacks.
    case unknownClass(path: String, known: [String])
    /// An image's size differs from the first image's, and no target size was given.
    case sizeMismatch(path: String, width: Int, height: Int, expectedWidth: Int, expectedHeight: Int)
    /// A setting is out of range: `option` names the `ImageFolderOptions` property
    /// (validationFraction, testFraction, channels, threads), `problem` says how.
    case badOption(option: String, problem: String)
    /// Every image was skipped as bad, or the carving left no training images.
    case noTrainingImages(path: String)

    /// The error in one line, naming what is at fault.
    public var description: String {
        switch self {
        case .notAFolder(let path): return "\(path): not a folder of class folders"
        case .noClasses(let path): return "\(path): no class folders (expected one folder of images per class)"
        case .notUTF8(let path): return "\(path): a name that is not UTF-8; rename it"
        case let .oneClass(path, name):
            return "\(path): only one class folder, '\(name)'; a classifier needs at least two classes to tell apart"
        case .emptyClass(let path): return "\(path): a class folder with no PNG or PGM images"
        case let .unknownClass(path, known):
            return "\(path): a class the training folder does not have (its classes: \(known.joined(separator: ", ")))"
        case let .sizeMismatch(path, width, height, expectedWidth, expectedHeight):
            return "\(path): \(width)x\(height) pixels, but the first image is \(expectedWidth)x\(expectedHeight); "
                + "give a target size to resize them all"
        case let .badOption(option, problem): return "ImageFolderOptions.\(option) \(problem)"
        case .noTrainingImages(let path): return "\(path): no training images are left"
        }
    }
}

/// Class folders of PNG and PGM images, read as a `DataSplits`.
///
/// ```swift
/// var options = ImageFolderOptions()
/// options.size = (width: 32, height: 32)
/// options.channels = 3
/// let data = try ImageFolder.load("pets", options: options)
/// print(data.classNames)                 // ["cat", "dog"], sorted by folder name
/// print(data.splits.training.count)      // 80% of the images, by class
/// ```
public enum ImageFolder {
    /// The file names read as images.
    static let extensions: Set<String> = ["png", "pgm"]

    /// Reads `path` as class folders (or `train/`, `val/`, `test/` of them).
    /// - Parameters:
    ///   - path: the folder.
    ///   - options: size, colour, carving and threads.
    ///   - progress: called from decoding threads as files finish, at most a few hundred times.
    /// - Throws: `ImageFolderError` for a layout, size or setting problem; `ImageError` naming
    ///   the file for a damaged image (unless `skipBadImages`); `DatasetError` never for files
    ///   this reads.
    public static func load(_ path: String, options: ImageFolderOptions = ImageFolderOptions(),
                            progress: (@Sendable (ImageFolderProgress) -> Void)? = nil) throws -> ImageFolderData {
        try options.validate()
        let listing = try ImageFolderListing(path: path)
        let decoded = try decodeAll(listing.files, options: options, folder: path, progress: progress)
        var kept: [Int: [Int]] = [:]  // split -> indices into files, in file order
        for index in listing.files.indices where decoded.failures[index] == nil {
            kept[listing.files[index].split, default: []].append(index)
        }
        var split = try carve(kept, labels: listing.files.map(\.label), options: options)
        guard !split[0].isEmpty else { throw ImageFolderError.noTrainingImages(path: path) }
        let names = ["training", "validation", "test"]
        // Validation and test images stay in file order; training images are shuffled from the
        // seed, as a folder lists a class at a time and the seed's SGD takes the order it is given.
        for which in 0..<3 { split[which].sort() }
        var random = RandomSource(seed: options.seed ^ 0x5EED_0F_1A6E5)
        random.shuffle(&split[0])
        let datasets = try (0..<3).map { which -> Dataset in
            let pixels = split[which].flatMap { decoded.pixels[($0 * decoded.imageSize)..<(($0 + 1) * decoded.imageSize)] }
            return try Dataset(name: names[which], channels: options.channels, height: decoded.height, width: decoded.width,
                               pixels: pixels, labels: split[which].map { Int32(listing.files[$0].label) },
                               classCount: listing.classNames.count, classNames: listing.classNames)
        }
        return ImageFolderData(splits: try DataSplits(training: datasets[0], validation: datasets[1], test: datasets[2]),
                               skipped: listing.files.indices.compactMap { index in
                                   decoded.failures[index].map { error in
                                       (error as? ImageError) ?? ImageError(path: listing.files[index].path, problem: "\(error)")
                                   }
                               })
    }

    /// Each split's file indices: the folders' own, or carved from training per class.
    private static func carve(_ kept: [Int: [Int]], labels: [Int], options: ImageFolderOptions) throws -> [[Int]] {
        var split = [kept[0] ?? [], kept[1] ?? [], kept[2] ?? []]
        let carveValidation = kept[1] == nil, carveTest = kept[2] == nil
        guard carveValidation || carveTest else { return split }
        var random = RandomSource(seed: options.seed)
        var byClass: [Int: [Int]] = [:]
        for index in split[0] { byClass[labels[index], default: []].append(index) }
        split[0] = []
        for label in byClass.keys.sorted() {
            var members = byClass[label]!
            random.shuffle(&members)
            let validation = carveValidation ? Int((Double(members.count) * options.validationFraction).rounded()) : 0
            let test = carveTest ? Int((Double(members.count) * options.testFraction).rounded()) : 0
            let taken = min(members.count - 1, validation + test)  // each class keeps a training image
            split[1] += members.prefix(min(validation, taken))
            split[2] += members.dropFirst(min(validation, taken)).prefix(taken - min(validation, taken))
            split[0] += members.dropFirst(taken)
        }
        return split
    }
}
