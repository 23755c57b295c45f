// Dataset: one split of an image dataset, held compactly in memory.
//
// MNIST as network3.py stores it is 70,000 x 784 float32 pixels, 220 MB.
// Every one of those floats is a whole number of 256ths, so a byte per pixel
// holds the same information exactly in a quarter of the space; the training
// code turns a mini-batch of bytes back into floats (byte / 256) as it goes.
// Nothing here is particular to MNIST: images have any channels x height x
// width, labels are classes 0..<classCount, and the classes may have names
// (CIFAR-style "cat", "dog"; MNIST's are "0" to "9").  Everything handed to
// the initialiser is checked, and a mistake is a thrown DatasetError.

/// One split of an image dataset: pixels as bytes (value = byte / 256, exactly the seed's floats), NCHW per image.
///
/// ```swift
/// let split = try Dataset(name: "training", channels: 3, height: 32, width: 32,
///                         pixels: bytes, labels: labels, classCount: 4,
///                         classNames: ["red", "green", "blue", "stripes"])
/// ```
public struct Dataset: Sendable {
    /// Which split this is: "training", "validation" or "test".
    public let name: String
    /// The shape of one image: channels, then rows, then columns.
    public let channels: Int, height: Int, width: Int
    /// Every image in turn, each `imageSize` bytes in (channel, row, column) order;
    /// a pixel's value is `Float(byte) / 256`.
    public let pixels: [UInt8]
    /// The class of each image, one per image, each in `0..<classCount`.
    public let labels: [Int32]
    /// The number of classes the labels are drawn from (not all need occur).
    public let classCount: Int
    /// A name for each class, `classNames[label]`, or nil when the classes are only numbered.
    public let classNames: [String]?

    /// The number of images.
    public var count: Int { labels.count }
    /// The number of pixels (bytes) in one image.
    public var imageSize: Int { channels * height * width }

    /// Creates a split from float pixel values in [0, 1], such as a decoded
    /// image library gives, one image after another in (channel, row, column)
    /// order.  They are stored as bytes, as every Dataset is: each value
    /// becomes the nearest multiple of 1/256 (1.0 becomes 255/256), so a
    /// value that already is one (byte / 256) comes back exactly.
    /// - Parameters:
    ///   - name: which split this is, for messages.
    ///   - channels: channels per image.
    ///   - height: rows per image.
    ///   - width: columns per image.
    ///   - values: `labels.count * channels * height * width` values in [0, 1].
    ///   - labels: one class per image, in `0..<classCount`.
    ///   - classCount: the number of classes.
    ///   - classNames: a name per class, if you have them.
    /// - Throws: `DatasetError` for a value outside [0, 1] or not finite, and as the byte initialiser does.
    public init(name: String, channels: Int, height: Int, width: Int, values: [Float], labels: [Int32],
                classCount: Int, classNames: [String]? = nil) throws {
        if let bad = values.firstIndex(where: { !($0 >= 0 && $0 <= 1) }) {
            throw DatasetError.valueOutOfRange(split: name, index: bad, value: values[bad])
        }
        let pixels = values.map { UInt8(min(255, ($0 * 256).rounded())) }
        try self.init(name: name, channels: channels, height: height, width: width, pixels: pixels, labels: labels,
                      classCount: classCount, classNames: classNames)
    }

    /// Creates a split from pixels and labels that must agree in size.
    /// - Parameters:
    ///   - name: which split this is, for messages.
    ///   - channels: channels per image (1 for MNIST, 3 for RGB).
    ///   - height: rows per image.
    ///   - width: columns per image.
    ///   - pixels: `labels.count * channels * height * width` bytes.
    ///   - labels: one class per image, each in `0..<classCount`.
    ///   - classCount: the number of classes, at least 1.
    ///   - classNames: one name per class, or nil.
    /// - Throws: `DatasetError` naming the split and the values at fault: a shape that is
    ///   not positive, a pixel count that does not match, a class count below 1, a label
    ///   outside the classes, or class names that do not number `classCount`.
    public init(name: String, channels: Int, height: Int, width: Int, pixels: [UInt8], labels: [Int32],
                classCount: Int, classNames: [String]? = nil) throws {
        guard channels > 0, height > 0, width > 0 else {
            throw DatasetError.nonPositiveShape(split: name, channels: channels, height: height, width: width)
        }
        let (imageSize, overflow) = channels.multipliedReportingOverflow(by: height * width)
        let (expected, overflowTotal) = labels.count.multipliedReportingOverflow(by: imageSize)
        guard !overflow, !overflowTotal, pixels.count == expected else {
            throw DatasetError.pixelCountMismatch(split: name, pixels: pixels.count, labels: labels.count,
                                                  expected: overflow || overflowTotal ? Int.max : expected)
        }
        guard classCount > 0 else { throw DatasetError.nonPositiveClassCount(split: name, classCount: classCount) }
        if let index = labels.firstIndex(where: { $0 < 0 || Int($0) >= classCount }) {
            throw DatasetError.labelOutOfRange(split: name, index: index, label: labels[index], classCount: classCount)
        }
        if let classNames, classNames.count != classCount {
            throw DatasetError.classNameCountMismatch(split: name, names: classNames.count, classCount: classCount)
        }
        self.init(checkedName: name, channels: channels, height: height, width: width, pixels: pixels,
                  labels: labels, classCount: classCount, classNames: classNames)
    }

    /// Stores values already known to be consistent.
    private init(checkedName name: String, channels: Int, height: Int, width: Int, pixels: [UInt8], labels: [Int32],
                 classCount: Int, classNames: [String]?) {
        self.name = name
        self.channels = channels
        self.height = height
        self.width = width
        self.pixels = pixels
        self.labels = labels
        self.classCount = classCount
        self.classNames = classNames
    }

    /// The first `n` images, for quick runs and tests.  Total: a count above `count`
    /// keeps every image, and a count of zero or below keeps none.
    /// - Parameters:
    ///   - n: how many images to keep.
    public func prefix(_ n: Int) -> Dataset {
        let kept = max(0, min(n, count))
        return Dataset(checkedName: name, channels: channels, height: height, width: width,
                       pixels: Array(pixels[0..<(kept * imageSize)]), labels: Array(labels[0..<kept]),
                       classCount: classCount, classNames: classNames)
    }

    /// The class names, unless they are only the class numbers ("0", "1", ...), as
    /// MNIST's are: the names worth keeping in a model and drawing in a key.
    public var meaningfulClassNames: [String]? {
        guard let classNames, classNames != (0..<classNames.count).map(String.init) else { return nil }
        return classNames
    }

    /// The name of class `label`: its entry in `classNames`, or the number itself.
    public func className(of label: Int) -> String {
        if let classNames, classNames.indices.contains(label) { return classNames[label] }
        return String(label)
    }
}
