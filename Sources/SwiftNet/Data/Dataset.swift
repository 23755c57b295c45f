// Dataset: one split of an image dataset, held compactly in memory.
//
// MNIST as network3.py stores it is 70,000 x 784 float32 pixels, 220 MB.
// Every one of those floats is a whole number of 256ths, so a byte per pixel
// holds the same information exactly in a quarter of the space; the training
// code turns a mini-batch of bytes back into floats (byte / 256) as it goes.

/// One split of an image dataset: pixels as bytes (value = byte / 256, exactly the seed's floats), NCHW per image.
public struct Dataset: Sendable {
    /// Which split this is: "training", "validation" or "test".
    public let name: String
    /// The shape of one image: channels, then rows, then columns.
    public let channels: Int, height: Int, width: Int
    /// Every image in turn, each `imageSize` bytes in (channel, row, column) order;
    /// a pixel's value is `Float(byte) / 256`.
    public let pixels: [UInt8]
    /// The class of each image, one per image.
    public let labels: [Int32]

    /// The number of images.
    public var count: Int { labels.count }
    /// The number of pixels (bytes) in one image.
    public var imageSize: Int { channels * height * width }

    /// Creates a split from pixels and labels that must agree in size.
    /// - Parameters:
    ///   - name: which split this is, for messages.
    ///   - channels: channels per image (1 for MNIST).
    ///   - height: rows per image.
    ///   - width: columns per image.
    ///   - pixels: `labels.count * channels * height * width` bytes.
    ///   - labels: one class per image.
    public init(name: String, channels: Int, height: Int, width: Int, pixels: [UInt8], labels: [Int32]) {
        precondition(channels > 0 && height > 0 && width > 0,
                     "Dataset '\(name)': image shape (\(channels), \(height), \(width)) must be positive")
        let imageSize = channels * height * width
        precondition(pixels.count == labels.count * imageSize,
                     "Dataset '\(name)': \(pixels.count) pixel bytes for \(labels.count) labels of "
                         + "\(channels)x\(height)x\(width) images; expected \(labels.count * imageSize)")
        self.name = name
        self.channels = channels
        self.height = height
        self.width = width
        self.pixels = pixels
        self.labels = labels
    }

    /// The first `n` images (all of them if there are fewer), for quick runs and tests.
    /// - Parameters:
    ///   - n: how many images to keep; must not be negative.
    public func prefix(_ n: Int) -> Dataset {
        precondition(n >= 0, "Dataset '\(name)': prefix(\(n)) needs a count that is not negative")
        let kept = min(n, count)
        return Dataset(name: name, channels: channels, height: height, width: width,
                       pixels: Array(pixels[0..<(kept * imageSize)]), labels: Array(labels[0..<kept]))
    }
}
