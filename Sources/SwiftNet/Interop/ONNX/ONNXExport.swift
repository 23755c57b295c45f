// ONNXExport.swift: a trained network as an ONNX model, for ONNX Runtime and every other runtime.
//
// The file is one ModelProto in the default (ai.onnx) domain at the opset
// asked for.  Each layer kind writes its own operators (LayerKind.appendONNX,
// in the kind's file), in the order SwiftNet evaluates them: the seed's
// conv-pool layer as Conv, MaxPool, Add(bias), activation; dense layers as
// Gemm with the seed's evaluation-time dropout rule, (1 - p) W x + b, folded
// into W; batch norm as BatchNormalization on its running statistics
// (inference mode); the output layer as Gemm then Softmax.  The graph has
// one input, "input", float32 [batch, channels, height, width] with a
// dynamic batch, and one output, "probabilities", float32 [batch, classes].
//
// Pixels go in as SwiftNet's datasets hold them: byte / 256, so 0 is black
// and 255 is 255/256, gray or one plane per colour (R, G, B).  The doc
// string says so, and names SwiftNet's version and the network's spec;
// metadata_props carry the same facts as keys a program can read, with the
// class names as a JSON array.
//
// The protobuf is written by this folder's own small encoder rather than
// swift-protobuf: export needs ten messages and some thirty fields, written
// only, and a dependency with generated code would weigh on every package
// that depends on SwiftNet (README, "ONNX export").

import Foundation

/// Why a network could not be exported to ONNX.
public enum ONNXExportError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The opset asked for is outside ``ONNXExport/supportedOpsets``.
    case unsupportedOpset(Int)
    /// A layer has no ONNX form at this opset.
    case unrepresentable(layer: Int, summary: String, reason: String)
    /// The weights need more bytes than one ONNX file (a protobuf message) can hold.
    case tooLarge(tensorBytes: Int)

    public var description: String {
        switch self {
        case .unsupportedOpset(let opset):
            let range = ONNXExport.supportedOpsets
            return "opset \(opset) is not supported: SwiftNet writes opsets \(range.lowerBound) to \(range.upperBound)"
        case .unrepresentable(let layer, let summary, let reason):
            return "layer \(layer + 1), \(summary), cannot be written as ONNX: \(reason)"
        case .tooLarge(let bytes):
            return "the network's \(bytes) bytes of weights pass the 2 GB one ONNX file can hold "
                + "(SwiftNet does not write ONNX's external data files)"
        }
    }
}

/// Writes networks as ONNX models.
///
/// ```swift
/// let network = try Network.loadModel(contentsOf: "model.ckpt")
/// try ONNXExport.write(network, to: "model.onnx")
/// ```
public enum ONNXExport {
    /// The opsets SwiftNet writes: from 9 (BatchNormalization without `spatial`) to the newest
    /// that ONNX Runtime 1.32 runs.
    public static let supportedOpsets: ClosedRange<Int> = 9...26
    /// The opset written unless asked otherwise: widely supported, and after Softmax's change at 13.
    public static let defaultOpset = 17
    /// The graph input's name: float32 [batch, channels, height, width], pixel = byte / 256.
    public static let inputName = "input"
    /// The graph output's name: float32 [batch, classes], the softmax probabilities.
    public static let outputName = "probabilities"

    /// The model file's bytes for `network` at `opset`.
    /// - Throws: `ONNXExportError` for an opset outside ``supportedOpsets``, a layer with no ONNX
    ///   form, or weights beyond the 2 GB one file holds.
    public static func modelBytes(of network: Network, opset: Int = defaultOpset) throws -> [UInt8] {
        try model(layers: network.layers, parameters: network.parameterValues, state: network.stateValues,
                  classNames: network.classNames, opset: opset).serialized()
    }

    /// Writes `network` as an ONNX model to `path`, atomically: a reader sees the old file or the
    /// whole new one, never a part.
    /// - Throws: `ONNXExportError` as ``modelBytes(of:opset:)`` does, or `FileError` naming `path`.
    public static func write(_ network: Network, to path: String, opset: Int = defaultOpset) throws {
        try AtomicFile.write(modelBytes(of: network, opset: opset), to: path)
    }

    /// Throws unless SwiftNet writes `opset`.
    /// - Throws: `ONNXExportError.unsupportedOpset`.
    public static func checkOpset(_ opset: Int) throws {
        guard supportedOpsets.contains(opset) else { throw ONNXExportError.unsupportedOpset(opset) }
    }

