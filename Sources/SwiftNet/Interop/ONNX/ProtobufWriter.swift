// ProtobufWriter.swift: the protocol-buffer wire format, written by hand.
//
// An ONNX file is one serialized ModelProto (onnx.proto, proto2 syntax).
// Writing one needs only four of the wire format's shapes: a varint
// (integers, enums), a length-delimited field (strings, bytes, nested
// messages, packed repeated numbers), and a field's key, which is the field
// number shifted left by three with the wire type below (0 for varint, 2 for
// length-delimited).  Negative int64 values are written as ten-byte
// two's-complement varints, as protobuf does; ONNX here needs none, but
// the writer is right for them anyway.  See
// https://protobuf.dev/programming-guides/encoding/ for the format.
//
// Nothing is read back: SwiftNet only writes ONNX, and onnx.checker plus
// ONNX Runtime (Tests/ONNX) check that what it writes parses.

/// Appends protobuf fields to a byte array.
struct ProtobufWriter {
    private(set) var bytes: [UInt8] = []

    private enum WireType: UInt64 {
        case varint = 0
        case lengthDelimited = 2
    }

    private mutating func key(_ field: Int, _ type: WireType) {
        varint(UInt64(field) << 3 | type.rawValue)
    }

    private mutating func varint(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }

    /// An int64, int32 or enum field.
    mutating func integer(_ field: Int, _ value: Int) {
        key(field, .varint)
        varint(UInt64(bitPattern: Int64(value)))
    }

    /// A string field, as UTF-8.
    mutating func string(_ field: Int, _ value: String) {
        bytes(field, Array(value.utf8))
    }

    /// A bytes field.
    mutating func bytes(_ field: Int, _ value: [UInt8]) {
        key(field, .lengthDelimited)
        varint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    /// A nested message, written by `body` into a writer of its own.
    mutating func message(_ field: Int, _ body: (inout ProtobufWriter) -> Void) {
        var nested = ProtobufWriter()
        body(&nested)
        bytes(field, nested.bytes)
    }

    /// A repeated int64 field, one key and value per element (proto2's unpacked form, which
    /// every parser reads).
    mutating func integers(_ field: Int, _ values: [Int]) {
        for value in values { integer(field, value) }
    }

    /// A float field (wire type 5, four little-endian bytes).
    mutating func float(_ field: Int, _ value: Float) {
        varint(UInt64(field) << 3 | 5)
        bytes.append(contentsOf: [value].littleEndianBytes)
    }
}

extension Array where Element == Float {
    /// The values as little-endian IEEE 754 bytes, as a TensorProto's raw_data holds them.
    var littleEndianBytes: [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(count * 4)
        for value in self {
            let bits = value.bitPattern
            out.append(contentsOf: [UInt8(truncatingIfNeeded: bits), UInt8(truncatingIfNeeded: bits >> 8),
                                    UInt8(truncatingIfNeeded: bits >> 16), UInt8(truncatingIfNeeded: bits >> 24)])
        }
        return out
    }
}
