// DataOptions.swift: the flags that say which dataset a command reads.
//
// Every command that reads MNIST takes the same flags: --data names
// network3's pickle (the default, data/mnist.pkl.gz) or a folder holding the
// four standard IDX files (plain or gzipped); --train-images, --train-labels,
// --test-images and --test-labels name IDX files one by one instead.  With
// IDX files the validation split is the last --validation-size images of the
// training file (default 10,000, as in the pickle); the pickle fixes its own
// split, so --validation-size with it is refused rather than ignored.
// A missing pickle gets this tool's advice on where to get one; the
// library's message only says that the file is not there.  A folder of
// class folders of images (no IDX files in it) is read as your own data,
// shaped by ImageOptions' flags.

import ArgumentParser
import Foundation
import SwiftNet
import SwiftNetImages

struct DataOptions: ParsableArguments {
    static let defaultPickle = "data/mnist.pkl.gz"

    @Option(help: ArgumentHelp("network3.py's MNIST pickle, a folder of class folders of PNG or PGM images "
        + "(one folder per class, or train/, val/ and test/ of them), or a folder holding the four IDX files "
        + "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte "
        + "(each may be gzipped) (default: \(defaultPickle)).", valueName: "path"))
    var data: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("IDX files only: how many images at the end of the training file to hold out "
        + "for validation (default: 10000, the pickle's split).", valueName: "n"))
    var validationSize: Int?

    @Option(help: ArgumentHelp("An IDX training image file, instead of --data (give all four files).", valueName: "path"))
    var trainImages: String?

    @Option(help: ArgumentHelp("An IDX training label file, instead of --data.", valueName: "path"))
    var trainLabels: String?

    @Option(help: ArgumentHelp("An IDX test image file, instead of --data.", valueName: "path"))
    var testImages: String?

    @Option(help: ArgumentHelp("An IDX test label file, instead of --data.", valueName: "path"))
    var testLabels: String?

    @OptionGroup var imageOptions: ImageOptions

    /// The four IDX files named one by one, if they were.
    private var namedFiles: IDXFiles? {
        guard let trainImages, let trainLabels, let testImages, let testLabels else { return nil }
        return IDXFiles(trainingImages: trainImages, trainingLabels: trainLabels, testImages: testImages, testLabels: testLabels)
    }

    /// The pickle or folder --data names (or the default pickle).
    var path: String { data ?? Self.defaultPickle }

    /// The flags that name the same data again (empty for the default pickle), for a printed command.
    var arguments: [String] {
        var flags: [String] = []
        if let data { flags += ["--data", data] }
        for (flag, value) in [("--train-images", trainImages), ("--train-labels", trainLabels),
                              ("--test-images", testImages), ("--test-labels", testLabels)] {
            if let value { flags += [flag, value] }
        }
        if let validationSize { flags += ["--validation-size", String(validationSize)] }
        return flags + imageOptions.arguments
    }

    /// Every file the flags name for reading, with its flag: the pickle, the IDX files a
    /// folder holds, or the four named ones; outputs are checked against these.
    var inputFiles: [NamedFile] {
        if let namedFiles {
            return [("--train-images", namedFiles.trainingImages), ("--train-labels", namedFiles.trainingLabels),
                    ("--test-images", namedFiles.testImages), ("--test-labels", namedFiles.testLabels)].map(NamedFile.init)
        }
        guard isFolder(path), let files = try? IDXFiles.inFolder(path) else { return [NamedFile(flag: "--data", path: path)] }
        return [files.trainingImages, files.trainingLabels, files.testImages, files.testLabels].map { NamedFile(flag: "--data", path: $0) }
    }

    /// The data in words for messages: the pickle or folder, or the IDX training image file.
    var description: String { namedFiles?.trainingImages ?? path }

    private var readsIDX: Bool { namedFiles != nil || (isFolder(path) && !isClassFolder(path)) }

    func validate() throws {
        let fileFlags = [("--train-images", trainImages), ("--train-labels", trainLabels),
                         ("--test-images", testImages), ("--test-labels", testLabels)]
        let given = fileFlags.filter { $0.1 != nil }.map(\.0)
        if !given.isEmpty {
            guard given.count == fileFlags.count else {
                let missing = fileFlags.filter { $0.1 == nil }.map(\.0)
                throw ValidationError("\(given.joined(separator: ", ")) also need\(given.count == 1 ? "s" : "") "
                    + "\(missing.joined(separator: ", ")): name all four IDX files, or give --data a folder holding them")
            }
            if let data { throw ValidationError("--data \(data) cannot be combined with --train-images and the other IDX file flags") }
        }
        if let flag = imageOptions.given.first, namedFiles != nil || !isClassFolder(path) {
            throw ValidationError("\(flag) applies to a folder of class folders of images; \(description) is "
                + (namedFiles != nil || isFolder(path) ? "IDX files" : "network3's pickle") + ", which fix their own images and splits")
        }
        if let validationSize {
            guard validationSize >= 1 else { throw ValidationError("--validation-size must be at least 1, got \(validationSize)") }
            guard readsIDX else {
                throw ValidationError("--validation-size applies only to IDX files (a folder, or --train-images ...); "
                    + "\(path) is not a folder, and network3's pickle fixes its own 10,000 validation images")
            }
        }
    }

    /// How to get the pickle, added to the message when it is missing.
    static let fetchHint = "run scripts/fetch-mnist.sh"

    /// Reads network3's pickle, adding `fetchHint` to the message when it is missing.
    /// - Throws: `DataFileError` naming the file at fault.
    static func loadPickle(_ path: String) throws -> DataSplits {
        do {
            return try MNIST.load(contentsOf: path)
        } catch let error as DataFileError where error.kind == .missing {
            throw DataFileError(.missing, path: error.path, offset: error.offset, reason: "\(error.reason) (\(fetchHint))")
        }
    }

    /// Reads the dataset the flags name.
    /// - Throws: `DataFileError` naming the file at fault.
    func load() throws -> DataSplits {
        let validationSize = validationSize ?? MNIST.defaultValidationSize
        if let namedFiles { return try MNIST.load(idx: namedFiles, validationSize: validationSize) }
        if isClassFolder(path) { return try imageOptions.load(path) }
        if isFolder(path) { return try MNIST.load(idx: try IDXFiles.inFolder(path), validationSize: validationSize) }
        do {
            return try Self.loadPickle(path)
        } catch let error as DataFileError where error.kind != .missing {
            // One IDX file where the pickle or the folder was expected: say so, not "opcode 0x00".
            guard let dimensions = IDX.dimensions(ofFileAt: path) else { throw error }
            throw DataFileError(.unexpectedContents, path: path, reason: "is an IDX \(dimensions == 1 ? "label" : "image") file, not network3's "
                + "pickle; give --data the folder holding all four IDX files, or name them with --train-images, "
                + "--train-labels, --test-images and --test-labels")
        }
    }
}

private func isFolder(_ path: String) -> Bool {
    var isFolder: ObjCBool = false
    return FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) && isFolder.boolValue
}

/// A folder of class folders: it has subfolders and no IDX files of its own.
private func isClassFolder(_ path: String) -> Bool {
    guard isFolder(path), (try? IDXFiles.inFolder(path)) == nil,
          let names = try? FileManager.default.contentsOfDirectory(atPath: path) else { return false }
    return names.contains { !$0.hasPrefix(".") && isFolder((path as NSString).appendingPathComponent($0)) }
}
