// CheckpointEncoding.swift: a checkpoint's bytes.
//
// A 20-byte header (magic, version, section count, the header's own
// CRC-32), then sections in a fixed order, each a 4-letter tag, a length
// and the zlib CRC-32 of its payload: ARCH (each layer's record, written by
// its kind), HYPR, PROG, OPTS, VELO (with momentum), RAND, then one section
// per tensor of each layer, in the order the kind lists them (WGHT and BIAS
// for most kinds; batch norm adds its running statistics as STAT), and last
// CLAS, the class names, when the network has them (format version 3).
// FORMAT.md gives every field.

import CKernels

extension Checkpoint {
    /// Section tags, in file order (the parameter sections repeat per layer).
    enum Tag: String {
        case architecture = "ARCH", hyperparameters = "HYPR", progress = "PROG", options = "OPTS"
        case velocities = "VELO", random = "RAND", weights = "WGHT", biases = "BIAS", state = "STAT"
        case classNames = "CLAS"

        /// The section of a tensor of this role.
        init(_ role: LayerTensor.Role) {
            switch role {
            case .weights: self = .weights
            case .biases: self = .biases
            case .state: self = .state
            }
        }
    }

    /// The version a file of `layers` gets: the base version, or a later one where a layer's
    /// record needs it (a ConvLayer with padding), so that older readers refuse only such files.
    static func formatVersion(writing layers: [any Layer], namingClasses: Bool = false) -> UInt32 {
        layers.reduce(namingClasses ? 3 : baseFormatVersion) {
            max($0, ($1 as? any LayerKind)?.formatVersionNeeded ?? baseFormatVersion)
        }
    }

    static let headerSize = 20
    static let sectionHeaderSize = 12

    /// The file's bytes.
    /// - Throws: `CheckpointError` (kind `.unusable`) if the value's parts do not
    ///   agree: parameter, state or velocity counts against the layers, or a
    ///   random state that is not four words.
    public func encoded() throws -> [UInt8] {
        func refuse(_ reason: String) -> CheckpointError { CheckpointError(path: source, reason: reason, kind: .unusable) }
        let parameterCount = layers.reduce(0) { $0 + $1.weightCount + $1.biasCount }
        guard parameters.count == parameterCount else {
            throw refuse("it holds \(parameters.count) parameters, but its \(layers.count) layers have \(parameterCount)")
        }
        guard randomState.count == 4 else { throw refuse("its random state has \(randomState.count) words, not 4") }
        let stateCount = layers.reduce(0) { $0 + (($1 as? any LayerKind)?.stateCount ?? 0) }
        guard state.count == stateCount else {
            throw refuse("it holds \(state.count) state values, but its layers have \(stateCount)")
        }
        var sections: [(Tag, [UInt8])] = []
        var architecture = CheckpointByteWriter()
        architecture.count(layers.count)
        for layer in layers { architecture.append(LayerRegistry.record(of: layer)) }
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
            guard velocities.count == parameters.count else {
                throw refuse("it holds \(velocities.count) velocities for \(parameters.count) parameters")
            }
            var tensor = CheckpointByteWriter()
            tensor.reserve(4 + 4 * velocities.count)
            tensor.count(velocities.count)
            velocities.withUnsafeBufferPointer { tensor.floats($0) }
            sections.append((.velocities, tensor.bytes))
        }

        var random = CheckpointByteWriter()
        for word in randomState { random.u64(word) }
        sections.append((.random, random.bytes))

        for (index, _, tensor, offset) in Self.tensorPlacements(of: layers) {
            let values = tensor.role == .state ? state : parameters
            var section = CheckpointByteWriter()
            section.reserve(8 + 4 * tensor.count)
            section.count(index)
            section.count(tensor.count)
            values.withUnsafeBufferPointer { all in
                section.floats(UnsafeBufferPointer(rebasing: all[offset..<(offset + tensor.count)]))
            }
            sections.append((Tag(tensor.role), section.bytes))
        }

        if let classNames {
            let classes = layers.last?.outputShape.count ?? 0
            if let problem = CheckpointLimits.classNamesProblem(classNames, classes: classes) { throw refuse(problem) }
            var names = CheckpointByteWriter()
            names.count(classNames.count)
            for name in classNames {
                names.count(name.utf8.count)
                names.append(Array(name.utf8))
            }
            sections.append((.classNames, names.bytes))
        }

        var file = CheckpointByteWriter()
        file.reserve(Self.headerSize + sections.reduce(0) { $0 + Self.sectionHeaderSize + $1.1.count })
        file.append(Self.magic)
        file.u32(Self.formatVersion(writing: layers, namingClasses: classNames != nil))
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


extension Checkpoint {
    /// Every tensor of every layer in file order, with where its values
    /// start: in `parameters` (weights region, then biases region) or in `state`.
    static func tensorPlacements(of layers: [any Layer]) -> [(layer: Int, any Layer, LayerTensor, offset: Int)] {
        var weightOffset = 0
        var biasOffset = layers.reduce(0) { $0 + $1.weightCount }
        var stateOffset = 0
        var placements: [(layer: Int, any Layer, LayerTensor, offset: Int)] = []
        for (index, layer) in layers.enumerated() {
            let tensors = (layer as? any LayerKind)?.tensors
                ?? [LayerTensor(name: "weights", role: .weights, count: layer.weightCount),
                    LayerTensor(name: "biases", role: .biases, count: layer.biasCount)]
            for tensor in tensors {
                switch tensor.role {
                case .weights:
                    placements.append((index, layer, tensor, weightOffset))
                    weightOffset += tensor.count
                case .biases:
                    placements.append((index, layer, tensor, biasOffset))
                    biasOffset += tensor.count
                case .state:
                    placements.append((index, layer, tensor, stateOffset))
                    stateOffset += tensor.count
                }
            }
        }
        return placements
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
