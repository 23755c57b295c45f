// DatasetError.swift: images and labels in memory that do not make a data set.
//
// A Dataset is built from arrays a caller hands in, often straight from a
// loader of their own, so its initialiser checks them and throws instead of
// trapping: an image shape with a zero in it, a pixel count that is not the
// labels' count times the image size, a label outside the classes, class
// names that do not number the classes, or three splits that do not agree.
// Each case holds the values at fault and prints one line naming the split.
// Problems found in a file are DataFileError's; these are about values.

/// Images and labels that cannot form a `Dataset` or `DataSplits`; one line each, naming the split.
public enum DatasetError: Error, Equatable, Sendable, CustomStringConvertible {
    /// An image extent is zero or negative.
    case nonPositiveShape(split: String, channels: Int, height: Int, width: Int)
    /// `pixels` bytes were given for `labels` labels, where `expected` were needed.
    case pixelCountMismatch(split: String, pixels: Int, labels: Int, expected: Int)
    /// The number of classes is zero or negative.
    case nonPositiveClassCount(split: String, classCount: Int)
    /// Image `index` has `label`, outside `0..<classCount`.
    case labelOutOfRange(split: String, index: Int, label: Int32, classCount: Int)
    /// `names` class names were given for `classCount` classes.
    case classNameCountMismatch(split: String, names: Int, classCount: Int)
    /// Value `index` of a float image is not finite or lies outside [0, 1].
    case valueOutOfRange(split: String, index: Int, value: Float)
    /// The splits of one `DataSplits` differ in image shape, class count or class names;
    /// `difference` says how.
    case splitsDisagree(difference: String)

    /// The error in one line, naming what is at fault.
    public var description: String {
        switch self {
        case let .nonPositiveShape(split, channels, height, width):
            return "dataset '\(split)': image shape (\(channels), \(height), \(width)) must be positive"
        case let .pixelCountMismatch(split, pixels, labels, expected):
            return "dataset '\(split)': \(pixels) pixel bytes for \(labels) labels; expected \(expected)"
        case let .nonPositiveClassCount(split, classCount):
            return "dataset '\(split)': \(classCount) classes; a dataset needs at least one"
        case let .labelOutOfRange(split, index, label, classCount):
            return "dataset '\(split)': image \(index) has label \(label), outside the \(classCount) classes 0...\(classCount - 1)"
        case let .classNameCountMismatch(split, names, classCount):
            return "dataset '\(split)': \(names) class names for \(classCount) classes; give one name per class"
        case let .valueOutOfRange(split, index, value):
            return "dataset '\(split)': value \(index) is \(value); pixel values must lie in [0, 1]"
        case let .splitsDisagree(difference):
            return "the training, validation and test splits disagree: \(difference)"
        }
    }
}
