// PredictionService.swift: what `cnn serve` answers, apart from HTTP.
//
// The service holds one trained model as a NetworkPool and turns a request
// body into an answer: PNG or PGM bytes, or JSON pixels, are decoded under
// the image readers' limits (a hostile PNG is refused, never trusted),
// preprocessed exactly as `cnn predict` does (PictureReading: MNIST's
// preprocessing for a digit model, including the "already in MNIST's form"
// rule, or the model's own image size for a model of named classes), and
// run on a network lent by the pool.  The answer ranks every class with its
// probability and carries the view the network saw, so the page can draw
// it.  Nothing here knows about Hummingbird: the tests call it directly,
// and ModelServer puts it on HTTP.

import Foundation
import SwiftNet
import SwiftNetImages

/// One class's probability in an answer.
public struct ClassProbability: Codable, Equatable, Sendable {
    /// The class's index among the network's outputs.
    public let label: Int
    /// Its name: the model's class name, or the digit for a digit model.
    public let name: String
    /// Its probability, 0...1.
    public let probability: Double
}

/// The view of an image that the network saw: `channels` planes of `height` x `width` bytes.
public struct NetworkView: Codable, Equatable, Sendable {
    public let channels: Int
    public let width: Int
    public let height: Int
    /// `channels * height * width` values 0...255, plane by plane, row by row.
    public let pixels: [UInt8]
}

/// The answer of `POST /v1/predict`.
public struct PredictionAnswer: Codable, Equatable, Sendable {
    /// The model's name (its checkpoint's file name without the extension).
    public let model: String
    /// Every class, likeliest first (ties in label order).
    public let predictions: [ClassProbability]
    /// What the network saw.
    public let view: NetworkView
}

/// The answer of `GET /v1/model`.
public struct ModelDescription: Codable, Equatable, Sendable {
    public struct InputShape: Codable, Equatable, Sendable {
        public let channels: Int
        public let height: Int
        public let width: Int
    }
    /// The model's name (its checkpoint's file name without the extension).
    public let name: String
    /// The layers in `cnn train --layers` form.
    public let spec: String
    /// One name per class: the model's own, or "0"..."9" for a digit model.
    public let classNames: [String]
    /// True when the model names its classes (it was trained on a folder of images).
    public let namedClasses: Bool
    /// The network's input.
    public let inputShape: InputShape
    /// "digit" (MNIST's preprocessing) or "image" (resampled to the input's size).
    public let preprocessing: String
    /// SwiftNet's version.
    public let swiftNetVersion: String
}

/// A JSON body of pixels: `width * height * channels` values 0...255, row by row.
struct PixelsBody: Decodable {
    /// Read as numbers and checked one by one, so that a bad value is named by its index.
    let pixels: [Double]
    let width: Int
    let height: Int
    let channels: Int?
}

/// One trained model, answering prediction requests on a pool of its networks.
public final class PredictionService: Sendable {
    /// What `GET /v1/model` answers.
    public let model: ModelDescription
    private let pool: NetworkPool
    private let reading: PictureReading
    private let classNames: [String]

    /// Loads the model at `modelPath` and builds `poolSize` networks of it.
    /// - Parameter keepAspect: for a model of named classes, pad images to its shape as
    ///   `--keep-aspect` did in training.
    /// - Throws: `CheckpointError` naming the file, for a checkpoint that does not load or
    ///   a network that cannot read pictures.
    public init(modelPath: String, poolSize: Int, keepAspect: Bool = false) throws {
        let checkpoint = try Checkpoint.load(contentsOf: modelPath)
        pool = try NetworkPool(checkpoint: checkpoint, size: max(1, poolSize))
        let network = pool.prototype
        do {
            reading = try PictureReading(for: network, keepAspect: keepAspect)
        } catch let error as PictureInputError {
            throw CheckpointError(path: modelPath, reason: error.description)
        }
        classNames = network.classNames ?? (0..<network.classCount).map(String.init)
        let shape = network.inputShape
        let name = URL(fileURLWithPath: modelPath).deletingPathExtension().lastPathComponent
        let preprocessing: String
        if case .digit = reading { preprocessing = "digit" } else { preprocessing = "image" }
        model = ModelDescription(
            name: name, spec: NetworkSpec.describe(network.layers), classNames: classNames,
            namedClasses: network.classNames != nil,
            inputShape: .init(channels: shape.channels, height: shape.height, width: shape.width),
            preprocessing: preprocessing, swiftNetVersion: SwiftNetVersion.string)
    }

    /// Networks that compute at once.
    public var poolSize: Int { pool.size }

    /// The largest image, in pixels, that a request may decode to (a 4096 x 4096
    /// photo): a small PNG may claim a huge size, and the pool's slots bound how
    /// many are decoded at once, so memory stays bounded however many clients come.
    public static let maximumPixels = 1 << 24

