// MNIST: the three splits of network3.py's mnist.pkl.gz.
//
// The file is a pickle (Python 2's, or a Python 3 port's) of
// ((training_x, training_y), (validation_x, validation_y), (test_x, test_y)):
// x is float32 of shape (N, 784), a 28x28 image per row, and y is int64 of shape (N,), a digit per
// image, with N = 50,000, 10,000 and 10,000. RestrictedPickleDecoder reads it
// without executing anything; this file checks that what it found has
// exactly that structure (a port that saved lists for tuples is read alike) and hands out the splits as byte-pixel Datasets.
// This loader and its IDX sibling (MNIST+IDX.swift) are the only places
// that know MNIST is 28x28 digits in ten classes; everything else reads the
// shape and classes from the DataSplits they return.

/// MNIST as network3.py uses it: 50,000 training, 10,000 validation and
/// 10,000 test images of 1x28x28 pixels, each labelled with its digit.
public enum MNIST {
    static let channels = 1, height = 28, width = 28
    /// MNIST's ten classes, the digits.
    public static let classCount = 10
    /// The digits' names, "0" to "9".
    public static let classNames = (0..<classCount).map(String.init)

    /// The most bytes the pickle's arrays may take in memory unless told
    /// otherwise: 1 GiB, or `MemoryBudget.default` if that is lower.
    /// mnist.pkl.gz needs 56 MB (pixels are kept as bytes), or 275 MB if it
    /// was re-saved at pickle protocol 5.
    public static var defaultMemoryLimit: Int { RestrictedPickleDecoder.defaultMemoryLimit }

    /// Reads network3.py's mnist.pkl.gz (or the same pickle uncompressed).
    ///
    /// The pickle is decoded by a restricted reader that runs no code from the
    /// file; Python 2's cPickle and Python 3's pickle at protocols 0 to 5, with
    /// numpy 1 or 2, are read. The file must hold the structure described above;
    /// every pixel must be a whole number of 256ths in [0, 1) and every label a digit 0...9.
    /// - Parameters:
    ///   - path: the file, gzipped or not.
    ///   - memoryLimit: the most bytes the decoded arrays (and the pickle's other
    ///     values) may take while the file is read.
    /// - Returns: the three splits, 1x28x28 images in ten classes named "0" to "9".
    /// - Throws: `DataFileError` if the file is missing (`.missing`), damaged or
    ///   truncated (`.damaged`), needs more than `memoryLimit` bytes (`.tooLarge`),
    ///   holds anything but the expected arrays (`.unexpectedContents`, `.badShape`),
    ///   or a label that is not a digit (`.badLabel`).
    public static func load(contentsOf path: String, memoryLimit: Int = defaultMemoryLimit) throws -> DataSplits {
        let input = try UncompressedByteStream(path: path)
        let root = try RestrictedPickleDecoder.decode(from: input, memoryLimit: memoryLimit)
        let splitNames = ["training", "validation", "test"]
        guard let splits = root.sequenceItems, splits.count == splitNames.count else {
            throw DataFileError(.unexpectedContents, path: path, reason: "the pickle holds \(root.summary); "
                + "expected a tuple (training, validation, test) as network3.py's mnist.pkl.gz has")
        }
        let datasets = try zip(splitNames, splits).map { name, split in
            try dataset(named: name, from: split, path: path)
        }
        return try DataSplits(training: datasets[0], validation: datasets[1], test: datasets[2])
    }

    /// Checks one (images, labels) pair and turns it into a Dataset.
    private static func dataset(named name: String, from split: PickleValue, path: String) throws -> Dataset {
        guard let pair = split.sequenceItems, pair.count == 2,
              case .array(let imageArray) = pair[0], case .array(let labelArray) = pair[1]
        else {
            throw DataFileError(.unexpectedContents, path: path, reason: "the \(name) split is \(split.summary); "
                + "expected a tuple of two arrays (images, labels)")
        }
        guard let images = imageArray.contents, let labels = labelArray.contents else {
            throw DataFileError(.unexpectedContents, path: path, reason: "an array of the \(name) split was never given its data (no BUILD)")
        }
        let imageSize = channels * height * width
        guard case .pixelBytes(let pixels) = images.elements, images.shape.count == 2,
              images.shape[1] == imageSize
        else {
            throw DataFileError(.badShape, path: path, offset: images.dataOffset,
                                reason: "the \(name) images are \(images.elements.kind.code) of shape "
                                    + "\(describe(images.shape)); expected f4 of shape (N, \(imageSize)), "
                                    + "a \(height)x\(width) image per row")
        }
        let count = images.shape[0]
        guard case .int64(let wideLabels) = labels.elements, labels.shape == [count] else {
            throw DataFileError(.unexpectedContents, path: path, offset: labels.dataOffset,
                                reason: "the \(name) labels are \(labels.elements.kind.code) of shape "
                                    + "\(describe(labels.shape)); expected i8 of shape (\(count),), one per image")
        }
        guard count > 0 else {
            throw DataFileError(.badShape, path: path, offset: images.dataOffset, reason: "the \(name) split has no images")
        }
        var digits = [Int32](repeating: 0, count: count)
        for (index, label) in wideLabels.enumerated() {
            guard (0..<Int64(classCount)).contains(label) else {
                throw DataFileError(.badLabel, path: path, offset: labels.dataOffset + Int64(index) * 8,
                                    reason: "\(name) label \(label) (image \(index)) is not a digit 0...9")
            }
            digits[index] = Int32(label)
        }
        return try Dataset(name: name, channels: channels, height: height, width: width, pixels: pixels, labels: digits,
                           classCount: classCount, classNames: classNames)
    }

    private static func describe(_ shape: [Int]) -> String {
        "(" + shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? ",)" : ")")
    }
}
