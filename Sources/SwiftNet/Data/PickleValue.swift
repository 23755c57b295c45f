// PickleValue: the few kinds of value a numpy array pickle is built from.
//
// The restricted decoder (RestrictedPickleDecoder.swift) never creates an
// object of a type it does not know: a pickle can only yield None, booleans,
// integers that fit in 64 bits, floats, short byte strings and Latin-1 text,
// tuples and lists, the numpy globals (and `_codecs.encode`) by name, the
// dtype and array objects that numpy's own reconstructors would make, and
// protocol 5's raw buffers on their way into an array.  Arrays, dtypes and
// lists are classes because a pickle refers to them from its memo and then
// finishes them in place (BUILD, APPEND), exactly as Python does.

/// The only callables a pickle may name. Naming is all they do here: nothing is executed.
enum AllowedGlobal: CaseIterable {
    /// numpy's array reconstructor, under its numpy 1 and numpy 2 module names.
    case reconstruct
    /// What numpy writes instead at protocol 5: `_frombuffer(buffer, dtype, shape, order)`.
    case frombuffer
    case ndarray
    case dtype
    /// How Python 3 spells a byte string in a protocol 2 pickle: `_codecs.encode(text, 'latin1')`.
    /// The decoder only ever applies it as that pure Latin-1 conversion.
    case codecsEncode

    /// The names under which a pickle may refer to each global.
    static let names: [String: AllowedGlobal] = [
        "numpy.core.multiarray._reconstruct": .reconstruct,
        "numpy._core.multiarray._reconstruct": .reconstruct,
        "numpy.core.numeric._frombuffer": .frombuffer,
        "numpy._core.numeric._frombuffer": .frombuffer,
        "numpy.ndarray": .ndarray,
        "numpy.dtype": .dtype,
        "_codecs.encode": .codecsEncode,
    ]

    /// Every allowed name, for messages.
    static var allowedNames: [String] { names.keys.sorted() }

    init?(fullName: String) {
        guard let global = Self.names[fullName] else { return nil }
        self = global
    }

    /// The name used in messages.
    var name: String {
        switch self {
        case .reconstruct: return "numpy.core.multiarray._reconstruct"
        case .frombuffer: return "numpy.core.numeric._frombuffer"
        case .ndarray: return "numpy.ndarray"
        case .dtype: return "numpy.dtype"
        case .codecsEncode: return "_codecs.encode"
        }
    }
}

/// The element types a pickle may hold: float32 pixels and int64 labels in
/// MNIST, float32 or float64 parameters in network3's saved layers.
enum NumpyElementKind {
    case float32
    case float64
    case int64

    /// numpy's short name for the type, as it appears in a pickle.
    var code: String {
        switch self {
        case .float32: return "f4"
        case .float64: return "f8"
        case .int64: return "i8"
        }
    }

    var itemSize: Int {
        switch self {
        case .float32: return 4
        case .float64, .int64: return 8
        }
    }

    init?(code: [UInt8]) {
        switch code {
        case Array("f4".utf8): self = .float32
        case Array("f8".utf8): self = .float64
        case Array("i8".utf8): self = .int64
        default: return nil
        }
    }
}

/// An array's converted elements. In MNIST, float32 pixels arrive already as
/// bytes (value = byte / 256) and the decoder refuses any float that is not;
/// parameters keep their values.
enum NumpyArrayElements {
    case pixelBytes([UInt8])
    case float32([Float])
    case float64([Double])
    case int64([Int64])

    var kind: NumpyElementKind {
        switch self {
        case .pixelBytes, .float32: return .float32
        case .float64: return .float64
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

/// What numpy's `_reconstruct(ndarray, (0,), 'b')` makes: an empty array that
/// BUILD fills; `_frombuffer` makes one already full.
final class NumpyArray {
    var contents: NumpyArrayContents?

    init(contents: NumpyArrayContents? = nil) {
        self.contents = contents
    }
}

/// A tuple and how deeply containers nest inside it, kept so that depth checks stay
/// cheap even when a pickle reuses one tuple many times through its memo.
struct PickleTuple {
    let items: [PickleValue]
    let nesting: Int

    init(_ items: [PickleValue]) {
        self.items = items
        nesting = (items.map(\.nesting).max() ?? 0) + 1
    }
}

/// A list, which APPEND and APPENDS fill after it is made (and perhaps memoized).
/// Its nesting only grows, so a list appended to itself reaches the limit
/// instead of making anything that walks it loop.
final class PickleList {
    private(set) var items: [PickleValue] = []
    private(set) var nesting = 1

    func append(_ item: PickleValue) {
        items.append(item)
        nesting = max(nesting, item.nesting + 1)
    }
}

/// A long byte string read before anything says what it is: protocol 5 stores
/// an array's data (in-band, as BYTEARRAY8 or BINBYTES) before its dtype and
/// shape, so the raw bytes wait here for `_frombuffer`.
struct PickleRawBytes {
    let bytes: [UInt8]
    /// Where the bytes began in the uncompressed stream.
    let dataOffset: Int64
}

enum PickleValue {
    case none
    case bool(Bool)
    case int(Int64)
    case float(Double)
    case bytes([UInt8])
    /// A Python 3 str (Python 2 unicode), as its code points, each below 256.
    case text([UInt8])
    case tuple(PickleTuple)
    case list(PickleList)
    /// A long byte string that only `_frombuffer` may use.
    case rawBytes(PickleRawBytes)
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
        case .float(let value): return "the float \(value)"
        case .bytes(let bytes): return "the string \(quoted(bytes))"
        case .text(let text): return "the text \(quoted(text))"
        case .tuple(let tuple): return "a tuple of \(tuple.items.count)"
        case .list(let list): return "a list of \(list.items.count)"
        case .rawBytes(let raw): return "a buffer of \(raw.bytes.count) bytes"
        case .global(let global): return global.name
        case .dtype(let dtype): return "dtype('\(dtype.kind.code)')"
        case .array: return "an ndarray"
        case .arrayData: return "array data"
        }
    }
}

extension PickleValue {
    /// How deeply tuples and lists nest in this value: 0 for anything else.
    var nesting: Int {
        switch self {
        case .tuple(let tuple): return tuple.nesting
        case .list(let list): return list.nesting
        default: return 0
        }
    }

    /// The items of a tuple or a list, which a Python 3 port may have saved
    /// where network3 saved a tuple; nil for anything else.
    var sequenceItems: [PickleValue]? {
        switch self {
        case .tuple(let tuple): return tuple.items
        case .list(let list): return list.items
        default: return nil
        }
    }

    /// The bytes of a short string, whether pickled as a byte string (Python
    /// 2) or as text (Python 3); nil for anything else.
    var stringBytes: [UInt8]? {
        switch self {
        case .bytes(let bytes), .text(let bytes): return bytes
        default: return nil
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
