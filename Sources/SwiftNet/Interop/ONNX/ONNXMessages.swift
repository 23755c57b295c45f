// ONNXMessages.swift: the few ONNX messages SwiftNet writes, and their fields.
//
// A model is a ModelProto holding one GraphProto: nodes (operators with
// attributes), initializers (the trained tensors), and the graph's named,
// typed inputs and outputs.  These structs hold just what an exported
// network needs and serialize themselves with ProtobufWriter; the field
// numbers are onnx.proto's (ONNX 1.x, IR version 4 and later), and the
// comments name each one.  Tensors are float32 and travel as raw_data,
// little-endian, as ONNX specifies.

/// One dimension of a value's shape: a fixed size, or a named size chosen at run time.
enum ONNXDimension: Equatable {
    case fixed(Int)
    /// A symbolic dimension such as "batch".
    case named(String)
}

/// An attribute of a node: only the kinds SwiftNet's operators take.
struct ONNXAttribute {
    enum Value {
        case int(Int)
        case ints([Int])
        case float(Float)
    }
    let name: String
    let value: Value

    func encode(_ out: inout ProtobufWriter) {
        out.string(1, name)                       // name
        switch value {
        case .float(let f):
            out.float(2, f)                       // f
            out.integer(20, 1)                    // type = FLOAT
        case .int(let i):
            out.integer(3, i)                     // i
            out.integer(20, 2)                    // type = INT
        case .ints(let list):
            out.integers(8, list)                 // ints
            out.integer(20, 7)                    // type = INTS
        }
    }
}

/// A float32 tensor stored in the model (a layer's weights, biases or statistics).
struct ONNXTensor {
    let name: String
    let dims: [Int]
    let values: [Float]

    func encode(_ out: inout ProtobufWriter) {
        out.integers(1, dims)                     // dims
        out.integer(2, 1)                         // data_type = FLOAT
        out.string(8, name)                       // name
        out.bytes(9, values.littleEndianBytes)    // raw_data
    }
}

/// One operator applied to named values.
struct ONNXNode {
    let opType: String
    let name: String
    let inputs: [String]
    var outputs: [String]
    let attributes: [ONNXAttribute]

    func encode(_ out: inout ProtobufWriter) {
        for input in inputs { out.string(1, input) }      // input
        for output in outputs { out.string(2, output) }   // output
        out.string(3, name)                                // name
        out.string(4, opType)                              // op_type
        for attribute in attributes { out.message(5, attribute.encode) }  // attribute
    }
}

/// A graph input or output: a name, and a float tensor type of some shape.
struct ONNXValueInfo {
    let name: String
    let shape: [ONNXDimension]
    let docString: String

    func encode(_ out: inout ProtobufWriter) {
        out.string(1, name)                                // name
        out.message(2) { type in                           // type: TypeProto
            type.message(1) { tensor in                    // tensor_type
                tensor.integer(1, 1)                       // elem_type = FLOAT
                tensor.message(2) { shapeProto in          // shape: TensorShapeProto
                    for dimension in shape {
                        shapeProto.message(1) { dim in     // dim
                            switch dimension {
                            case .fixed(let size): dim.integer(1, size)   // dim_value
                            case .named(let name): dim.string(2, name)    // dim_param
                            }
                        }
                    }
                }
            }
        }
        if !docString.isEmpty { out.string(3, docString) } // doc_string
    }
}

/// The computation: nodes in an order where each input exists before it is used.
struct ONNXGraphProto {
    let name: String
    let nodes: [ONNXNode]
    let initializers: [ONNXTensor]
    let inputs: [ONNXValueInfo]
    let outputs: [ONNXValueInfo]

    func encode(_ out: inout ProtobufWriter) {
        for node in nodes { out.message(1, node.encode) }                // node
        out.string(2, name)                                              // name
        for tensor in initializers { out.message(5, tensor.encode) }     // initializer
        for input in inputs { out.message(11, input.encode) }            // input
        for output in outputs { out.message(12, output.encode) }         // output
    }
}

/// A whole model file.
struct ONNXModelProto {
    let irVersion: Int
    let opsetVersion: Int
    let producerVersion: String
    let docString: String
    let graph: ONNXGraphProto
    let metadata: [(key: String, value: String)]

    /// The file's bytes.
    func serialized() -> [UInt8] {
        var out = ProtobufWriter()
        out.integer(1, irVersion)                          // ir_version
        out.string(2, "SwiftNet")                          // producer_name
        out.string(3, producerVersion)                     // producer_version
        out.integer(5, 1)                                  // model_version
        out.string(6, docString)                           // doc_string
        out.message(7, graph.encode)                       // graph
        out.message(8) { opset in                          // opset_import
            opset.string(1, "")                            // domain: the default, ai.onnx
            opset.integer(2, opsetVersion)                 // version
        }
        for entry in metadata {
            out.message(14) { pair in                      // metadata_props
                pair.string(1, entry.key)
                pair.string(2, entry.value)
            }
        }
        return out.bytes
    }
}
