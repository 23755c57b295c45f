// PictureReading.swift: how a trained network reads a picture someone gives it.
//
// There are two kinds of model, told apart by whether they name their
// classes.  A digit model (1x28x28 input, no class names: trained on MNIST)
// reads a picture as MNIST draws digits: DigitPreprocessing crops, scales
// and centres the ink, and keeps a picture already in MNIST's form as it
// is.  A model trained on a folder of images names its classes and reads a
// picture as its folder's images were read: brought to its channels and
// resampled to its size (keepAspect pads as --keep-aspect did in training),
// laid out as planes.  `cnn predict` and `cnn serve` both read through
// here, so a file and an upload of the same bytes get the same answer.

import SwiftNet

/// A network that cannot read pictures: its input is neither a digit nor an image.
public enum PictureInputError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A network that names no classes reads digits, so its input must be 1x28x28.
    case notADigitNetwork(inputShape: SampleShape)
    /// A picture can be read as 1 (gray) or 3 (RGB) channels only.
    case unsupportedChannels(Int)

    /// The problem in one line, without the model's path.
    public var description: String {
        switch self {
        case .notADigitNetwork(let shape):
            let side = DigitPreprocessing.side
            return "its network takes inputs of \(shape), not the 1x\(side)x\(side) gray digits a picture is preprocessed into, "
                + "and it names no classes (a model trained on a folder of images does, and reads pictures at its own size)"
        case .unsupportedChannels(let channels):
            return "its network takes \(channels)-channel inputs; a picture can be read as 1 (gray) or 3 (RGB) channels"
        }
    }
}

/// How a network reads a picture.
public enum PictureReading: Equatable, Sendable {
    /// MNIST's preprocessing into a 28x28 gray digit, light on black.
    case digit
    /// Converted to `channels` and resampled to `width` x `height` (padded, keeping
    /// the proportions, when `keepAspect`), as an image folder is read.
    case image(channels: Int, width: Int, height: Int, keepAspect: Bool)

    /// How `network` reads pictures: as digits when it names no classes, else as its own images.
    /// - Throws: `PictureInputError` for a network whose input no picture can become.
    public init(for network: Network, keepAspect: Bool = false) throws {
        let shape = network.inputShape
        if network.classNames == nil {
            let side = DigitPreprocessing.side
            guard shape == SampleShape(channels: 1, height: side, width: side) else {
                throw PictureInputError.notADigitNetwork(inputShape: shape)
            }
            self = .digit
        } else {
            guard shape.channels == 1 || shape.channels == 3 else {
                throw PictureInputError.unsupportedChannels(shape.channels)
            }
            self = .image(channels: shape.channels, width: shape.width, height: shape.height, keepAspect: keepAspect)
        }
    }

    /// The input's shape: what `view(of:named:)` returns.
    public var shape: SampleShape {
        switch self {
        case .digit: return SampleShape(channels: 1, height: DigitPreprocessing.side, width: DigitPreprocessing.side)
        case .image(let channels, let width, let height, _): return SampleShape(channels: channels, height: height, width: width)
        }
    }

    /// The view the network sees of `image`: `shape.count` bytes in (channel, row,
    /// column) order, a value being byte / 256 as in a `Dataset`.
    /// - Parameters:
    ///   - image: the decoded picture, of any size and colour.
    ///   - name: what an error calls the image (its path, or "the upload").
    /// - Throws: `ImageError` for a digit picture that shows no ink; `BitmapError` for an impossible size.
    public func view(of image: Bitmap, named name: String) throws -> [UInt8] {
        switch self {
        case .digit:
            guard let pixels = DigitPreprocessing.mnistPixels(of: image) else {
                throw ImageError(path: name, problem: "shows no digit: it has no ink darker or lighter than its border")
            }
            return pixels
        case .image(let channels, let width, let height, let keepAspect):
            var options = ImageFolderOptions()
            options.channels = channels
            options.size = (width: width, height: height)
            options.keepAspect = keepAspect
            return try ImageFolder.networkPlanes(of: image, named: name, options: options, width: width, height: height)
        }
    }

    /// Reads a PNG or binary PGM file and returns the view the network sees of it.
    /// - Throws: `ImageError` naming the file, as `view(of:named:)` and `Bitmap(contentsOf:)` do.
    public func view(contentsOf path: String) throws -> [UInt8] {
        try view(of: Bitmap(contentsOf: path), named: path)
    }
}
