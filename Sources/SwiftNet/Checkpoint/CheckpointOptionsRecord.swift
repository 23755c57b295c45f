// CheckpointOptionsRecord.swift: the OPTS section of a version 2 checkpoint.
//
// It holds the run's TrainingOptions and the part of TrainingProgress that
// they need (epochs without a new best, eta halvings, whether the run
// stopped early), in this order, little-endian:
//
//   u8 shuffle, u8 expand, f32 momentum, u8 nesterov,
//   u8 schedule kind (0 constant, 1 step, 2 cosine, 3 plateau),
//   u32 schedule count (step: EVERY, plateau: PATIENCE, else 0),
//   u32 schedule halvings (plateau: HALVINGS, else 0),
//   f32 schedule factor (step: FACTOR, else 0),
//   u32 early stopping patience (0: off),
//   u32 epochs since best, u32 eta halvings, u8 stopped early,
//   f32 augmentation shift, rotation, elastic alpha, elastic sigma
//   (all 0: no augmentation)
//
// A version 1 file has no OPTS section and reads as the seed's plain run.

enum CheckpointOptionsRecord {
    static func encode(_ options: TrainingOptions, _ progress: TrainingProgress) -> [UInt8] {
        var out = CheckpointByteWriter()
        out.u8(options.shuffle ? 1 : 0)
        out.u8(options.expand ? 1 : 0)
        out.f32(options.momentum)
        out.u8(options.nesterov ? 1 : 0)
        switch options.schedule {
        case .constant:
            out.u8(0); out.count(0); out.count(0); out.f32(0)
        case .step(let every, let factor):
            out.u8(1); out.count(every); out.count(0); out.f32(factor)
        case .cosine:
            out.u8(2); out.count(0); out.count(0); out.f32(0)
        case .halveOnPlateau(let patience, let maxHalvings):
            out.u8(3); out.count(patience); out.count(maxHalvings); out.f32(0)
        }
        out.count(options.earlyStoppingPatience)
        out.count(progress.epochsSinceBest)
        out.count(progress.etaHalvings)
        out.u8(progress.stoppedEarly ? 1 : 0)
        let augmentation = options.augmentation.flatMap { $0.isIdentity ? nil : $0 }
        for value in [augmentation?.maxShift, augmentation?.maxRotationDegrees, augmentation?.elasticAlpha,
                      augmentation?.elasticSigma] {
            out.f32(value ?? 0)
        }
        return out.bytes
    }

    /// Reads the section into `options` and the matching fields of `progress`.
    static func decode(_ reader: inout CheckpointByteReader, progress: inout TrainingProgress,
                       epochLimit: Int) throws -> TrainingOptions {
        let start = reader.position
        func flag(_ field: String) throws -> Bool {
            let at = reader.position
            let value = try reader.u8(field)
            guard value <= 1 else { throw CheckpointFormatProblem(offset: at, reason: "OPTS's \(field) is \(value); it must be 0 or 1") }
            return value == 1
        }
        var options = TrainingOptions()
        options.shuffle = try flag("shuffle flag")
        options.expand = try flag("expand flag")
        options.momentum = try reader.f32("momentum")
        options.nesterov = try flag("Nesterov flag")
        let kindOffset = reader.position
        let kind = try reader.u8("schedule kind")
        let first = try reader.count("schedule count", in: 0...epochLimit)
        let second = try reader.count("schedule halvings", in: 0...30)
        let factor = try reader.f32("schedule factor")
        // Fields a kind does not use must be 0, so that a file has one reading.
        let unused: Bool
        switch kind {
        case 0, 2: unused = first == 0 && second == 0 && factor.bitPattern == 0
        case 1: unused = second == 0
        case 3: unused = factor.bitPattern == 0
        default: unused = true
        }
        guard unused else {
            throw CheckpointFormatProblem(offset: kindOffset, reason: "OPTS's schedule of kind \(kind) has values in fields that kind does not use")
        }
        switch kind {
        case 0: options.schedule = .constant
        case 1: options.schedule = .step(every: first, factor: factor)
        case 2: options.schedule = .cosine
        case 3: options.schedule = .halveOnPlateau(patience: first, maxHalvings: second)
        default:
            throw CheckpointFormatProblem(offset: kindOffset, reason: "OPTS's schedule kind is \(kind); known kinds are 0 to 3")
        }
        options.earlyStoppingPatience = try reader.count("early stopping patience", in: 0...epochLimit)
        progress.epochsSinceBest = try reader.count("epochs since best", in: 0...epochLimit)
        progress.etaHalvings = try reader.count("eta halvings", in: 0...30)
        progress.stoppedEarly = try flag("stopped-early flag")
        let augmentationOffset = reader.position
        let distortion = try ["augmentation shift", "augmentation rotation", "augmentation elastic alpha",
                              "augmentation elastic sigma"].map { try reader.f32($0) }
        if distortion.contains(where: { $0.bitPattern != 0 }) {
            options.augmentation = Augmentation(maxShift: distortion[0], maxRotationDegrees: distortion[1],
                                                elasticAlpha: distortion[2], elasticSigma: distortion[3])
            guard !options.augmentation!.isIdentity || distortion[3].bitPattern == 0 else {
                throw CheckpointFormatProblem(offset: augmentationOffset, reason: "OPTS's augmentation has only an elastic sigma")
            }
        }
        try reader.expectEnd()
        do {
            try options.validate()
        } catch let error as TrainingError {
            throw CheckpointFormatProblem(offset: start, reason: "its training options are impossible: \(error)")
        }
        return options
    }
}
