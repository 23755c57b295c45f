// Checkpoint.swift: a whole training run in one value.
//
// A checkpoint holds everything needed to rebuild a network and continue
// its training bit for bit: the architecture (every layer's kind, shape,
// activation and dropout), the hyperparameters, the progress within the
// run (TrainingProgress), the random generator's state, every parameter,
// and every layer's state (batch norm's running statistics).  The bytes
// are written by CheckpointEncoding.swift and read back, trusting nothing,
// by CheckpointDecoding.swift; each layer kind writes and reads its own
// ARCH record (LayerKind).  FORMAT.md at the repository root describes the
// bytes.

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

    /// The settings of a run of `epochs` epochs at learning rate `eta`, L2 strength `lmbda`
    /// (network3.py's names), seeded by `seed`, with `options` beyond the seed's.
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

    /// The fingerprint of `data`: its image count and the CRC-32 of its pixels and labels.
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
    /// The newest format version this SwiftNet reads (version 1 files, from
    /// before training options, still load).  It writes `baseFormatVersion`
    /// unless the file needs a later one: version 3 adds the records of conv
    /// layers with padding or a stride and of max-pools with a stride, and the
    /// class names (CLAS), so an older SwiftNet refuses exactly those files as
    /// newer.  Whole new layer kinds join under new kind codes, each bringing
    /// its own list of tensors; an older SwiftNet refuses them as unknown kinds.
    public static let formatVersion: UInt32 = 3
    /// The version of every file whose layers need no later one: what
    /// SwiftNet wrote before version 3 existed, byte for byte.
    public static let baseFormatVersion: UInt32 = 2
    /// The first 8 bytes of every checkpoint.
    public static let magic: [UInt8] = Array("SWNETCKP".utf8)

    /// The layers, first to last.
    public var layers: [any Layer]
    /// The network's training mini-batch size.
    public var miniBatchSize: Int
    /// Images per evaluation pass.
    public var evaluationBatchSize: Int
    /// The thread count of the run, or 0 when no run fixed it (an imported model).
    public var threads: Int
    /// The run's settings: epochs, eta, lmbda, seed and training options.
    public var hyperparameters: TrainingHyperparameters
    /// The training set of the run, if one has run.
    public var trainingData: DataFingerprint?
    /// How far the run got: epoch, mini-batches done, best accuracy so far.
    public var progress: TrainingProgress
    /// The network's random generator (`RandomSource.stateWords`).
    public var randomState: [UInt64]
    /// Every parameter, laid out as `Network.parameters`: all weights, then all biases.
    public var parameters: [Float]
    /// Every layer's state (batch norm's running statistics), laid out as `Network.state`; empty for most networks.
    public var state: [Float] = []
    /// Momentum's velocities, laid out like `parameters`; nil when the run has no momentum.
    public var velocities: [Float]?
    /// Where this checkpoint was read from, for messages ("checkpoint" if not from a file).
    public var source = "checkpoint"
    /// The classes' names, one per class of the last layer (a folder of images names
    /// them); nil when the classes are only numbered, as MNIST's digits are.  A file
    /// with names is format version 3.
    public var classNames: [String]?

    /// Captures a network and where its run stands.
    /// - Parameters:
    ///   - network: the network; its layers must be of the kinds SwiftNet defines.
    ///   - hyperparameters: the run's settings.
    ///   - progress: where the run stands (a fresh value for a model that has not trained).
    ///   - trainingData: the run's training set, if any.
    /// - Throws: `CheckpointError` if a layer is of a kind the format cannot store.
    public init(network: Network, hyperparameters: TrainingHyperparameters,
                progress: TrainingProgress = TrainingProgress(), trainingData: DataFingerprint? = nil) throws {
        for (index, layer) in network.layers.enumerated() where !(layer is any LayerKind) {
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
        state = Array(network.state)
        velocities = hyperparameters.options.momentum > 0 ? Array(network.velocities) : nil
        classNames = network.classNames
    }

    /// A model file: the network's architecture, parameters and state, with
    /// no training run (0 epochs, eta 0) to resume; for prediction and evaluation.
    /// - Parameters:
    ///   - network: the network; its layers must be of the kinds SwiftNet defines.
    /// - Throws: `CheckpointError` if a layer is of a kind the format cannot store.
    public init(model network: Network) throws {
        try self.init(network: network, hyperparameters: TrainingHyperparameters(epochs: 0, eta: 0, seed: network.seed))
        threads = 0
    }

    /// Whether this holds a model without a training run (`init(model:)`).
    public var isModel: Bool { hyperparameters.epochs == 0 && hyperparameters.eta == 0 }

    /// Builds the network this checkpoint describes, with its parameters and random state.
    /// - Parameters:
    ///   - threads: threads sharing each mini-batch; nil means the checkpoint's
    ///     (every core if it fixes none). Only the same count continues a run bit for bit.
    ///   - memoryBudget: the most bytes the network may allocate (default: `MemoryBudget.default`).
    /// - Returns: a network ready to evaluate or to continue training.
    /// - Throws: `CheckpointError` if the architecture does not build; `MemoryBudgetError`,
    ///   naming `source`, if the network needs more memory than `memoryBudget`.
    public func makeNetwork(threads: Int? = nil, memoryBudget: MemoryBudget = .default) throws -> Network {
        let network: Network
        do {
            network = try Network(layers: layers, miniBatchSize: miniBatchSize, evaluationBatchSize: evaluationBatchSize,
                                  threads: threads ?? (self.threads > 0 ? self.threads : nil), seed: hyperparameters.seed,
                                  memoryBudget: memoryBudget)
        } catch let error as NetworkConfigurationError {
            throw CheckpointError(path: source, reason: "its network does not build: \(error)")
        } catch let error as MemoryBudgetError {
            throw error.naming(source)
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
                + "but the network trains with \(network.miniBatchSize)", kind: .wrongNetwork)
        }
        if let difference = architectureDifference(from: network.layers) {
            throw CheckpointError(path: source, reason: difference, kind: .wrongNetwork)
        }
        guard network.parameters.count == parameters.count, network.state.count == state.count else {
            throw CheckpointError(path: source, reason: "it holds \(parameters.count) parameters and \(state.count) state values, "
                + "but the network has \(network.parameters.count) and \(network.state.count)", kind: .wrongNetwork)
        }
        _ = network.parameters.update(fromContentsOf: parameters)
        _ = network.state.update(fromContentsOf: state)
        if let velocities {
            _ = network.velocities.update(fromContentsOf: velocities)
        } else {
            network.velocities.update(repeating: 0)
        }
        guard let random = RandomSource(stateWords: randomState) else {
            throw CheckpointError(path: source, reason: "its random state is \(randomState.count) words, not 4 that are not all zero",
                                  kind: .unusable)
        }
        network.random = random
        try network.setClassNames(classNames)
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
        where !LayerRegistry.same(saved, wanted) {
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
    public static let maximumFileBytes = 4 * CheckpointLimits.maximumParameters + (1 << 20)

    /// Reads and checks a checkpoint file.  Its magic number is checked on
    /// the first bytes, before the rest is read.
    /// - Parameters:
    ///   - path: the file.
    ///   - memoryBudget: the most the file and its decoded values may hold (default: `MemoryBudget.default`).
    /// - Returns: the checkpoint, with `source` set to `path`.
    /// - Throws: `FileError` when the file is missing, a folder, unreadable or
    ///   larger than `maximumFileBytes`; `MemoryBudgetError` when it would not fit
    ///   `memoryBudget`; `CheckpointError` naming the file and the first problem found in its contents.
    public static func load(contentsOf path: String, memoryBudget: MemoryBudget = .default) throws -> Checkpoint {
        // The decoder holds the file's bytes and, about as many again, its parameters.
        let start = BoundedFile.Start(length: magic.count, check: { first in
            if first.count == magic.count, first != magic { _ = try Checkpoint(decoding: first, source: path) }
        }, budget: memoryBudget, copies: 1)
        let bytes = try BoundedFile.read(path, limit: maximumFileBytes, expected: "a checkpoint", start: start)
        return try Checkpoint(decoding: bytes, source: path)
    }

    /// Writes the checkpoint atomically: a temporary file beside `path`, fsync,
    /// rename over `path`, fsync of the folder.  A crash at any moment leaves
    /// either the old file or the new one.  Only bytes that `load` accepts are
    /// written: the encoded bytes are decoded first, by the one decoder.
    /// - Parameters:
    ///   - path: the destination.
    /// - Throws: `CheckpointError` (kind `.unusable`) if the checkpoint breaks a limit of
    ///   the format (`checkLoadable`); `FileError.writeFailed` if any step fails; `path` is then untouched.
    public func write(to path: String) throws {
        try AtomicFile.write(loadableBytes(for: path), to: path)
    }

    /// Throws unless the checkpoint, written, would load again: the writer
    /// and the reader accept the same set (CheckpointLimits' layer count,
    /// mini-batch and evaluation batch sizes, threads, epochs, sizes).
    /// - Parameters:
    ///   - path: where it would be written, for the message.
    /// - Throws: `CheckpointError` of kind `.unusable` naming `path` and the limit broken.
    public func checkLoadable(at path: String) throws {
        _ = try loadableBytes(for: path)
    }

    private func loadableBytes(for path: String) throws -> [UInt8] {
        let bytes = try encoded()
        do {
            _ = try Checkpoint(decoding: bytes, source: path)
        } catch let error as CheckpointError {
            throw CheckpointError(path: path, reason: "it would not load again: \(error.reason)", kind: .unusable)
        }
        return bytes
    }
}

