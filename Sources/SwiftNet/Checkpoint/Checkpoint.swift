// Checkpoint.swift: a whole training run in one value, and its file format.
//
// A checkpoint holds everything needed to rebuild a network and continue
// its training bit for bit: the architecture (every layer's kind, shape,
// activation and dropout), the hyperparameters, the progress within the
// run (TrainingProgress), the random generator's state, and every
// parameter.  FORMAT.md at the repository root describes the bytes; in
// short: a 20-byte header (magic, version, section count, the header's own
// CRC-32), then sections in a fixed order, each a 4-letter tag, a length and
// the zlib CRC-32 of its payload.
//
// Decoding trusts nothing: every length is checked against the bytes that
// are there, every CRC is checked before its payload is read, every count
// against a fixed limit, and the architecture against the same rules
// Network applies, so a damaged or hostile file ends in one CheckpointError
// naming the file and the problem, never in a trap or a huge allocation.

import CKernels
import Foundation

/// The settings of a training run that a checkpoint keeps, so that resuming
/// needs none of them again.
public struct TrainingHyperparameters: Equatable, Sendable {
    /// The run's total number of epochs.
    public var epochs: Int
    /// The learning rate.
    public var eta: Float
    /// The L2 regularisation strength.
    public var lmbda: Float
    /// The seed the run's network was built with.
    public var seed: UInt64
    /// Shuffling, expansion, momentum, schedule and early stopping.
    public var options: TrainingOptions

    /// - Parameters:
    ///   - epochs: the run's total number of epochs.
    ///   - eta: the learning rate.
    ///   - lmbda: the L2 regularisation strength.
    ///   - seed: the seed of the initial weights and dropout masks.
    ///   - options: the run's options beyond the seed's SGD.
    public init(epochs: Int, eta: Float, lmbda: Float = 0, seed: UInt64 = 0, options: TrainingOptions = TrainingOptions()) {
        self.epochs = epochs
        self.eta = eta
        self.lmbda = lmbda
        self.seed = seed
        self.options = options
    }
}

/// Identifies a training set, so that a run is not resumed on other data.
public struct DataFingerprint: Equatable, Sendable {
    /// Images in the set.
    public let imageCount: Int
    /// zlib CRC-32 of the pixel bytes followed by the labels as little-endian int32.
    public let crc32: UInt32

    /// - Parameters:
    ///   - data: the training set.
    public init(_ data: Dataset) {
        imageCount = data.count
        var crc = data.pixels.withUnsafeBytes { ck_crc32Buffer(0, $0) }
        let labels = data.labels.map { $0.littleEndian }
        crc = labels.withUnsafeBytes { ck_crc32Buffer(crc, $0) }
        crc32 = crc
    }

    init(imageCount: Int, crc32: UInt32) {
        self.imageCount = imageCount
        self.crc32 = crc32
    }
}

/// A saved network and the state of its training run.
public struct Checkpoint {
    /// The format version this SwiftNet writes and the newest it reads
    /// (version 1 files, from before training options, still load).
    public static let formatVersion: UInt32 = 2
    /// The first 8 bytes of every checkpoint.
    public static let magic: [UInt8] = Array("SWNETCKP".utf8)

    /// The layers, first to last.
    public var layers: [any Layer]
    public var miniBatchSize: Int
    public var evaluationBatchSize: Int
    /// The thread count of the run, or 0 when no run fixed it (an imported model).
    public var threads: Int
    public var hyperparameters: TrainingHyperparameters
    /// The training set of the run, if one has run.
    public var trainingData: DataFingerprint?
    public var progress: TrainingProgress
    /// The network's random generator (`RandomSource.stateWords`).
    public var randomState: [UInt64]
    /// Every parameter, laid out as `Network.parameters`: all weights, then all biases.
    public var parameters: [Float]
    /// Momentum's velocities, laid out like `parameters`; nil when the run has no momentum.
    public var velocities: [Float]?
    /// Where this checkpoint was read from, for messages ("checkpoint" if not from a file).
    public var source = "checkpoint"

    /// Captures a network and where its run stands.
    /// - Parameters:
    ///   - network: the network; its layers must be of the kinds SwiftNet defines.
    ///   - hyperparameters: the run's settings.
    ///   - progress: where the run stands (a fresh value for a model that has not trained).
    ///   - trainingData: the run's training set, if any.
    /// - Throws: `CheckpointError` if a layer is of a kind the format cannot store.
    public init(network: Network, hyperparameters: TrainingHyperparameters,
                progress: TrainingProgress = TrainingProgress(), trainingData: DataFingerprint? = nil) throws {
        for (index, layer) in network.layers.enumerated()
        where Self.record(of: layer).first == 0 {
            throw CheckpointError(path: "checkpoint", reason: "layer \(index + 1), \(layer.summary), is not a kind a checkpoint can store")
        }
        layers = network.layers
        miniBatchSize = network.miniBatchSize
        evaluationBatchSize = network.evaluationBatchSize
        threads = network.threads
        self.hyperparameters = hyperparameters
        self.trainingData = trainingData
        self.progress = progress
        randomState = network.random.stateWords
        parameters = Array(network.parameters)
        velocities = hyperparameters.options.momentum > 0 ? Array(network.velocities) : nil
    }

