// LayerKind.swift: the one place the engine learns what a kind of layer is.
//
// A layer kind (ConvPoolLayer, FullyConnectedLayer, BatchNormLayer, ...)
// lives in one file: its value, and its conformance to LayerKind, which
// tells the rest of SwiftNet everything it needs: the spec words that build
// it, its checkpoint record, its tensors (any number: trained weights,
// trained biases, and state such as running statistics), where it runs
// (the data-parallel spatial prefix or the dense suffix), its runner, and
// its network3 counterpart if it has one, and its ONNX operators.  LayerRegistry lists every kind
// once; validation, checkpoints, specs and export reach kinds only through
// it, never by switching on concrete types.
//
// To add a kind: write its file with the value and `extension X: LayerKind`,
// give it an unused `recordCode`, and add `X.self` to `LayerRegistry.kinds`.
// A kind that gains fields later (ConvLayer's padding and stride) keeps its
// first record for layers that leave them at their defaults and writes the
// others under a second, `extendedRecord`, code from a later format
// version: files of the first kind stay byte for byte as they were, and an
// older SwiftNet refuses the others as a newer format instead of misreading.

/// Where a layer runs in a training step.
enum LayerPlacement {
    /// Keeps an image's shape and runs on each thread's share of the samples
    /// (conv, pool, and batch norm after them); comes before every dense layer.
    case spatial
    /// Works on flat vectors of the whole mini-batch (fc, softmax, batch norm after them).
    case dense
}

/// One tensor a layer owns, in checkpoint order.
struct LayerTensor {
    enum Role {
        /// Trained and decayed by L2: lives in the network's weight region.
        case weights
        /// Trained, not decayed: lives in the bias region (biases, gamma, beta).
        case biases
        /// Not trained by SGD but part of the model (running statistics).
        case state
    }
    let name: String
    let role: Role
    let count: Int
}

/// Everything the engine needs of a kind of layer, beyond the public `Layer`.
protocol LayerKind: Layer {
    /// Fills freshly allocated parameters with their initial values.
    func initialize(weights: UnsafeMutableBufferPointer<Float>,
                    biases: UnsafeMutableBufferPointer<Float>,
                    random: inout RandomSource)
    /// The kind's byte in a checkpoint's ARCH record; never reused.
    static var recordCode: UInt8 { get }
    /// The checkpoint format version that introduced the kind.
    static var sinceFormatVersion: UInt32 { get }
    /// The code and format version of the kind's second record, with fields added after the
    /// first, or nil when it has one record.  The code is never reused either.
    static var extendedRecord: (code: UInt8, sinceFormatVersion: UInt32)? { get }
    /// Whether this layer needs the second record (a field away from its default); its
    /// `encodeRecord` then writes that record's fields, and `decodeRecord` reads them when the
    /// reader says `extended`.
    var usesExtendedRecord: Bool { get }
    /// The kind's name in messages, e.g. "ConvPoolLayer".
    static var kindName: String { get }

    /// The first word of a spec part that builds this kind ("conv"), or nil
    /// when no part builds it on its own (ConvPoolLayer is fused from two).
    static var specWord: String? { get }
    /// Whether the kind only takes images (conv, pool), so it cannot follow a dense layer.
    static var needsImageInput: Bool { get }
    /// How a part of this kind is written, for messages: "fc N [ACTIVATION] [dropout P]".
    static var specUsage: String { get }
    /// Builds the layer from a part's words after the first, for an input of `input`.
    static func parse(_ words: inout SpecWords, input: SampleShape, context: SpecContext) throws -> Self
    /// The spec text that parses back into this layer.
    var specText: String { get }

    /// Checks the layer on its own (sizes, probabilities); `NetworkConfigurationError` if wrong.
    func validate() throws
    /// Checks what the layer records of the run (ConvPoolLayer keeps the mini-batch size).
    func validate(miniBatchSize: Int) throws
    /// Values one sample needs in the layer's largest work buffer (checked against checkpoint limits).
    var workspaceValuesPerSample: Int { get }

    /// Appends the layer's ARCH record after its kind byte.
    func encodeRecord(_ out: inout CheckpointByteWriter)
    /// Reads a record written by `encodeRecord`.
    static func decodeRecord(_ reader: inout LayerRecordReader) throws -> Self
    /// The layer's tensors in checkpoint order.
    var tensors: [LayerTensor] { get }
    /// Fills freshly allocated state (running statistics); most kinds have none.
    func initializeState(_ state: UnsafeMutableBufferPointer<Float>)

    /// Where the layer runs.
    var placement: LayerPlacement { get }
    /// Whether a training pass draws a dropout key for this layer.
    var usesDropout: Bool { get }
    /// Whether the kind computes the cost (the softmax): it must be last, and a network ends with one.
    static var isCostKind: Bool { get }
    /// The shapes of network3.py's w and b for this layer, or nil if network3 has no such layer.
    var network3Shapes: (weights: [Int], biases: [Int])? { get }
    /// Appends the layer's ONNX operators as it evaluates (ONNXExport), reading its tensors from
    /// `values` by their `tensors` names; throws `ONNXExportError.unrepresentable` where the layer
    /// has no ONNX form at `graph.opset`.  Every kind says: there is no default.
    func appendONNX(to graph: inout ONNXGraphBuilder, values: ONNXLayerValues) throws
}

