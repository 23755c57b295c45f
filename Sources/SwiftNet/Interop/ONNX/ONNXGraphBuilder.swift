// ONNXGraphBuilder.swift: what a layer kind writes its ONNX operators into.
//
// Export walks the network's layers in order; each kind appends its
// operators (LayerKind.appendONNX) to this builder, which keeps the value
// the next operator reads, whether that value is still an image
// [batch, C, H, W] or already flat [batch, features], and unique names:
// layer 2's weights are the initializer "layer2.weights", its Gemm node
// "layer2.Gemm" and that node's output "layer2.gemm".  Values a layer needs
// (filters, biases, running statistics) come to it by the names its
// `tensors` give them, so a kind's export reads like its forward pass.

/// A layer's trained tensors and state, by the names of `LayerKind.tensors`.
struct ONNXLayerValues {
    let layerIndex: Int
    let tensors: [String: [Float]]

    subscript(name: String) -> [Float] {
        guard let values = tensors[name] else {
            preconditionFailure("layer \(layerIndex + 1) has no tensor named \(name)")  // a kind's own naming mistake
        }
        return values
    }
}

extension ONNXAttribute {
    static func int(_ name: String, _ value: Int) -> ONNXAttribute { ONNXAttribute(name: name, value: .int(value)) }
    static func ints(_ name: String, _ values: [Int]) -> ONNXAttribute { ONNXAttribute(name: name, value: .ints(values)) }
    static func float(_ name: String, _ value: Float) -> ONNXAttribute { ONNXAttribute(name: name, value: .float(value)) }
}

/// The graph of an exported network, grown one layer at a time.
struct ONNXGraphBuilder {
    /// The opset the file declares; operators whose form changed between opsets may look at it.
    let opset: Int
    private(set) var nodes: [ONNXNode] = []
    private(set) var initializers: [ONNXTensor] = []
    /// The value the next operator reads: the graph's input, then each operator's output.
    private(set) var current: String
    /// Whether `current` is [batch, C, H, W]; false once flattened to [batch, features].
    private(set) var currentIsImage = true
    private var prefix = "layer0"

    init(opset: Int, input: String) {
        self.opset = opset
        self.current = input
    }

    /// Names what follows as layer `index`'s (0-based; names count from 1, as messages do).
    mutating func beginLayer(_ index: Int) {
        prefix = "layer\(index + 1)"
    }

    /// Stores a tensor of the current layer in the model and returns its name.
    mutating func constant(_ name: String, dims: [Int], values: [Float]) -> String {
        precondition(dims.reduce(1, *) == values.count, "\(prefix).\(name): \(values.count) values for dims \(dims)")
        let fullName = "\(prefix).\(name)"
        initializers.append(ONNXTensor(name: fullName, dims: dims, values: values))
        return fullName
    }

    /// Applies `opType` to the current value (then `inputs`), making its output the current value.
    mutating func apply(_ opType: String, _ inputs: [String] = [], attributes: [ONNXAttribute] = []) {
        let output = "\(prefix).\(opType.lowercased())"
        precondition(!nodes.contains { $0.outputs.contains(output) }, "\(output) written twice")
        nodes.append(ONNXNode(opType: opType, name: "\(prefix).\(opType)", inputs: [current] + inputs,
                              outputs: [output], attributes: attributes))
        current = output
    }

    /// The activation as its operator; linear adds none.
    mutating func activation(_ activation: Activation) {
        switch activation {
        case .sigmoid: apply("Sigmoid")
        case .tanh: apply("Tanh")
        case .relu: apply("Relu")
        case .linear: break
        }
    }

    /// Flattens an image to [batch, C*H*W] in SwiftNet's order (channel, row, column), as a
    /// dense layer reads it; does nothing to a value already flat.
    mutating func flattenIfImage() {
        guard currentIsImage else { return }
        apply("Flatten", attributes: [.int("axis", 1)])
        currentIsImage = false
    }

    /// A convolution of (filters, channels, height, width) filters, with the layer's biases when
    /// `withBiases` (else none: the seed's conv-pool layer adds them after pooling).
    mutating func convolution(_ filterShape: (filters: Int, channels: Int, height: Int, width: Int), values: ONNXLayerValues,
                              withBiases: Bool, padding: Int = 0, stride: Int = 1) {
        let filters = constant("weights", dims: [filterShape.filters, filterShape.channels, filterShape.height, filterShape.width],
                               values: values["weights"])
        let biases = withBiases ? [constant("biases", dims: [filterShape.filters], values: values["biases"])] : []
        apply("Conv", [filters] + biases, attributes: [.ints("kernel_shape", [filterShape.height, filterShape.width]),
                                                       .ints("pads", [padding, padding, padding, padding]),
                                                       .ints("strides", [stride, stride])])
    }

    /// A dense product as the seed evaluates it: Flatten if need be, then Gemm with the
    /// dropout rule's keep probability (1 - p) folded into the (nIn, nOut) weights.
    mutating func denseProduct(nIn: Int, nOut: Int, pDropout: Float, values: ONNXLayerValues) {
        flattenIfImage()
        let keep = 1 - pDropout
        let weights = constant("weights", dims: [nIn, nOut], values: values["weights"].map { $0 * keep })
        let biases = constant("biases", dims: [nOut], values: values["biases"])
        apply("Gemm", [weights, biases])
    }

    /// Renames the current value, the network's output, to `name`.
    mutating func nameOutput(_ name: String) {
        guard let last = nodes.indices.last, nodes[last].outputs == [current] else {
            // No operator at all (impossible: a network ends with a softmax); pass the input through.
            apply("Identity")
            return nameOutput(name)
        }
        nodes[last].outputs = [name]
        current = name
    }
}