    /// Builds the network this checkpoint describes, with its parameters and random state.
    /// - Parameters:
    ///   - threads: threads sharing each mini-batch; nil means the checkpoint's
    ///     (every core if it fixes none). Only the same count continues a run bit for bit.
    /// - Returns: a network ready to evaluate or to continue training.
    /// - Throws: `CheckpointError` if the architecture does not build.
    public func makeNetwork(threads: Int? = nil) throws -> Network {
        let network: Network
        do {
            network = try Network(layers: layers, miniBatchSize: miniBatchSize, evaluationBatchSize: evaluationBatchSize,
                                  threads: threads ?? (self.threads > 0 ? self.threads : nil), seed: hyperparameters.seed)
        } catch let error as NetworkConfigurationError {
            throw CheckpointError(path: source, reason: "its network does not build: \(error)")
        }
        try restore(into: network)
        return network
    }

    /// Copies the parameters and random state into a network of the same architecture.
    /// - Parameters:
    ///   - network: a network with the same layers and mini-batch size.
    /// - Throws: `CheckpointError` naming the first difference in architecture.
    public func restore(into network: Network) throws {
        // The mini-batch size first: conv layers carry it in their image
        // shape, and a layer difference that only lies there reads badly.
        guard network.miniBatchSize == miniBatchSize else {
            throw CheckpointError(path: source, reason: "it was saved with mini-batch size \(miniBatchSize), "
                + "but the network trains with \(network.miniBatchSize)")
        }
        if let difference = architectureDifference(from: network.layers) {
            throw CheckpointError(path: source, reason: difference)
        }
        precondition(network.parameters.count == parameters.count, "equal layers must have equal parameter counts")
        _ = network.parameters.update(fromContentsOf: parameters)
        if let velocities {
            _ = network.velocities.update(fromContentsOf: velocities)
        } else {
            network.velocities.update(repeating: 0)
        }
        network.random = RandomSource(stateWords: randomState)
    }

    /// Why a network of `other` layers could not take this checkpoint, or nil if it could.
    /// - Parameters:
    ///   - other: the layers of the network in question.
    public func architectureDifference(from other: [any Layer]) -> String? {
        guard other.count == layers.count else {
            return "it holds a network of \(layers.count) layers (\(layers.map(\.summary).joined(separator: ", "))), "
                + "not the \(other.count) expected (\(other.map(\.summary).joined(separator: ", ")))"
        }
        for (index, (saved, wanted)) in zip(layers, other).enumerated()
        where Self.record(of: saved) != Self.record(of: wanted) {
            return "its layer \(index + 1) is \(saved.summary), not the \(wanted.summary) expected"
        }
        return nil
    }

    /// The checkpoint of the best model saved beside `path`: "m.ckpt" gives
    /// "m.best.ckpt"; a name without an extension gets ".best" appended.
    /// - Parameters:
    ///   - path: the checkpoint of the latest state.
    public static func bestModelPath(for path: String) -> String {
        let (stem, fileExtension) = splitExtension(path)
        return stem + ".best" + fileExtension
    }

    /// "runs/m.ckpt" -> ("runs/m", ".ckpt"); a name without an extension
    /// (or a dot-file) -> (path, "").  Only the last path component counts.
    static func splitExtension(_ path: String) -> (stem: String, fileExtension: String) {
        let name = URL(fileURLWithPath: path).lastPathComponent
        let directory = String(path.dropLast(name.count))
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return (path, "") }
        return (directory + name[..<dot], String(name[dot...]))
    }
}

// MARK: - Files

extension Checkpoint {
    /// The largest file `load` will read: more than any architecture within the format's limits needs.
    public static let maximumFileBytes = 4 * maximumParameters + (1 << 20)

    /// Reads and checks a checkpoint file.
    /// - Parameters:
    ///   - path: the file.
    /// - Returns: the checkpoint, with `source` set to `path`.
    /// - Throws: `FileError` when the file is missing, a folder, unreadable or
    ///   larger than `maximumFileBytes`; `CheckpointError` naming the file and the
    ///   first problem found in its contents.
    public static func load(contentsOf path: String) throws -> Checkpoint {
        let bytes = try BoundedFile.read(path, limit: maximumFileBytes, expected: "a checkpoint")
        return try Checkpoint(decoding: bytes, source: path)
    }

    /// Writes the checkpoint atomically: a temporary file beside `path`, fsync,
    /// rename over `path`, fsync of the folder.  A crash at any moment leaves
    /// either the old file or the new one.
    /// - Parameters:
    ///   - path: the destination.
    /// - Throws: `FileError.writeFailed` if any step fails; `path` is then untouched.
    public func write(to path: String) throws {
        try AtomicFile.write(encoded(), to: path)
    }
}