    /// The answer to a body of `contentType`.
    /// - Throws: `ServeRequestError` for a type it does not read, or a body that is not an image.
    public func predict(body: [UInt8], contentType: String?) async throws -> PredictionAnswer {
        _ = try Self.mediaType(of: contentType)
        return try await pool.withNetwork { network in
            try answer(Self.image(from: body, contentType: contentType), on: network)
        }
    }

    /// The answer for a decoded image.
    /// - Throws: `ServeRequestError.badImage` for an image that shows no digit or cannot be resized.
    public func predict(_ image: Bitmap) async throws -> PredictionAnswer {
        try await pool.withNetwork { network in try answer(image, on: network) }
    }

    /// `network`'s answer for `image`, read as `cnn predict` reads a file.
    private func answer(_ image: Bitmap, on network: Network) throws -> PredictionAnswer {
        let view: [UInt8]
        do {
            view = try reading.view(of: image, named: "the image")
        } catch {
            throw ServeRequestError.badImage(String(describing: error))
        }
        let shape = reading.shape
        let data = try Dataset(name: "the request", channels: shape.channels, height: shape.height, width: shape.width,
                               pixels: view, labels: [0], classCount: network.classCount)
        let probabilities = try network.probabilities(on: data)
        let ranked = probabilities.indices.sorted {
            probabilities[$0] > probabilities[$1] || (probabilities[$0] == probabilities[$1] && $0 < $1)
        }
        return PredictionAnswer(
            model: model.name,
            predictions: ranked.map { ClassProbability(label: $0, name: classNames[$0], probability: Double(probabilities[$0])) },
            view: NetworkView(channels: shape.channels, width: shape.width, height: shape.height, pixels: view))
    }

    /// The media type of a Content-Type header, without parameters such as "; charset=utf-8".
    /// - Throws: `ServeRequestError.unsupportedMediaType` for one that /v1/predict does not read.
    static func mediaType(of contentType: String?) throws -> String {
        let type = contentType?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        guard ["image/png", "image/x-portable-graymap", "image/x-portable-anymap", "application/octet-stream",
               "application/json"].contains(type) else {
            throw ServeRequestError.unsupportedMediaType(contentType)
        }
        return type
    }

    /// Decodes a body by its media type.
    /// - Throws: `ServeRequestError`.
    static func image(from body: [UInt8], contentType: String?) throws -> Bitmap {
        let type = try mediaType(of: contentType)
        guard !body.isEmpty else { throw ServeRequestError.emptyBody }
        if type == "application/json" { return try pixelsImage(from: body) }
        do {
            // The readers check the claimed size from the header, before inflating anything.
            return try Bitmap(encoded: body, name: "the image", maximumPixels: maximumPixels)
        } catch {
            throw ServeRequestError.badImage(String(describing: error))
        }
    }

    /// The image a JSON pixels body describes.
    private static func pixelsImage(from body: [UInt8]) throws -> Bitmap {
        let pixels: PixelsBody
        do {
            pixels = try JSONDecoder().decode(PixelsBody.self, from: Data(body))
        } catch let error as DecodingError {
            throw ServeRequestError.badJSON(Self.summary(of: error))
        } catch {
            throw ServeRequestError.badJSON("it does not parse")
        }
        let channels = pixels.channels ?? 1
        guard (1...4).contains(channels) else { throw ServeRequestError.badJSON("channels is \(channels), not 1 to 4") }
        guard pixels.width > 0, pixels.height > 0, pixels.width <= PNG.maximumSide, pixels.height <= PNG.maximumSide,
              pixels.width * pixels.height <= maximumPixels else {
            throw ServeRequestError.badJSON("width and height must be 1 to \(PNG.maximumSide), at most \(maximumPixels) pixels "
                + "in all, not \(pixels.width) and \(pixels.height)")
        }
        if let bad = pixels.pixels.firstIndex(where: { !($0 >= 0 && $0 <= 255 && $0.rounded() == $0) }) {
            throw ServeRequestError.badJSON("pixels[\(bad)] is \(pixels.pixels[bad]), not a whole number 0...255")
        }
        guard pixels.pixels.count == pixels.width * pixels.height * channels else {
            throw ServeRequestError.badJSON("\(pixels.pixels.count) pixel values for \(pixels.width)x\(pixels.height)x\(channels), "
                + "which needs \(pixels.width * pixels.height * channels)")
        }
        do {
            return try Bitmap(width: pixels.width, height: pixels.height, channels: channels, samples: pixels.pixels.map { UInt8($0) })
        } catch {
            throw ServeRequestError.badJSON(String(describing: error))
        }
    }

    /// A decoding error in a few words: which field, and what was wrong with it.
    private static func summary(of error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
            return keys.isEmpty ? "the body" : keys.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
        }
        switch error {
        case .keyNotFound(let key, _): return "it has no \"\(key.stringValue)\""
        case .typeMismatch(_, let context): return "\(path(context)) has the wrong type"
        case .valueNotFound(_, let context): return "\(path(context)) is null"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "it is not valid JSON" : "\(path(context)) is not a number"
        @unknown default: return "it does not decode"
        }
    }
}
