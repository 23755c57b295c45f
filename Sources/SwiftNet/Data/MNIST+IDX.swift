// MNIST+IDX.swift: MNIST's three splits from the four standard IDX files.
//
// The files are distributed as a training set of 60,000 images and a test
// set of 10,000.  network3.py's pickle splits the training set: its first
// 50,000 images are the pickle's training split and its last 10,000 the
// validation split.  Loading IDX files does the same, with the validation
// split's size a parameter (default 10,000).  (The pickle's per-class
// counts of training plus validation add up to the standard training
// file's; its test split is the standard test file.)  A folder is searched
// for the standard names, gzipped or not, in the spellings people download
// them under.

import Foundation

/// Where the four IDX files of an MNIST-style dataset are.
public struct IDXFiles: Sendable, Equatable {
    /// The four files' paths: training images and labels, test images and labels.
    public var trainingImages: String, trainingLabels: String, testImages: String, testLabels: String

    /// Names the four files.
    public init(trainingImages: String, trainingLabels: String, testImages: String, testLabels: String) {
        self.trainingImages = trainingImages
        self.trainingLabels = trainingLabels
        self.testImages = testImages
        self.testLabels = testLabels
    }

    /// The standard names, in the order training images, training labels, test images, test labels.
    public static let standardNames = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                       "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]

    /// The names a standard file may have, in order of preference: as is, gzipped,
    /// then with a dot before "idx" (`train-images.idx3-ubyte`), as is or gzipped.
    /// The uncompressed file wins, so a folder where `gunzip -k` left both works.
    public static func spellings(of name: String) -> [String] {
        let dotted = name.replacingOccurrences(of: "-idx", with: ".idx")
        return [name, name + ".gz", dotted, dotted + ".gz"]
    }

    /// Finds the four standard files in `folder`.
    /// - Parameters:
    ///   - folder: a folder holding them.
    /// - Returns: their paths.
    /// - Throws: `DataFileError` naming the folder and the first file it lacks.
    public static func inFolder(_ folder: String) throws -> IDXFiles {
        let paths = try standardNames.map { name in
            let candidates = spellings(of: name).map { folder.hasSuffix("/") ? folder + $0 : folder + "/" + $0 }
            guard let found = candidates.first(where: isRegularFile) else {
                throw DataFileError(.missing, path: folder, reason: "no \(name) (nor \(name).gz, nor the same with "
                    + "\".idx\" for \"-idx\") in this folder; it needs the four IDX files "
                    + standardNames.joined(separator: ", "))
            }
            return found
        }
        return IDXFiles(trainingImages: paths[0], trainingLabels: paths[1], testImages: paths[2], testLabels: paths[3])
    }
}

extension MNIST {
    /// The validation split's size when it is cut from an IDX training set, as in network3's pickle.
    public static let defaultValidationSize = 10_000

    /// Reads the four IDX files and splits the training set: its last
    /// `validationSize` images become the validation split, as in network3's pickle.
    /// - Parameters:
    ///   - files: the four files, each gzipped or not.
    ///   - validationSize: how many of the training file's images, from its end, to hold out.
    ///   - classes: labels must lie in `0..<classes`.
    /// - Returns: the training, validation and test splits, of the files' image shape and
    ///   `classes` classes, named "0" to "9" when there are ten (MNIST's digits), else unnamed.
    /// - Throws: `DataFileError` naming the file at fault: a problem of one file (see
    ///   `IDX`), image and label counts that differ, test images of another shape than
    ///   the training images, or a validation size that leaves no training images.
    public static func load(idx files: IDXFiles, validationSize: Int = defaultValidationSize,
                            classes: Int = classCount) throws -> DataSplits {
        let trainingImages = try IDX.readImages(contentsOf: files.trainingImages)
        let trainingLabels = try IDX.readLabels(contentsOf: files.trainingLabels, classes: classes)
        try checkCounts(trainingImages, files.trainingImages, trainingLabels, files.trainingLabels)
        guard validationSize >= 1, validationSize < trainingImages.count else {
            throw DataFileError(.inconsistent, path: files.trainingImages, reason: "a validation size of \(validationSize) does not fit its "
                + "\(trainingImages.count) images: at least 1 must be held out and at least 1 left to train on")
        }
        let testImages = try IDX.readImages(contentsOf: files.testImages)
        let testLabels = try IDX.readLabels(contentsOf: files.testLabels, classes: classes)
        try checkCounts(testImages, files.testImages, testLabels, files.testLabels)
        let shape = { (images: IDX.Images) in "\(images.channels)x\(images.height)x\(images.width)" }
        guard shape(testImages) == shape(trainingImages) else {
            throw DataFileError(.inconsistent, path: files.testImages, reason: "its images are \(shape(testImages)); the training images "
                + "in \(files.trainingImages) are \(shape(trainingImages))")
        }

        let kept = trainingImages.count - validationSize
        let imageSize = trainingImages.pixels.count / trainingImages.count
        let names = classes == classCount ? classNames : nil
        func split(_ name: String, _ images: IDX.Images, _ labels: ArraySlice<Int32>, from start: Int) throws -> Dataset {
            try Dataset(name: name, channels: images.channels, height: images.height, width: images.width,
                        pixels: Array(images.pixels[(start * imageSize)..<((start + labels.count) * imageSize)]),
                        labels: Array(labels), classCount: classes, classNames: names)
        }
        return try DataSplits(training: split("training", trainingImages, trainingLabels[0..<kept], from: 0),
                              validation: split("validation", trainingImages, trainingLabels[kept...], from: kept),
                              test: split("test", testImages, testLabels[...], from: 0))
    }

    private static func checkCounts(_ images: IDX.Images, _ imagesPath: String, _ labels: [Int32], _ labelsPath: String) throws {
        guard images.count == labels.count else {
            throw DataFileError(.inconsistent, path: labelsPath, reason: "holds \(labels.count) labels, but \(imagesPath) "
                + "holds \(images.count) images; each image needs one label")
        }
    }
}

private func isRegularFile(_ path: String) -> Bool {
    var isFolder: ObjCBool = false
    return FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) && !isFolder.boolValue
}