// MARK: - Encoding

extension Checkpoint {
    /// Section tags, in file order (the parameter sections repeat per layer).
    enum Tag: String {
        case architecture = "ARCH", hyperparameters = "HYPR", progress = "PROG", options = "OPTS"
        case velocities = "VELO", random = "RAND", weights = "WGHT", biases = "BIAS"
    }

    static let headerSize = 20
    static let sectionHeaderSize = 12

    // Limits that keep a hostile file from asking for absurd amounts of memory;
    // each is far above any network the seed describes.
    static let maximumLayers = 64
    static let maximumExtent = 1 << 16
    static let maximumWidth = 1 << 24
    static let maximumSampleValues = 1 << 24
    static let maximumParameters = 1 << 28
    static let maximumBatch = 1 << 16
    static let maximumThreads = 1024
    static let maximumEpochs = 1 << 24

    static func code(of activation: Activation) -> UInt8 {
        switch activation {
        case .sigmoid: return 0
        case .tanh: return 1
        case .relu: return 2
        case .linear: return 3
        }
    }

    static func activation(code: UInt8) -> Activation? {
        [Activation.sigmoid, .tanh, .relu, .linear].first { Self.code(of: $0) == code }
    }

    /// A layer's ARCH record; equal records mean equal layers.
    static func record(of layer: any Layer) -> [UInt8] {
        var out = CheckpointByteWriter()
        switch layer {
        case let conv as ConvPoolLayer:
            out.u8(1)
            for value in [conv.filterShape.filters, conv.filterShape.channels, conv.filterShape.height, conv.filterShape.width,
                          conv.imageShape.batch, conv.imageShape.channels, conv.imageShape.height, conv.imageShape.width,
                          conv.poolSize.height, conv.poolSize.width] {
                out.u32(UInt32(truncatingIfNeeded: value))
            }
            out.u8(code(of: conv.activation))
        case let conv as ConvLayer:
            out.u8(4)
            for value in [conv.filterShape.filters, conv.filterShape.channels, conv.filterShape.height, conv.filterShape.width,
                          conv.inputShape.channels, conv.inputShape.height, conv.inputShape.width] {
                out.u32(UInt32(truncatingIfNeeded: value))
            }
            out.u8(code(of: conv.activation))
        case let pool as MaxPoolLayer:
            out.u8(5)
            for value in [pool.inputShape.channels, pool.inputShape.height, pool.inputShape.width,
                          pool.poolSize.height, pool.poolSize.width] {
                out.u32(UInt32(truncatingIfNeeded: value))
            }
        case let dense as FullyConnectedLayer:
            out.u8(2)
            out.u32(UInt32(truncatingIfNeeded: dense.nIn))
            out.u32(UInt32(truncatingIfNeeded: dense.nOut))
            out.u8(code(of: dense.activation))
            out.f32(dense.pDropout)
        case let softmax as SoftmaxLayer:
            out.u8(3)
            out.u32(UInt32(truncatingIfNeeded: softmax.nIn))
            out.u32(UInt32(truncatingIfNeeded: softmax.nOut))
            out.f32(softmax.pDropout)
        default:
            // Layers of other kinds are refused by init(network:); as records
            // they differ from every layer a checkpoint can hold.
            out.u8(0)
            out.append(Array(layer.summary.utf8))
        }
        return out.bytes
    }

