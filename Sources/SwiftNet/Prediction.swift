// Prediction.swift: what a trained network says about images you give it.
//
// `predict` takes one image or many, as floats (the values the first layer
// sees: a pixel's intensity in [0, 1], as the training pixels byte / 256
// are), as bytes (0...255, turned into byte / 256 exactly as training data
// is), or as a Dataset, and returns each image's class probabilities, its
// likeliest class and, when the data names its classes, that name.  Input
// that does not fit the network is a thrown NetworkInputError, never a trap.

/// Images that do not fit the network they are given to.
public enum NetworkInputError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The images have another shape than the network's input.
    case wrongImageSize(data: String, shape: SampleShape, expected: SampleShape)
    /// A flat array's length is not a whole number of images (or is zero).
    case wrongValueCount(values: Int, perImage: Int)
    /// A value is not finite.
    case notFinite(index: Int)
    /// A mini-batch from `start` runs past the data's samples.
    case outOfRange(data: String, start: Int, miniBatchSize: Int, samples: Int)
    /// A label is not one of the network's classes.
    case labelOutOfRange(data: String, label: Int, classCount: Int)
    /// `values` parameters were given for a network of `expected`.
    case wrongParameterCount(values: Int, expected: Int)

    /// The error in one line, naming what is at fault.
    public var description: String {
        switch self {
        case .wrongImageSize(let data, let shape, let expected):
            return "the \(data) images are \(shape) (\(shape.count) values), but the network's input is \(expected) (\(expected.count) values)"
        case .wrongValueCount(let values, let perImage):
            return "\(values) values are not a whole, non-zero number of images of \(perImage) values"
        case .notFinite(let index):
            return "input value \(index) is not finite"
        case .outOfRange(let data, let start, let miniBatchSize, let samples):
            return "a mini-batch of \(miniBatchSize) from sample \(start) runs past the \(samples) samples of the \(data) data"
        case .labelOutOfRange(let data, let label, let classCount):
            return "the \(data) data has label \(label), but the network has \(classCount) classes (0...\(classCount - 1))"
        case .wrongParameterCount(let values, let expected):
            return "\(values) parameter values given; the network has \(expected)"
        }
    }
}

/// A network's reading of one image.
public struct Prediction: Equatable, Sendable {
    /// One probability per class, summing to 1.
    public let probabilities: [Float]
    /// The likeliest class (the first, on a tie).
    public let predictedClass: Int
    /// Its name, when the data named its classes.
    public let className: String?

    init(probabilities: ArraySlice<Float>, classNames: [String]?) {
        self.probabilities = Array(probabilities)
        var best = 0
        for (index, value) in self.probabilities.enumerated() where value > self.probabilities[best] { best = index }
        predictedClass = best
        className = classNames.flatMap { best < $0.count ? $0[best] : nil }
    }
}

extension Network {
    /// The network's reading of one image.
    ///
    /// ```swift
    /// let pixels: [Float] = ...            // 784 values in [0, 1] for a 1x28x28 network
    /// let reading = try network.predict(pixels)
    /// print(reading.predictedClass, reading.probabilities[reading.predictedClass])
    /// ```
    /// - Parameters:
    ///   - image: `inputShape.count` values in (channel, row, column) order, each a
    ///     pixel's intensity in [0, 1] (training pixels are byte / 256).
    ///   - classNames: names to report, one per class; nil reports the network's own (`Network.classNames`), if any.
    /// - Throws: `NetworkInputError` if the count is wrong or a value is not finite.
    public func predict(_ image: [Float], classNames: [String]? = nil) throws -> Prediction {
        guard image.count == inputShape.count else {
            throw NetworkInputError.wrongValueCount(values: image.count, perImage: inputShape.count)
        }
        return try predict(images: image, classNames: classNames ?? self.classNames)[0]
    }

    /// The network's reading of several images given one after another in one array.
    /// - Parameters:
    ///   - images: a whole number of images of `inputShape.count` values each, as in `predict(_:)`.
    ///   - classNames: names to report, one per class; nil reports the network's own (`Network.classNames`), if any.
    /// - Throws: `NetworkInputError` if the count is not a whole number of images or a value is not finite.
    public func predict(images: [Float], classNames: [String]? = nil) throws -> [Prediction] {
        let perImage = inputShape.count
        guard !images.isEmpty, images.count % perImage == 0 else {
            throw NetworkInputError.wrongValueCount(values: images.count, perImage: perImage)
        }
        if let bad = images.firstIndex(where: { !$0.isFinite }) { throw NetworkInputError.notFinite(index: bad) }
        let rows = images.withUnsafeBufferPointer { probabilities(values: $0) }
        return stride(from: 0, to: rows.count, by: classCount).map {
            Prediction(probabilities: rows[$0..<($0 + classCount)], classNames: classNames ?? self.classNames)
        }
    }

    /// The network's reading of one image given as bytes, value = byte / 256 as in training data.
    /// - Throws: `NetworkInputError` if the count is wrong.
    public func predict(_ image: [UInt8], classNames: [String]? = nil) throws -> Prediction {
        guard image.count == inputShape.count else {
            throw NetworkInputError.wrongValueCount(values: image.count, perImage: inputShape.count)
        }
        return try predict(images: image.map { Float($0) / 256 }, classNames: classNames ?? self.classNames)[0]
    }

    /// The network's reading of every image of `data`, named by its class names if it has them.
    /// - Throws: `NetworkInputError` if the images do not fit the network's input.
    public func predict(_ data: Dataset) throws -> [Prediction] {
        let rows = try probabilities(on: data)
        return stride(from: 0, to: rows.count, by: classCount).map {
            Prediction(probabilities: rows[$0..<($0 + classCount)], classNames: data.classNames ?? classNames)
        }
    }
}
