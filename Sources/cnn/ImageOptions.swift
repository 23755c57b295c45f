// ImageOptions.swift: the flags that shape a folder of your own images into data.
//
// `--data DIR` may name a folder of class folders of PNG or PGM images (the
// torchvision ImageFolder convention; see SwiftNetImages' ImageFolder).
// These flags say how its images become a network's input: a size to
// resample them to (or none, and then all must share one), whether to keep
// their proportions, gray or RGB, the shares carved out for validation and
// testing when DIR has no val/ or test/ folder (from --split-seed, the same
// for every command so eval sees the split train saw), and whether a damaged
// image stops the load or is skipped.  They are refused with the MNIST
// pickle and IDX files, which fix all of that themselves.

import ArgumentParser
import Foundation
import SwiftNet
import SwiftNetImages

struct ImageOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Class folders only: resample every image to HEIGHTxWIDTH pixels (area averaging to shrink, "
        + "linear to grow) (default: the images' own size, which must then be the same for all).", valueName: "HxW"))
    var imageSize: String?

    @Flag(help: "Class folders only: with --image-size, keep each image's proportions, padded with black.")
    var keepAspect = false

    @Option(parsing: .unconditional, help: ArgumentHelp("Class folders only: 1 (gray) or 3 (RGB) (default: 1).", valueName: "1|3"))
    var channels: Int?

    @Option(parsing: .unconditional, help: ArgumentHelp("Class folders only: the share of each class held out for validation when "
        + "the folder has no val/ (default: 0.1).", valueName: "fraction"))
    var validationSplit: Double?

    @Option(parsing: .unconditional, help: ArgumentHelp("Class folders only: the share of each class held out for testing when "
        + "the folder has no test/ (default: 0.1).", valueName: "fraction"))
    var testSplit: Double?

    @Option(parsing: .unconditional, help: ArgumentHelp("Class folders only: the seed of the carving (default: 0).", valueName: "n"))
    var splitSeed: UInt64?

    @Flag(help: "Class folders only: skip images that cannot be read, and say how many, instead of stopping at the first.")
    var skipBadImages = false

    /// The flags given, for refusing them where they do not apply.
    var given: [String] {
        [("--image-size", imageSize != nil), ("--keep-aspect", keepAspect), ("--channels", channels != nil),
         ("--validation-split", validationSplit != nil), ("--test-split", testSplit != nil),
         ("--split-seed", splitSeed != nil), ("--skip-bad-images", skipBadImages)].filter(\.1).map(\.0)
    }

    /// The flags again, for a printed command that must read the same data.
    var arguments: [String] {
        var flags: [String] = []
        if let imageSize { flags += ["--image-size", imageSize] }
        if keepAspect { flags.append("--keep-aspect") }
        if let channels { flags += ["--channels", String(channels)] }
        if let validationSplit { flags += ["--validation-split", String(validationSplit)] }
        if let testSplit { flags += ["--test-split", String(testSplit)] }
        if let splitSeed { flags += ["--split-seed", String(splitSeed)] }
        if skipBadImages { flags.append("--skip-bad-images") }
        return flags
    }

    func validate() throws {
        if keepAspect, imageSize == nil { throw ValidationError("--keep-aspect needs --image-size: the size to fit each image into") }
        _ = try folderOptions()
    }

    /// "28x28" as (height, width).
    static func size(_ text: String) throws -> (height: Int, width: Int) {
        let parts = text.lowercased().split(separator: "x", omittingEmptySubsequences: false)
        guard parts.count == 2, let height = Int(parts[0]), let width = Int(parts[1]), height >= 1, width >= 1 else {
            throw ValidationError("--image-size must be HEIGHTxWIDTH with both at least 1, e.g. 32x32; got '\(text)'")
        }
        return (height, width)
    }

    /// The library's options for these flags, checked by the library.
    func folderOptions() throws -> ImageFolderOptions {
        var options = ImageFolderOptions()
        if let imageSize {
            let size = try Self.size(imageSize)
            options.size = (width: size.width, height: size.height)
        }
        options.keepAspect = keepAspect
        options.channels = channels ?? options.channels
        options.validationFraction = validationSplit ?? options.validationFraction
        options.testFraction = testSplit ?? options.testFraction
        options.seed = splitSeed ?? 0
        options.skipBadImages = skipBadImages
        do {
            try options.validate()
        } catch ImageFolderError.badOption(let option, let problem) {
            let flags = ["validationFraction": "--validation-split", "testFraction": "--test-split", "channels": "--channels"]
            let words = problem.replacingOccurrences(of: "testFraction", with: "--test-split")
            throw ValidationError("\(flags[option] ?? option) \(words)")
        } catch let error as BitmapError {
            throw ValidationError("--image-size: \(error)")
        }
        return options
    }

    /// "cnn: reading pets [##########----------]  50% (500 of 1000 images)".
    static func bar(_ progress: ImageFolderProgress, path: String, width: Int = 30) -> String {
        let fraction = progress.total == 0 ? 1 : Double(progress.done) / Double(progress.total)
        let filled = min(width, Int(fraction * Double(width)))
        return "cnn: reading \(path) [" + String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
            + "] " + String(format: "%3d%%", Int(fraction * 100)) + " (\(progress.done) of \(progress.total) images)"
    }

    /// Reads the class folders at `path`, with a progress bar on a terminal and a
    /// warning for the images skipped.
    func load(_ path: String) throws -> DataSplits {
        let live = isatty(STDERR_FILENO) == 1
        let data = try ImageFolder.load(path, options: try folderOptions()) { progress in
            guard live else { return }
            FileHandle.standardError.write(Data(("\r" + Self.bar(progress, path: path) + "\u{1B}[K").utf8))
        }
        if live { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        if let first = data.skipped.first {
            FileHandle.standardError.write(Data(("cnn: warning: skipped \(data.skipped.count) image\(data.skipped.count == 1 ? "" : "s") "
                + "that could not be read (the first: \(first))\n").utf8))
        }
        return data.splits
    }
}
