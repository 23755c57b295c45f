// DataSplits.swift: the three splits a run of the seed uses.
//
// network3.py trains on one split, picks its best epoch on a second and
// reports that epoch's accuracy on a third.  DataSplits holds the three for
// any data set (MNIST's pickle and IDX files are one loader of them, in
// MNIST.swift), and checks once that they describe the same problem: one
// image shape, one number of classes, the same class names.  So code that
// takes DataSplits can read the shape and the classes from it rather than
// assume 28x28 digits.

/// Training, validation and test splits of one image shape and one set of classes.
///
/// ```swift
/// let data = try DataSplits(training: training, validation: validation, test: test)
/// let accuracy = try network.train(trainingData: data.training, validationData: data.validation,
///                                  testData: data.test, epochs: 3, eta: 0.1)
/// ```
public struct DataSplits: Sendable {
    /// The images to train on.
    public let training: Dataset
    /// The images that choose the best epoch.
    public let validation: Dataset
    /// The images that report the final accuracy.
    public let test: Dataset

    /// Puts three splits together.
    /// - Parameters:
    ///   - training: the images to train on.
    ///   - validation: the images that choose the best epoch.
    ///   - test: the images that report the final accuracy.
    /// - Throws: `DatasetError.splitsDisagree` if they differ in image shape, class count or class names.
    public init(training: Dataset, validation: Dataset, test: Dataset) throws {
        let splits = [training, validation, test]
        let shapes = splits.map { "\($0.name) \($0.channels)x\($0.height)x\($0.width)" }
        guard splits.allSatisfy({ [$0.channels, $0.height, $0.width] == [training.channels, training.height, training.width] })
        else {
            throw DatasetError.splitsDisagree(difference: "image shapes " + shapes.joined(separator: ", "))
        }
        guard splits.allSatisfy({ $0.classCount == training.classCount }) else {
            throw DatasetError.splitsDisagree(difference: "class counts "
                + splits.map { "\($0.name) \($0.classCount)" }.joined(separator: ", "))
        }
        guard splits.allSatisfy({ $0.classNames == training.classNames }) else {
            throw DatasetError.splitsDisagree(difference: "class names "
                + splits.map { "\($0.name) \($0.classNames.map { $0.joined(separator: "/") } ?? "none")" }.joined(separator: ", "))
        }
        self.training = training
        self.validation = validation
        self.test = test
    }

    /// Channels per image, shared by the three splits.
    public var channels: Int { training.channels }
    /// Rows per image.
    public var height: Int { training.height }
    /// Columns per image.
    public var width: Int { training.width }
    /// The number of classes.
    public var classCount: Int { training.classCount }
    /// The classes' names, or nil when they are only numbered.
    public var classNames: [String]? { training.classNames }
}
