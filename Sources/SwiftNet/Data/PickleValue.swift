// PickleValue: the few kinds of value a numpy array pickle is built from.
//
// The restricted decoder (RestrictedPickleDecoder.swift) never creates an
// object of a type it does not know: a pickle can only yield None, booleans,
// small integers, short byte strings, tuples, the three numpy globals by name,
// and the dtype and array objects that numpy's own reconstructors would make.
// Arrays and dtypes are classes because a pickle refers to them from its memo
// and then finishes them in place (BUILD), exactly as Python does.

/// The only callables a pickle may name. Naming is all they do here: nothing is executed.
enum AllowedGlobal: String, CaseIterable {
    case reconstruct = "numpy.core.multiarray._reconstruct"
    case ndarray = "numpy.ndarray"
    case dtype = "numpy.dtype"
}

/// The element types the data layer understands: float32 pixels and int64 labels.
enum NumpyElementKind {
    case float32
    case int64

    /// numpy's short name for the type, as it appears in a pickle.
    var code: String {
        switch self {
        case .float32: return "f4"
        case .int64: return "i8"
        }
    }

    var itemSize: Int {
        switch self {
        case .float32: return 4
        case .int64: return 8
        }
    }

    init?(code: [UInt8]) {
        switch code {
        case Array("f4".utf8): self = .float32
        case Array("i8".utf8): self = .int64
        default: return nil
        }
    }
}

/// An array's converted elements. Float32 pixels arrive already as bytes
/// (value = byte / 256); the decoder refuses any float that is not.
enum NumpyArrayElements {
    case pixelBytes([UInt8])
    case int64([Int64])

    var kind: NumpyElementKind {
        switch self {
        case .pixelBytes: return .float32
        case .int64: return .int64
        }
    }
}

/// An array's contents once known: its shape, its elements, and where its raw
/// data began in the uncompressed stream (so that a bad element can be located).
struct NumpyArrayContents {
    let shape: [Int]
    let elements: NumpyArrayElements
    let dataOffset: Int64
}

/// What numpy's `dtype('f4', 0, 1)` makes; BUILD then sets the byte order.
final class NumpyDType {
    let kind: NumpyElementKind
    /// Set by BUILD; only little-endian data is accepted.
    var isLittleEndian = false

    init(kind: NumpyElementKind) {
        self.kind = kind
    }
}

/// What numpy's `_reconstruct(ndarray, (0,), 'b')` makes: an empty array that BUILD fills.
final class NumpyArray {
    var contents: NumpyArrayContents?
}

/// A tuple and how deeply tuples nest inside it, kept so that depth checks stay
/// cheap even when a pickle reuses one tuple many times through its memo.
struct PickleTuple {
    let items: [PickleValue]
    let nesting: Int

    init(_ items: [PickleValue]) {
        self.items = items
        var deepest = 0
        for item in items {
            if case .tuple(let inner) = item { deepest = max(deepest, inner.nesting) }
        }
        nesting = deepest + 1
    }
}

enum PickleValue {
    case none
    case bool(Bool)
    case int(Int64)
    case bytes([UInt8])
    case tuple(PickleTuple)
    case global(AllowedGlobal)
    case dtype(NumpyDType)
    case array(NumpyArray)
    /// The raw data of an array's state, already converted; only BUILD may use it.
    case arrayData(NumpyArrayContents)

    /// A few words for error messages; never large, however large the value.
    var summary: String {
        switch self {
        case .none: return "None"
        case .bool(let flag): return flag ? "True" : "False"
        case .int(let value): return "the integer \(value)"
        case .bytes(let bytes): return "the string \(quoted(bytes))"
        case .tuple(let tuple): return "a tuple of \(tuple.items.count)"
        case .global(let global): return global.rawValue
        case .dtype(let dtype): return "dtype('\(dtype.kind.code)')"
        case .array: return "an ndarray"
        case .arrayData: return "array data"
        }
    }
}

/// A byte string as a person would read it, in quotes.
func quoted(_ bytes: [UInt8], limit: Int = 40) -> String {
    "'" + printable(bytes, limit: limit) + (bytes.count > limit ? "'..." : "'")
}

/// Printable ASCII as is, quotes and backslashes escaped, other bytes as \xNN;
/// at most `limit` bytes are shown.
func printable(_ bytes: [UInt8], limit: Int) -> String {
    var text = ""
    for byte in bytes.prefix(limit) {
        if byte == UInt8(ascii: "'") || byte == UInt8(ascii: "\\") {
            text += "\\" + String(UnicodeScalar(byte))
        } else if byte >= 0x20 && byte < 0x7f {
            text += String(UnicodeScalar(byte))
        } else {
            text += "\\x" + hexByte(byte)
        }
    }
    return text
}

func hexByte(_ byte: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 0x0f)])
}