    /// The most bytes of tensors one file holds: a protobuf message cannot pass 2 GiB, and
    /// SwiftNet does not write ONNX's external-data files, so a larger model is refused.
    static let maximumTensorBytes = 2_000_000_000

    /// Throws unless `tensorBytes` of weights fit in one ONNX file.
    static func checkSize(tensorBytes: Int) throws {
        guard tensorBytes <= maximumTensorBytes else { throw ONNXExportError.tooLarge(tensorBytes: tensorBytes) }
    }

    /// The lowest IR version that carries `opset` (onnx.helper's VERSION_TABLE).
    static func irVersion(forOpset opset: Int) -> Int {
        switch opset {
        case ...8: return 3
        case 9: return 4
        case 10: return 5
        case 11: return 6
        case 12...14: return 7
        case 15...18: return 8
        case 19...20: return 9
        case 21...22: return 10
        case 23: return 11
        case 24: return 12
        default: return 13
        }
    }

    static func model(layers: [any Layer], parameters: [Float], state: [Float], classNames: [String]?,
                      opset: Int) throws -> ONNXModelProto {
        try checkOpset(opset)
        var graph = ONNXGraphBuilder(opset: opset, input: inputName)
        let values = layerValues(layers: layers, parameters: parameters, state: state)
        for (index, layer) in layers.enumerated() {
            guard let kind = layer as? any LayerKind else {
                throw ONNXExportError.unrepresentable(layer: index, summary: layer.summary, reason: "not a SwiftNet layer kind")
            }
            graph.beginLayer(index)
            try kind.appendONNX(to: &graph, values: values[index])
        }
        graph.nameOutput(outputName)
        try checkSize(tensorBytes: graph.initializers.reduce(0) { $0 + 4 * $1.values.count })

        let input = layers[0].inputShape, classes = layers.last!.outputShape.count
        let names = classNames ?? (0..<classes).map(String.init)
        let spec = NetworkSpec.describe(layers)
        let scaling = "pixel = byte / 256 (0 is black, 255 is 255/256), one plane per channel: "
            + (input.channels == 3 ? "R, G, B" : input.channels == 1 ? "gray" : "\(input.channels) planes")
        let doc = "SwiftNet \(SwiftNetVersion.string) network: \(spec). "
            + "Input '\(inputName)': float32 [batch, \(input.channels), \(input.height), \(input.width)], \(scaling). "
            + "Output '\(outputName)': float32 [batch, \(classes)], softmax probabilities of the classes in "
            + "metadata_props 'class_names'. Dropout is folded in as at evaluation: (1 - p) W x + b."
        let proto = ONNXGraphProto(
            name: "swiftnet", nodes: graph.nodes, initializers: graph.initializers,
            inputs: [ONNXValueInfo(name: inputName,
                                   shape: [.named("batch"), .fixed(input.channels), .fixed(input.height), .fixed(input.width)],
                                   docString: "images, \(scaling)")],
            outputs: [ONNXValueInfo(name: outputName, shape: [.named("batch"), .fixed(classes)],
                                    docString: "softmax probabilities, one per class")])
        return ONNXModelProto(
            irVersion: irVersion(forOpset: opset), opsetVersion: opset, producerVersion: SwiftNetVersion.string,
            docString: doc, graph: proto,
            metadata: [("swiftnet_version", SwiftNetVersion.string),
                       ("swiftnet_spec", spec),
                       ("class_names", jsonArray(names)),
                       ("input_scaling", "byte / 256"),
                       ("input_layout", "NCHW, \(input.channels)x\(input.height)x\(input.width), \(scaling)")])
    }

    /// Each layer's tensors by name, cut from the network's parameter and state blocks.
    private static func layerValues(layers: [any Layer], parameters: [Float], state: [Float]) -> [ONNXLayerValues] {
        var tensors = [[String: [Float]]](repeating: [:], count: layers.count)
        for (index, _, tensor, offset) in Checkpoint.tensorPlacements(of: layers) {
            let source = tensor.role == .state ? state : parameters
            tensors[index][tensor.name] = Array(source[offset..<offset + tensor.count])
        }
        return tensors.enumerated().map { ONNXLayerValues(layerIndex: $0.offset, tensors: $0.element) }
    }

    private static func jsonArray(_ strings: [String]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        guard let data = try? encoder.encode(strings), let text = String(data: data, encoding: .utf8) else { return "[]" }
        return text
    }
}

extension Network {
    /// Writes the network as an ONNX model (``ONNXExport/write(_:to:opset:)``).
    public func exportONNX(to path: String, opset: Int = ONNXExport.defaultOpset) throws {
        try ONNXExport.write(self, to: path, opset: opset)
    }
}