    /// The file's bytes.
    public func encoded() -> [UInt8] {
        let parameterCount = layers.reduce(0) { $0 + $1.weightCount + $1.biasCount }
        precondition(parameters.count == parameterCount,
                     "Checkpoint holds \(parameters.count) parameters, but its \(layers.count) layers have \(parameterCount)")
        precondition(randomState.count == 4, "Checkpoint's random state has \(randomState.count) words, not 4")
        var sections: [(Tag, [UInt8])] = []
        var architecture = CheckpointByteWriter()
        architecture.count(layers.count)
        for layer in layers { architecture.append(Self.record(of: layer)) }
        sections.append((.architecture, architecture.bytes))

        var settings = CheckpointByteWriter()
        settings.count(miniBatchSize)
        settings.count(evaluationBatchSize)
        settings.count(threads)
        settings.u64(hyperparameters.seed)
        settings.count(hyperparameters.epochs)
        settings.f32(hyperparameters.eta)
        settings.f32(hyperparameters.lmbda)
        settings.count(trainingData?.imageCount ?? 0)
        settings.u32(trainingData?.crc32 ?? 0)
        sections.append((.hyperparameters, settings.bytes))

        var run = CheckpointByteWriter()
        run.count(progress.epoch)
        run.count(progress.miniBatchesDone)
        run.f64(progress.epochCostSum)
        run.f64(progress.windowCostSum)
        run.f64(progress.epochTrainingSeconds)
        run.f64(progress.bestValidationAccuracy)
        run.u64(UInt64(progress.bestIteration))
        run.u8(progress.bestTestAccuracy == nil ? 0 : 1)
        run.f64(progress.bestTestAccuracy ?? 0)
        sections.append((.progress, run.bytes))
        sections.append((.options, CheckpointOptionsRecord.encode(hyperparameters.options, progress)))
        if hyperparameters.options.momentum > 0 {
            let velocities = self.velocities ?? [Float](repeating: 0, count: parameters.count)
            precondition(velocities.count == parameters.count, "Checkpoint holds \(velocities.count) velocities for \(parameters.count) parameters")
            var tensor = CheckpointByteWriter()
            tensor.reserve(4 + 4 * velocities.count)
            tensor.count(velocities.count)
            velocities.withUnsafeBufferPointer { tensor.floats($0) }
            sections.append((.velocities, tensor.bytes))
        }

        var random = CheckpointByteWriter()
        for word in randomState { random.u64(word) }
        sections.append((.random, random.bytes))

        parameters.withUnsafeBufferPointer { all in
            var weightOffset = 0
            var biasOffset = layers.reduce(0) { $0 + $1.weightCount }
            for (index, layer) in layers.enumerated() {
                for (tag, offset, count) in [(Tag.weights, weightOffset, layer.weightCount), (.biases, biasOffset, layer.biasCount)] {
                    var tensor = CheckpointByteWriter()
                    tensor.reserve(8 + 4 * count)
                    tensor.count(index)
                    tensor.count(count)
                    tensor.floats(UnsafeBufferPointer(rebasing: all[offset..<(offset + count)]))
                    sections.append((tag, tensor.bytes))
                }
                weightOffset += layer.weightCount
                biasOffset += layer.biasCount
            }
        }

        var file = CheckpointByteWriter()
        file.reserve(Self.headerSize + sections.reduce(0) { $0 + Self.sectionHeaderSize + $1.1.count })
        file.append(Self.magic)
        file.u32(Self.formatVersion)
        file.count(sections.count)
        file.u32(checkpointCRC32(file.bytes, 0..<16))
        for (tag, payload) in sections {
            file.append(Array(tag.rawValue.utf8))
            file.count(payload.count)
            file.u32(checkpointCRC32(payload, 0..<payload.count))
            file.append(payload)
        }
        return file.bytes
    }
}

// MARK: - Decoding

extension Checkpoint {
    /// Decodes and checks a checkpoint's bytes.
    /// - Parameters:
    ///   - bytes: the whole file.
    ///   - source: the file's name, for messages and `source`.
    /// - Throws: `CheckpointError` naming `source` and the first problem found.
    public init(decoding bytes: [UInt8], source: String) throws {
        do {
            var decoder = CheckpointDecoder(bytes: bytes)
            self = try decoder.decode()
            self.source = source
        } catch let problem as CheckpointFormatProblem {
            throw CheckpointError(path: source, offset: problem.offset, reason: problem.reason)
        }
    }
}

/// Walks a checkpoint's sections in order, checking each before use.
private struct CheckpointDecoder {
    let bytes: [UInt8]
    var position = 0
    var sectionsLeft = 0
    var version: UInt32 = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    func problem(_ reason: String, at offset: Int? = nil) -> CheckpointFormatProblem {
        CheckpointFormatProblem(offset: offset, reason: reason)
    }

