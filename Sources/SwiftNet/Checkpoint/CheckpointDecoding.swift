// CheckpointDecoding.swift: a checkpoint's bytes read back, trusting nothing.
//
// Every length is checked against the bytes that are there, every CRC
// before its payload is read, every count against a fixed limit
// (CheckpointLimits), each layer's record by its own kind, and the
// architecture by NetworkValidator, the rules Network applies, so a damaged
// or hostile file ends in one CheckpointError naming the file and the
// problem, never in a trap or a huge allocation.

import CKernels

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
            throw CheckpointError(path: source, offset: problem.offset, reason: problem.reason, kind: problem.kind)
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

    func problem(_ reason: String, at offset: Int? = nil, kind: CheckpointError.Kind = .damaged) -> CheckpointFormatProblem {
        CheckpointFormatProblem(offset: offset, reason: reason, kind: kind)
    }

    mutating func decode() throws -> Checkpoint {
        try readHeader()
        var architecture = try section(.architecture)
        let records = try readArchitecture(&architecture)
        // Files get the oldest version their contents fit in, so each network has one encoding
        // (checked exactly below, once it is known whether the file names its classes).
        let needed = Checkpoint.formatVersion(writing: records)
        guard version >= needed || version < Checkpoint.baseFormatVersion else {
            throw problem("the file is of format version \(version), but its layers need version \(needed), "
                + "which SwiftNet writes for them", at: 8)
        }
        // Version 2 adds OPTS, and VELO when the run has momentum.
        let tensorCount = records.reduce(0) { $0 + $1.tensors.count }
        let expectedSections = 4 + tensorCount + (version >= 2 ? 1 : 0)
        let announced = sectionsLeft + 1
        // Version 2 may add VELO, and version 3 CLAS.
        let optionalSections = version >= 3 ? 2 : version >= 2 ? 1 : 0
        guard (expectedSections...(expectedSections + optionalSections)).contains(announced) else {
            throw problem("the header announces \(announced) sections, but a network of \(records.count) layers has \(expectedSections)", at: 12)
        }
        var settings = try section(.hyperparameters)
        let miniBatchSize = try settings.count("mini-batch size", in: 1...CheckpointLimits.maximumBatch)
        let evaluationBatchSize = try settings.count("evaluation batch size", in: 1...CheckpointLimits.maximumBatch)
        let threads = try settings.count("thread count", in: 0...CheckpointLimits.maximumThreads)
        let seed = try settings.u64("seed")
        let epochs = try settings.count("epoch count", in: 0...CheckpointLimits.maximumEpochs)
        let etaOffset = settings.position
        let eta = try settings.f32("eta")
        let lmbda = try settings.f32("lmbda")
        // A model file (Checkpoint(model:)) has no run: 0 epochs and eta 0.
        guard eta.isFinite, eta > 0 || (eta == 0 && epochs == 0), lmbda.isFinite, lmbda >= 0 else {
            throw problem("eta \(eta) and lmbda \(lmbda) are not a positive eta and an lmbda of at least 0", at: etaOffset)
        }
        let imageCount = try settings.count("training image count", in: 0...Int(Int32.max))
        let dataCRC = try settings.u32("training data CRC-32")
        try settings.expectEnd()
        var hyperparameters = TrainingHyperparameters(epochs: epochs, eta: eta, lmbda: lmbda, seed: seed)
        let layers = try checkLayers(records, miniBatchSize: miniBatchSize)

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
        var hasNames = false
        if version >= 2 {
            var record = try section(.options)
            hyperparameters.options = try CheckpointOptionsRecord.decode(&record, progress: &progress,
                                                                         epochLimit: CheckpointLimits.maximumEpochs)
            let hasVelocities = hyperparameters.options.momentum > 0
            let withoutNames = expectedSections + (hasVelocities ? 1 : 0)
            hasNames = version >= 3 && announced == withoutNames + 1
            guard announced == withoutNames || hasNames else {
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

        var parameters = [Float](repeating: 0, count: parameterCount)
        var state = [Float](repeating: 0, count: records.reduce(0) { $0 + $1.stateCount })
        for (index, layer, tensor, offset) in Checkpoint.tensorPlacements(of: layers) {
            let tag = Checkpoint.Tag(tensor.role)
            let what = "layer \(index + 1)'s \(tensor.name)"
            var section = try section(tag, holding: what)
            let start = section.position
            let savedIndex = try section.count("layer number", in: 0...Int(UInt32.max))
            let savedCount = try section.count("value count", in: 0...Int(UInt32.max))
            guard savedIndex == index, savedCount == tensor.count else {
                throw problem("section \(tag.rawValue) holds \(savedCount) values of layer \(savedIndex + 1) where \(what), "
                    + "\(tensor.count) values of \(layer.summary), belong", at: start)
            }
            func read(into values: inout [Float]) throws {
                try values.withUnsafeMutableBufferPointer { all in
                    try section.floats(tensor.count, into: all.baseAddress! + offset, what)
                    if ck_all_finite(all.baseAddress! + offset, tensor.count) == 0,
                       let bad = all[offset..<(offset + tensor.count)].firstIndex(where: { !$0.isFinite }) {
                        throw problem("\(what) hold \(all[bad]) at index \(bad - offset); "
                            + (tensor.role == .state ? "state values" : "parameters") + " must be finite",
                                      at: start + 8 + 4 * (bad - offset))
                    }
                }
            }
            if tensor.role == .state { try read(into: &state) } else { try read(into: &parameters) }
            try section.expectEnd()
        }
        // A file is written at the lowest version that holds it, and read only so: then a file
        // that loads is exactly the file its checkpoint writes again.
        let exact = Checkpoint.formatVersion(writing: records, namingClasses: hasNames)
        guard version < Checkpoint.baseFormatVersion || version == exact else {
            throw problem("the file is of format version \(version), but its " + (hasNames ? "layers and class names" : "layers")
                + " need version \(exact), which SwiftNet writes for them", at: 8)
        }
        var classNames: [String]?
        if hasNames {
            var names = try section(.classNames)
            let start = names.position
            let classes = layers.last?.outputShape.count ?? 0
            let count = try names.count("class name count", in: 1...CheckpointLimits.maximumWidth)
            var read: [String] = []
            for index in 0..<count {
                let length = try names.count("class name \(index)'s length", in: 1...CheckpointLimits.maximumClassNameBytes)
                guard let name = String(validating: try names.bytes(length, "class name \(index)"), as: UTF8.self) else {
                    throw problem("class name \(index) is not UTF-8", at: start)
                }
                read.append(name)
            }
            try names.expectEnd()
            if let reason = CheckpointLimits.classNamesProblem(read, classes: classes) { throw problem(reason, at: start) }
            classNames = read
        }
        guard position == bytes.count else {
            throw problem("\(bytes.count - position) bytes follow the last section", at: position)
        }
        var checkpoint = Checkpoint(layers: layers, miniBatchSize: miniBatchSize, evaluationBatchSize: evaluationBatchSize,
                                        threads: threads, hyperparameters: hyperparameters, progress: progress,
                                        randomState: randomState, parameters: parameters)
        checkpoint.trainingData = imageCount > 0 ? DataFingerprint(imageCount: imageCount, crc32: dataCRC) : nil
        checkpoint.velocities = velocities
        checkpoint.state = state
        checkpoint.classNames = classNames
        return checkpoint
    }

    mutating func readHeader() throws {
        guard !bytes.isEmpty else { throw problem("the file is empty") }
        let magic = Checkpoint.magic
        guard bytes.count >= magic.count, Array(bytes[0..<magic.count]) == magic else {
            let start = Array(bytes.prefix(magic.count))
            if start.first == 0x80 || start.starts(with: [0x1f, 0x8b]) {
                throw problem("this is a pickle, not a SwiftNet checkpoint", kind: .pickle)
            }
            if magic.starts(with: start) { throw problem("the file is truncated inside its header (\(bytes.count) bytes)") }
            throw problem("not a SwiftNet checkpoint: it does not start with \(quoted(magic)) but with \(quoted(start))", at: 0,
                          kind: .notACheckpoint)
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
                + "use a newer cnn", at: 8, kind: .newerVersion)
        }
        guard version >= 1 else { throw problem("format version 0 does not exist", at: 8) }
        guard sections <= UInt32(6 + CheckpointLimits.maximumTensorsPerLayer * CheckpointLimits.maximumLayers) else {
            throw problem("the header announces \(sections) sections, more than a network of \(CheckpointLimits.maximumLayers) layers has", at: 12)
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

    /// Each layer, read by the kind its record names.
    func readArchitecture(_ reader: inout CheckpointByteReader) throws -> [any LayerKind] {
        let count = try reader.count("layer count", in: 1...CheckpointLimits.maximumLayers)
        var layers: [any LayerKind] = []
        for index in 1...count {
            let start = reader.position
            let code = try reader.u8("layer \(index)'s kind")
            guard let (kind, extended) = LayerRegistry.kind(recordCode: code, formatVersion: version) else {
                throw problem("layer \(index) is of kind \(code); known kinds are \(LayerRegistry.describeRecordCodes())",
                              at: start)
            }
            var record = LayerRecordReader(bytes: reader, layer: "layer \(index)", extended: extended)
            layers.append(try kind.decodeLayer(&record))
            reader = record.bytes
        }
        try reader.expectEnd()
        return layers
    }

    /// The layers, checked against the format's limits and by the one validator.
    func checkLayers(_ layers: [any LayerKind], miniBatchSize: Int) throws -> [any Layer] {
        var parameterCount = 0
        for (index, layer) in layers.enumerated() {
            do { try layer.validate() } catch let error as NetworkConfigurationError {
                throw problem("layer \(index + 1) cannot be built: \(error)")
            }
            let shapes = [layer.inputShape, layer.outputShape]
            guard layer.workspaceValuesPerSample <= CheckpointLimits.maximumSampleValues,
                  shapes.allSatisfy({ Checkpoint.product([$0.channels, $0.height, $0.width]) <= CheckpointLimits.maximumSampleValues })
            else {
                throw problem("layer \(index + 1), \(layer.summary), has more than \(CheckpointLimits.maximumSampleValues) values per sample")
            }
            // Each size is bounded above, so these counts cannot overflow; their sum is checked as it grows.
            parameterCount += layer.weightCount + layer.biasCount + layer.stateCount
            guard parameterCount <= CheckpointLimits.maximumParameters else {
                throw problem("the network has more than \(CheckpointLimits.maximumParameters) parameters")
            }
        }
        do {
            return try NetworkValidator.validate(layers, miniBatchSize: miniBatchSize)
        } catch let error as NetworkConfigurationError {
            throw problem("\(error)")
        }
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