extension LayerKind {
    static var sinceFormatVersion: UInt32 { 1 }
    static var extendedRecord: (code: UInt8, sinceFormatVersion: UInt32)? { nil }
    var usesExtendedRecord: Bool { false }
    /// The code this layer's record starts with.
    var recordCodeOfLayer: UInt8 {
        guard usesExtendedRecord, let extended = Self.extendedRecord else { return Self.recordCode }
        return extended.code
    }
    /// The oldest format version that can hold this layer's record.
    var formatVersionNeeded: UInt32 {
        guard usesExtendedRecord, let extended = Self.extendedRecord else { return Self.sinceFormatVersion }
        return extended.sinceFormatVersion
    }
    static var needsImageInput: Bool { false }
    func validate(miniBatchSize: Int) throws {}
    var workspaceValuesPerSample: Int { 0 }
    var tensors: [LayerTensor] {
        [LayerTensor(name: "weights", role: .weights, count: weightCount),
         LayerTensor(name: "biases", role: .biases, count: biasCount)]
    }
    func initializeState(_ state: UnsafeMutableBufferPointer<Float>) {}
    var usesDropout: Bool { false }
    static var isCostKind: Bool { false }
    var isCostLayer: Bool { Self.isCostKind }
    var network3Shapes: (weights: [Int], biases: [Int])? { nil }
    /// `parse` and `decodeRecord` as existentials, for callers that hold only `any LayerKind.Type`.
    static func parseLayer(_ words: inout SpecWords, input: SampleShape, context: SpecContext) throws -> any LayerKind {
        try parse(&words, input: input, context: context)
    }
    static func decodeLayer(_ reader: inout LayerRecordReader) throws -> any LayerKind { try decodeRecord(&reader) }

    /// Values of state (running statistics) the layer keeps.
    var stateCount: Int { tensors.filter { $0.role == .state }.reduce(0) { $0 + $1.count } }
}

/// Every kind SwiftNet knows, each listed once, in the order a network uses them.
enum LayerRegistry {
    static let kinds: [any LayerKind.Type] = [
        ConvLayer.self,
        MaxPoolLayer.self,
        ConvPoolLayer.self,
        BatchNormLayer.self,
        FullyConnectedLayer.self,
        SoftmaxLayer.self,
    ]

    /// The kind a record code names, and whether it is the kind's extended record, if the format version has it.
    static func kind(recordCode: UInt8, formatVersion: UInt32) -> (kind: any LayerKind.Type, extended: Bool)? {
        if let kind = kinds.first(where: { $0.recordCode == recordCode && $0.sinceFormatVersion <= formatVersion }) {
            return (kind, false)
        }
        if let kind = kinds.first(where: {
            guard let extended = $0.extendedRecord else { return false }
            return extended.code == recordCode && extended.sinceFormatVersion <= formatVersion
        }) {
            return (kind, true)
        }
        return nil
    }

    /// The kind a spec part's first word names.
    static func kind(specWord: String) -> (any LayerKind.Type)? {
        kinds.first { $0.specWord == specWord }
    }

    /// A layer as the engine sees it; throws if it is not of a registered kind.
    static func known(_ layer: any Layer, position: Int) throws -> any LayerKind {
        guard let known = layer as? any LayerKind else {
            throw NetworkConfigurationError.unsupportedLayer(position: position, summary: layer.summary)
        }
        return known
    }

    /// "1 (ConvPoolLayer), 2 (FullyConnectedLayer), ..." for messages about unknown codes.
    static func describeRecordCodes() -> String {
        let first = kinds.map { (code: $0.recordCode, name: $0.kindName, since: $0.sinceFormatVersion) }
        let extended = kinds.compactMap { kind in
            kind.extendedRecord.map { (code: $0.code, name: kind.kindName + " with new fields", since: $0.sinceFormatVersion) }
        }
        return (first + extended).sorted { $0.code < $1.code }
            .map { "\($0.code) (\($0.name)" + ($0.since > 1 ? ", from format version \($0.since))" : ")") }
            .joined(separator: ", ")
    }

    /// A layer's ARCH record, kind byte first; equal records mean equal layers.
    static func record(of layer: any Layer) -> [UInt8] {
        var out = CheckpointByteWriter()
        guard let known = layer as? any LayerKind else {
            // Not storable; as a record it differs from every layer a checkpoint can hold.
            out.u8(0)
            out.append(Array(layer.summary.utf8))
            return out.bytes
        }
        out.u8(known.recordCodeOfLayer)
        known.encodeRecord(&out)
        return out.bytes
    }

    /// Whether two layers describe the same layer.
    static func same(_ a: any Layer, _ b: any Layer) -> Bool { record(of: a) == record(of: b) }
}