    mutating func decode() throws -> Checkpoint {
        try readHeader()
        var architecture = try section(.architecture)
        let records = try readArchitecture(&architecture)
        // Version 2 adds OPTS, and VELO when the run has momentum.
        let expectedSections = 4 + 2 * records.count + (version >= 2 ? 1 : 0)
        let announced = sectionsLeft + 1
        guard announced == expectedSections || (version >= 2 && announced == expectedSections + 1) else {
            throw problem("the header announces \(announced) sections, but a network of \(records.count) layers has \(expectedSections)", at: 12)
        }
        var settings = try section(.hyperparameters)
        let miniBatchSize = try settings.count("mini-batch size", in: 1...Checkpoint.maximumBatch)
        let evaluationBatchSize = try settings.count("evaluation batch size", in: 1...Checkpoint.maximumBatch)
        let threads = try settings.count("thread count", in: 0...Checkpoint.maximumThreads)
        let seed = try settings.u64("seed")
        let epochs = try settings.count("epoch count", in: 0...Checkpoint.maximumEpochs)
        let etaOffset = settings.position
        let eta = try settings.f32("eta")
        let lmbda = try settings.f32("lmbda")
        guard eta.isFinite, eta > 0, lmbda.isFinite, lmbda >= 0 else {
            throw problem("eta \(eta) and lmbda \(lmbda) are not a positive eta and an lmbda of at least 0", at: etaOffset)
        }
        let imageCount = try settings.count("training image count", in: 0...Int(Int32.max))
        let dataCRC = try settings.u32("training data CRC-32")
        try settings.expectEnd()
        var hyperparameters = TrainingHyperparameters(epochs: epochs, eta: eta, lmbda: lmbda, seed: seed)
        let layers = try makeLayers(records, miniBatchSize: miniBatchSize)

        var run = try section(.progress)
        let progressStart = run.position
        var progress = TrainingProgress()
        progress.epoch = try run.count("epoch", in: 0...epochs)
        progress.miniBatchesDone = try run.count("mini-batches done", in: 0...Int(Int32.max))
        progress.epochCostSum = try run.f64("epoch cost sum")
        progress.windowCostSum = try run.f64("1000-mini-batch cost sum")
        progress.epochTrainingSeconds = try run.f64("epoch time")
        progress.bestValidationAccuracy = try run.f64("best validation accuracy")
        let bestIteration = try run.u64("best iteration")
        let hasTest = try run.u8("test accuracy flag")
        let test = try run.f64("test accuracy")
        try run.expectEnd()
        let sums = [progress.epochCostSum, progress.windowCostSum, progress.epochTrainingSeconds]
        guard sums.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
            throw problem("a cost sum or time in the progress is negative or not finite", at: progressStart)
        }
        guard (0...1).contains(progress.bestValidationAccuracy), hasTest <= 1, (0...1).contains(test),
              bestIteration <= UInt64(Int32.max) else {
            throw problem("the best result in the progress is not an accuracy in [0, 1] at an iteration", at: progressStart)
        }
        progress.bestIteration = Int(bestIteration)
        progress.bestTestAccuracy = hasTest == 1 ? test : nil
        guard progress.epoch < epochs || progress.miniBatchesDone == 0 else {
            throw problem("the progress stands inside epoch \(progress.epoch) of a run of \(epochs) epochs", at: progressStart)
        }
        let parameterCount = layers.reduce(0) { $0 + $1.weightCount + $1.biasCount }
        var velocities: [Float]?
        if version >= 2 {
            var record = try section(.options)
            hyperparameters.options = try CheckpointOptionsRecord.decode(&record, progress: &progress,
                                                                         epochLimit: Checkpoint.maximumEpochs)
            let hasVelocities = hyperparameters.options.momentum > 0
            guard announced == expectedSections + (hasVelocities ? 1 : 0) else {
                throw problem("the header announces \(announced) sections, but a network of \(records.count) layers "
                    + (hasVelocities ? "trained with momentum has \(expectedSections + 1)" : "trained without momentum has \(expectedSections)"), at: 12)
            }
            if hasVelocities {
                var tensor = try section(.velocities)
                let start = tensor.position
                let count = try tensor.count("value count", in: 0...Int(UInt32.max))
                guard count == parameterCount else {
                    throw problem("section VELO holds \(count) velocities, but the network has \(parameterCount) parameters", at: start)
                }
                var values = [Float](repeating: 0, count: count)
                try values.withUnsafeMutableBufferPointer { buffer in
                    try tensor.floats(count, into: buffer.baseAddress!, "velocities")
                    guard ck_all_finite(buffer.baseAddress!, count) != 0 else {
                        throw problem("the velocities are not all finite", at: start)
                    }
                }
                try tensor.expectEnd()
                velocities = values
            }
        }
        if imageCount > 0 {
            let samples = EpochPlan.sampleCount(imageCount: imageCount, expand: hyperparameters.options.expand)
            let batches = samples / miniBatchSize
            guard batches >= 1, progress.miniBatchesDone <= batches else {
                throw problem("the progress stands at mini-batch \(progress.miniBatchesDone), but \(imageCount) training images "
                    + (hyperparameters.options.expand ? "expanded to \(samples) " : "")
                    + "make \(batches) mini-batches of \(miniBatchSize)", at: progressStart + 4)
            }
        }

        var random = try section(.random)
        let randomStart = random.position
        var randomState: [UInt64] = []
        for word in 0..<4 { randomState.append(try random.u64("random state word \(word)")) }
        try random.expectEnd()
        guard randomState.contains(where: { $0 != 0 }) else {
            throw problem("the random generator's state is all zeros, which xoshiro256** never reaches", at: randomStart)
        }

