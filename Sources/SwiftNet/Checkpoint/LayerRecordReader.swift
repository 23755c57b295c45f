// LayerRecordReader.swift: what a layer kind reads its ARCH record with.
//
// Each kind's `decodeRecord` reads its own fields through this reader, which
// names every field after the layer ("layer 2's filter height"), bounds
// every size by the format's limits before anything is allocated, and reads
// activations and dropout probabilities the one way the format spells them.
// Problems surface as CheckpointFormatProblem, which the decoder turns into
// a CheckpointError naming the file and the byte offset.

/// Reads one layer's ARCH record.
struct LayerRecordReader {
    var bytes: CheckpointByteReader
    /// "layer 3", for messages.
    let layer: String
    /// Whether the record is the kind's extended one (`LayerKind.extendedRecord`), with the fields added later.
    var extended = false

    /// A spatial size or count: `minimum` (1 unless told) up to `CheckpointLimits.maximumExtent`.
    mutating func extent(_ field: String, minimum: Int = 1) throws -> Int {
        try bytes.count("\(layer)'s \(field)", in: minimum...CheckpointLimits.maximumExtent)
    }

    /// Several extents in a row.
    mutating func extents(_ fields: [String]) throws -> [Int] {
        try fields.map { try extent($0) }
    }

    /// A dense width: `minimum` up to `CheckpointLimits.maximumWidth`.
    mutating func width(_ field: String, minimum: Int = 1) throws -> Int {
        try bytes.count("\(layer)'s \(field)", in: minimum...CheckpointLimits.maximumWidth)
    }

    mutating func activation() throws -> Activation {
        let at = bytes.position
        let code = try bytes.u8("\(layer)'s activation")
        guard let activation = Activation(recordCode: code) else {
            throw CheckpointFormatProblem(offset: at, reason: "\(layer) has activation code \(code); known codes are 0 to 3")
        }
        return activation
    }

    mutating func dropout() throws -> Float {
        let at = bytes.position
        let value = try bytes.f32("\(layer)'s dropout")
        guard value.isFinite, value >= 0, value < 1 else {
            throw CheckpointFormatProblem(offset: at, reason: "\(layer) has dropout probability \(value); it must lie in [0, 1)")
        }
        return value
    }

    /// A float that must be finite and lie in `range`.
    mutating func fraction(_ field: String, in range: ClosedRange<Float>) throws -> Float {
        let at = bytes.position
        let value = try bytes.f32("\(layer)'s \(field)")
        guard value.isFinite, range.contains(value) else {
            throw CheckpointFormatProblem(offset: at, reason: "\(layer) has \(field) \(value); it must lie in \(range)")
        }
        return value
    }
}

extension CheckpointByteWriter {
    /// Sizes as u32 each, the way every record spells them.
    mutating func sizes(_ values: [Int]) {
        for value in values { u32(UInt32(truncatingIfNeeded: value)) }
    }

    mutating func activation(_ activation: Activation) { u8(activation.recordCode) }
}

extension Activation {
    /// The activation's byte in a checkpoint.
    var recordCode: UInt8 {
        switch self {
        case .sigmoid: return 0
        case .tanh: return 1
        case .relu: return 2
        case .linear: return 3
        }
    }

    init?(recordCode: UInt8) {
        guard let found = Activation.allCases.first(where: { $0.recordCode == recordCode }) else { return nil }
        self = found
    }
}

/// Limits that keep a hostile file from asking for absurd amounts of memory;
/// each is far above any network the seed describes.
enum CheckpointLimits {
    static let maximumLayers = 64
    /// Tensors one layer may hold (batch norm has four).
    static let maximumTensorsPerLayer = 4
    static let maximumExtent = 1 << 16
    static let maximumWidth = 1 << 24
    static let maximumSampleValues = 1 << 24
    static let maximumParameters = 1 << 28
    static let maximumBatch = 1 << 16
    static let maximumThreads = Network.maximumThreads
    static let maximumEpochs = 1 << 24
    /// Bytes of UTF-8 in one class name.
    static let maximumClassNameBytes = 256

    /// Why `names` cannot name `classes` classes in a checkpoint, or nil: one
    /// name per class, each 1 to 256 bytes with no control characters (a name
    /// is printed on one line), and no two alike.
    static func classNamesProblem(_ names: [String], classes: Int) -> String? {
        guard names.count == classes else { return "it has \(names.count) class names for \(classes) classes" }
        for (index, name) in names.enumerated() {
            guard (1...maximumClassNameBytes).contains(name.utf8.count),
                  !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                return "class name \(index) is empty, longer than \(maximumClassNameBytes) bytes or holds a control character"
            }
        }
        guard Set(names).count == names.count else { return "two classes have the same name" }
        return nil
    }
}