        let weightCount = layers.reduce(0) { $0 + $1.weightCount }
        var parameters = [Float](repeating: 0, count: weightCount + layers.reduce(0) { $0 + $1.biasCount })
        var weightOffset = 0
        var biasOffset = weightCount
        for (index, layer) in layers.enumerated() {
            for (tag, offset, count) in [(Checkpoint.Tag.weights, weightOffset, layer.weightCount),
                                         (.biases, biasOffset, layer.biasCount)] {
                let what = "layer \(index + 1)'s \(tag == .weights ? "weights" : "biases")"
                var tensor = try section(tag, holding: what)
                let start = tensor.position
                let savedIndex = try tensor.count("layer number", in: 0...Int(UInt32.max))
                let savedCount = try tensor.count("value count", in: 0...Int(UInt32.max))
                guard savedIndex == index, savedCount == count else {
                    throw problem("section \(tag.rawValue) holds \(savedCount) values of layer \(savedIndex + 1) where \(what), "
                        + "\(count) values of \(layer.summary), belong", at: start)
                }
                try parameters.withUnsafeMutableBufferPointer { all in
                    try tensor.floats(count, into: all.baseAddress! + offset, what)
                    if ck_all_finite(all.baseAddress! + offset, count) == 0,
                       let bad = all[offset..<(offset + count)].firstIndex(where: { !$0.isFinite }) {
                        throw problem("\(what) hold \(all[bad]) at index \(bad - offset); parameters must be finite",
                                      at: start + 8 + 4 * (bad - offset))
                    }
                }
                try tensor.expectEnd()
            }
            weightOffset += layer.weightCount
            biasOffset += layer.biasCount
        }
        guard position == bytes.count else {
            throw problem("\(bytes.count - position) bytes follow the last section", at: position)
        }
        var checkpoint = Checkpoint(layers: layers, miniBatchSize: miniBatchSize, evaluationBatchSize: evaluationBatchSize,
                                        threads: threads, hyperparameters: hyperparameters, progress: progress,
                                        randomState: randomState, parameters: parameters)
        checkpoint.trainingData = imageCount > 0 ? DataFingerprint(imageCount: imageCount, crc32: dataCRC) : nil
        checkpoint.velocities = velocities
        return checkpoint
    }

    mutating func readHeader() throws {
        guard !bytes.isEmpty else { throw problem("the file is empty") }
        let magic = Checkpoint.magic
        guard bytes.count >= magic.count, Array(bytes[0..<magic.count]) == magic else {
            let start = Array(bytes.prefix(magic.count))
            if start.first == 0x80 || start.starts(with: [0x1f, 0x8b]) {
                throw problem("this is a pickle, not a SwiftNet checkpoint (import network3 parameters with `cnn import-network3`)")
            }
            if magic.starts(with: start) { throw problem("the file is truncated inside its header (\(bytes.count) bytes)") }
            throw problem("not a SwiftNet checkpoint: it does not start with \(quoted(magic)) but with \(quoted(start))", at: 0)
        }
        guard bytes.count >= Checkpoint.headerSize else {
            throw problem("the file is truncated inside its header (\(bytes.count) bytes of \(Checkpoint.headerSize))")
        }
        var header = CheckpointByteReader(bytes, from: magic.count, to: Checkpoint.headerSize, section: "header")
        let version = try header.u32("version")
        let sections = try header.u32("section count")
        let savedCRC = try header.u32("CRC-32")
        let crc = checkpointCRC32(bytes, 0..<16)
        guard crc == savedCRC else {
            throw problem("the header is damaged: its CRC-32 is \(hex(crc)) but the file records \(hex(savedCRC))", at: 0)
        }
        guard version <= Checkpoint.formatVersion else {
            throw problem("format version \(version) is newer than this SwiftNet reads (up to \(Checkpoint.formatVersion)); "
                + "use a newer cnn", at: 8)
        }
        guard version >= 1 else { throw problem("format version 0 does not exist", at: 8) }
        guard sections <= UInt32(6 + 2 * Checkpoint.maximumLayers) else {
            throw problem("the header announces \(sections) sections, more than a network of \(Checkpoint.maximumLayers) layers has", at: 12)
        }
        sectionsLeft = Int(sections)
        self.version = version
        position = Checkpoint.headerSize
    }

    /// The next section's payload, after checking its tag, length and CRC-32.
    /// - Parameters:
    ///   - holding: what the section holds, for messages about a parameter section.
    mutating func section(_ tag: Checkpoint.Tag, holding: String? = nil) throws -> CheckpointByteReader {
        let start = position
        let name = tag.rawValue + (holding.map { " (\($0))" } ?? "")
        guard sectionsLeft > 0 else {
            throw problem("the header announces fewer sections than the file needs (section \(name) is missing)", at: 12)
        }
        guard bytes.count - start >= Checkpoint.sectionHeaderSize else {
            throw problem("the file is truncated: it ends inside the header of section \(name) "
                + "(\(bytes.count) bytes in all)", at: start)
        }
        let found = Array(bytes[start..<(start + 4)])
        guard found == Array(tag.rawValue.utf8) else {
            throw problem("section \(name) belongs here but the file has \(quoted(found))", at: start)
        }
        var header = CheckpointByteReader(bytes, from: start + 4, to: start + Checkpoint.sectionHeaderSize, section: tag.rawValue)
        let length = Int(try header.u32("length"))
        let savedCRC = try header.u32("CRC-32")
        let payloadStart = start + Checkpoint.sectionHeaderSize
        guard bytes.count - payloadStart >= length else {
            throw problem("the file is truncated: section \(name) claims \(length) bytes but only "
                + "\(bytes.count - payloadStart) remain", at: start)
        }
        let crc = checkpointCRC32(bytes, payloadStart..<(payloadStart + length))
        guard crc == savedCRC else {
            throw problem("section \(name) is damaged: its CRC-32 is \(hex(crc)) but the file records \(hex(savedCRC))", at: start)
        }
        position = payloadStart + length
        sectionsLeft -= 1
        return CheckpointByteReader(bytes, from: payloadStart, to: payloadStart + length, section: tag.rawValue)
    }

    /// A layer as stored, before the mini-batch size is known.
    enum LayerRecord {
        case conv(filters: [Int], image: [Int], pool: [Int], Activation)
        case convOnly(filters: [Int], input: [Int], Activation)
        case pool(input: [Int], pool: [Int])
        case dense(nIn: Int, nOut: Int, Activation, pDropout: Float)
        case softmax(nIn: Int, nOut: Int, pDropout: Float)
    }

    func readArchitecture(_ reader: inout CheckpointByteReader) throws -> [LayerRecord] {
        let count = try reader.count("layer count", in: 1...Checkpoint.maximumLayers)
        var records: [LayerRecord] = []
        for index in 1...count {
            let start = reader.position
            let layer = "layer \(index)"
            func activation() throws -> Activation {
                let at = reader.position
                let code = try reader.u8("\(layer)'s activation")
                guard let activation = Checkpoint.activation(code: code) else {
                    throw problem("\(layer) has activation code \(code); known codes are 0 to 3", at: at)
                }
                return activation
            }
            func dropout() throws -> Float {
                let at = reader.position
                let value = try reader.f32("\(layer)'s dropout")
                guard value.isFinite, value >= 0, value < 1 else {
                    throw problem("\(layer) has dropout probability \(value); it must lie in [0, 1)", at: at)
                }
                return value
            }
            switch try reader.u8("\(layer)'s kind") {
            case 1:
                var sizes: [Int] = []
                for field in ["filters", "filter channels", "filter height", "filter width", "image batch",
                              "image channels", "image height", "image width", "pool height", "pool width"] {
                    sizes.append(try reader.count("\(layer)'s \(field)", in: 1...Checkpoint.maximumExtent))
                }
                records.append(.conv(filters: Array(sizes[0..<4]), image: Array(sizes[4..<8]), pool: Array(sizes[8..<10]),
                                     try activation()))
            case 4 where version >= 2:
                var sizes: [Int] = []
                for field in ["filters", "filter channels", "filter height", "filter width",
                              "input channels", "input height", "input width"] {
                    sizes.append(try reader.count("\(layer)'s \(field)", in: 1...Checkpoint.maximumExtent))
                }
                records.append(.convOnly(filters: Array(sizes[0..<4]), input: Array(sizes[4..<7]), try activation()))
            case 5 where version >= 2:
                var sizes: [Int] = []
                for field in ["input channels", "input height", "input width", "pool height", "pool width"] {
                    sizes.append(try reader.count("\(layer)'s \(field)", in: 1...Checkpoint.maximumExtent))
                }
                records.append(.pool(input: Array(sizes[0..<3]), pool: Array(sizes[3..<5])))
            case 2:
                let nIn = try reader.count("\(layer)'s input count", in: 1...Checkpoint.maximumWidth)
                let nOut = try reader.count("\(layer)'s output count", in: 1...Checkpoint.maximumWidth)
                records.append(.dense(nIn: nIn, nOut: nOut, try activation(), pDropout: try dropout()))
            case 3:
                let nIn = try reader.count("\(layer)'s input count", in: 1...Checkpoint.maximumWidth)
                let nOut = try reader.count("\(layer)'s class count", in: 2...Checkpoint.maximumWidth)
                records.append(.softmax(nIn: nIn, nOut: nOut, pDropout: try dropout()))
            case let kind:
                throw problem("\(layer) is of kind \(kind); known kinds are 1 (ConvPoolLayer), 2 (FullyConnectedLayer), "
                    + "3 (SoftmaxLayer), and from format version 2, 4 (ConvLayer) and 5 (MaxPoolLayer)", at: start)
            }
        }
        try reader.expectEnd()
        return records
    }

    /// The layers, checked on their own, against their neighbours and against the format's limits.
    func makeLayers(_ records: [LayerRecord], miniBatchSize: Int) throws -> [any Layer] {
        var layers: [any Layer] = []
        var parameterCount = 0
        for (index, record) in records.enumerated() {
            let layer: any Layer
            do {
                switch record {
                case .conv(let filters, let image, let pool, let activation):
                    let conv = ConvPoolLayer(filterShape: (filters[0], filters[1], filters[2], filters[3]),
                                             imageShape: (image[0], image[1], image[2], image[3]),
                                             poolSize: (pool[0], pool[1]), activation: activation)
                    try conv.validate()
                    guard conv.imageShape.batch == miniBatchSize else {
                        throw NetworkConfigurationError("\(conv.summary): its images come in mini-batches of "
                            + "\(conv.imageShape.batch), but the run's mini-batch size is \(miniBatchSize)")
                    }
                    // The im2col workspace of one sample must stay within the limit too.
                    let convolved = conv.convolvedShape
                    let workspace = [filters[1], filters[2], filters[3], convolved.height, convolved.width]
                    guard Self.product(workspace) <= Checkpoint.maximumSampleValues else {
                        throw NetworkConfigurationError("\(conv.summary) needs more than \(Checkpoint.maximumSampleValues) values per sample")
                    }
                    layer = conv
                case .convOnly(let filters, let input, let activation):
                    let conv = ConvLayer(filterShape: (filters[0], filters[1], filters[2], filters[3]),
                                         inputShape: SampleShape(channels: input[0], height: input[1], width: input[2]),
                                         activation: activation)
                    try conv.validate()
                    let workspace = [filters[1], filters[2], filters[3], conv.outputShape.height, conv.outputShape.width]
                    guard Self.product(workspace) <= Checkpoint.maximumSampleValues else {
                        throw NetworkConfigurationError("\(conv.summary) needs more than \(Checkpoint.maximumSampleValues) values per sample")
                    }
                    layer = conv
                case .pool(let input, let pool):
                    let maxPool = MaxPoolLayer(inputShape: SampleShape(channels: input[0], height: input[1], width: input[2]),
                                               poolSize: (pool[0], pool[1]))
                    try maxPool.validate()
                    layer = maxPool
                case .dense(let nIn, let nOut, let activation, let pDropout):
                    let dense = FullyConnectedLayer(nIn: nIn, nOut: nOut, activation: activation, pDropout: pDropout)
                    try dense.validate()
                    layer = dense
                case .softmax(let nIn, let nOut, let pDropout):
                    let softmax = SoftmaxLayer(nIn: nIn, nOut: nOut, pDropout: pDropout)
                    try softmax.validate()
                    layer = softmax
                }
            } catch let error as NetworkConfigurationError {
                throw problem("layer \(index + 1) cannot be built: \(error)")
            }
            for shape in [layer.inputShape, layer.outputShape]
            where Self.product([shape.channels, shape.height, shape.width]) > Checkpoint.maximumSampleValues {
                throw problem("layer \(index + 1), \(layer.summary), has more than \(Checkpoint.maximumSampleValues) values per sample")
            }
            // Each size is bounded above, so these counts cannot overflow; their sum is checked as it grows.
            parameterCount += layer.weightCount + layer.biasCount
            guard parameterCount <= Checkpoint.maximumParameters else {
                throw problem("the network has more than \(Checkpoint.maximumParameters) parameters")
            }
            if let previous = layers.last {
                guard previous.outputShape.count == layer.inputShape.count,
                      previous.outputShape == layer.inputShape || layer.inputShape.height * layer.inputShape.width == 1 else {
                    throw problem("layer \(index), \(previous.summary), outputs \(previous.outputShape) but layer \(index + 1), "
                        + "\(layer.summary), expects \(layer.inputShape)")
                }
            }
            layers.append(layer)
        }
        guard layers.last is SoftmaxLayer else {
            throw problem("the last layer is \(layers.last!.summary); it must be a SoftmaxLayer")
        }
        return layers
    }

    /// The product of positive sizes, or Int.max if it overflows.
    static func product(_ sizes: [Int]) -> Int {
        var result = 1
        for size in sizes {
            let (next, overflow) = result.multipliedReportingOverflow(by: size)
            if overflow { return Int.max }
            result = next
        }
        return result
    }
}

extension Checkpoint {
    /// The memberwise initialiser decoding uses.
    fileprivate init(layers: [any Layer], miniBatchSize: Int, evaluationBatchSize: Int, threads: Int,
                     hyperparameters: TrainingHyperparameters, progress: TrainingProgress,
                     randomState: [UInt64], parameters: [Float]) {
        self.layers = layers
        self.miniBatchSize = miniBatchSize
        self.evaluationBatchSize = evaluationBatchSize
        self.threads = threads
        self.hyperparameters = hyperparameters
        self.progress = progress
        self.randomState = randomState
        self.parameters = parameters
        trainingData = nil
    }
}

private func hex(_ value: UInt32) -> String {
    "0x" + String(value, radix: 16, uppercase: false).leftPadded(to: 8)
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

/// zlib's CRC-32 of a raw buffer, continuing from `crc`.
func ck_crc32Buffer(_ crc: UInt32, _ buffer: UnsafeRawBufferPointer) -> UInt32 {
    guard let base = buffer.baseAddress, !buffer.isEmpty else { return crc }
    return ck_crc32(crc, base, buffer.count)
}
