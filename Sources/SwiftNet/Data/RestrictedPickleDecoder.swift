// RestrictedPickleDecoder: reads numpy arrays from a Python pickle without
// running anything.
//
// Python's own unpickler will call any function a file names (`os.system` is
// the classic example), so a pickle from the internet must never reach one.
// This is a small stack machine that knows only the opcodes a Python 2
// cPickle of numpy arrays uses, and only the three numpy globals that such a
// pickle names. It does not call them: REDUCE and BUILD are checked against
// the exact argument shapes numpy writes and produce inert values
// (PickleValue.swift). Anything else stops decoding with a DataFileError that
// names the offset of the offending opcode in the uncompressed stream.
//
// Array data is converted while it streams in: float32 values become pixel
// bytes (each must be a whole number of 256ths in [0, 1)), so the 157 MB of
// MNIST training floats never sit in memory at once. The decoder knows a
// string is array data from its place on the stack: right after the
// (version, shape, dtype, is_fortran) part of an array's state.
//
// Every loop is bounded by the bytes in the stream and every container by a
// fixed limit below, so hostile input ends in an error, never a hang, a trap
// or an unbounded allocation.

struct RestrictedPickleDecoder {
    /// The most values the stack may hold; numpy's pickles need about ten.
    static let maximumStackDepth = 1_000
    static let maximumMarkDepth = 100
    static let maximumTupleNesting = 16
    static let maximumMemoEntries = 10_000
    /// Strings that are not array data are dtype codes and byte orders: a few bytes.
    static let maximumPlainStringLength = 256
    static let maximumGlobalLineLength = 200
    /// One array's raw data; MNIST's largest is 157 MB. Keeps a lying length
    /// field from reserving more memory than any real dataset needs.
    static let maximumArrayDataBytes = 1 << 30
    /// Raw data is converted in pieces of this many bytes (a multiple of every item size).
    static let conversionChunkBytes = 1 << 18

    private let input: UncompressedByteStream
    private var stack: [PickleValue] = []
    /// Stack heights at each MARK; values below the top one are out of reach, as in Python.
    private var marks: [Int] = []
    private var memo: [UInt32: PickleValue] = [:]
    /// Where the opcode being executed began, for messages.
    private var opcodeOffset: Int64 = 0
    private var opcode: UInt8 = 0
    private var opcodeName: String { pickleOpcodeName(opcode) ?? "opcode 0x\(hexByte(opcode))" }

    /// Decodes one pickle from the stream and checks that the stream ends right after it.
    /// - Parameters:
    ///   - input: the uncompressed bytes, positioned at the start of the pickle.
    /// - Returns: the pickled value.
    /// - Throws: `DataFileError` for anything outside the restricted format, for
    ///   truncated or damaged input, and for data after the pickle's STOP.
    static func decode(from input: UncompressedByteStream) throws -> PickleValue {
        var decoder = RestrictedPickleDecoder(input: input)
        return try decoder.run()
    }

    private init(input: UncompressedByteStream) {
        self.input = input
    }

    // MARK: - The machine

    private mutating func run() throws -> PickleValue {
        while true {
            opcodeOffset = input.offset
            guard let next = try input.readByte() else {
                if opcodeOffset == 0 { throw failure("the file is empty") }
                throw failure("the pickle ends without its STOP opcode (the file is truncated)")
            }
            opcode = next
            switch opcode {
            case 0x80: // PROTO
                let version = try argumentByte()
                guard opcodeOffset == 0, version <= 2 else {
                    throw failure("PROTO \(version) is not allowed: only a leading PROTO 0, 1 or 2 (Python 2 cPickle)")
                }
            case UInt8(ascii: "c"): // GLOBAL
                let module = try globalLine()
                let name = try globalLine()
                let fullName = module + "." + name
                guard let global = AllowedGlobal(rawValue: fullName) else {
                    throw failure("global '\(fullName)' is not allowed (only "
                        + AllowedGlobal.allCases.map(\.rawValue).joined(separator: ", ")
                        + " may appear in a data file)")
                }
                try push(.global(global))
            case UInt8(ascii: "q"): // BINPUT
                try memoize(UInt32(try argumentByte()))
            case UInt8(ascii: "r"): // LONG_BINPUT
                try memoize(try argumentUInt32())
            case UInt8(ascii: "h"): // BINGET
                try recall(UInt32(try argumentByte()))
            case UInt8(ascii: "j"): // LONG_BINGET
                try recall(try argumentUInt32())
            case UInt8(ascii: "K"): // BININT1
                try push(.int(Int64(try argumentByte())))
            case UInt8(ascii: "M"): // BININT2
                let low = try argumentByte()
                let high = try argumentByte()
                try push(.int(Int64(low) | Int64(high) << 8))
            case UInt8(ascii: "J"): // BININT
                try push(.int(Int64(Int32(bitPattern: try argumentUInt32()))))
            case 0x88: // NEWTRUE
                try push(.bool(true))
            case 0x89: // NEWFALSE
                try push(.bool(false))
            case UInt8(ascii: "N"): // NONE
                try push(.none)
            case UInt8(ascii: "("): // MARK
                guard marks.count < Self.maximumMarkDepth else {
                    throw failure("more than \(Self.maximumMarkDepth) nested MARKs")
                }
                marks.append(stack.count)
            case UInt8(ascii: ")"): // EMPTY_TUPLE
                try push(.tuple(PickleTuple([])))
            case 0x85, 0x86, 0x87: // TUPLE1, TUPLE2, TUPLE3
                let items = try pop(Int(opcode) - 0x84)
                try push(try makeTuple(items))
            case UInt8(ascii: "t"): // TUPLE
                guard let mark = marks.popLast() else {
                    throw failure("TUPLE without a MARK before it")
                }
                let items = Array(stack[mark...])
                stack.removeSubrange(mark...)
                try push(try makeTuple(items))
            case UInt8(ascii: "U"): // SHORT_BINSTRING
                try string(length: Int(try argumentByte()))
            case UInt8(ascii: "T"): // BINSTRING
                let length = Int32(bitPattern: try argumentUInt32())
                guard length >= 0 else {
                    throw failure("BINSTRING claims a negative length (\(length))")
                }
                try string(length: Int(length))
            case UInt8(ascii: "R"): // REDUCE
                let operands = try pop(2)
                try push(try reduce(operands[0], arguments: operands[1]))
            case UInt8(ascii: "b"): // BUILD
                let operands = try pop(2)
                try build(operands[0], state: operands[1])
                try push(operands[0])
            case UInt8(ascii: "."): // STOP
                return try stop()
            default:
                throw failure("\(opcodeName) is not allowed: only the opcodes numpy uses to store arrays may appear")
            }
        }
    }

    private mutating func stop() throws -> PickleValue {
        guard marks.isEmpty, stack.count == 1 else {
            throw failure("STOP with \(stack.count) values and \(marks.count) MARKs on the stack; "
                + "a pickle ends with exactly one value")
        }
        // Reading on to the end also makes zlib check the gzip CRC and length.
        let end = input.offset
        if try input.readByte() != nil {
            throw DataFileError(path: input.path, offset: end, reason: "unexpected data after the pickle's STOP opcode")
        }
        return stack[0]
    }

    // MARK: - REDUCE and BUILD, limited to what numpy writes

    /// The value of `callable(*arguments)` for the two calls numpy's pickles make:
    /// `_reconstruct(ndarray, (0,), 'b')` and `dtype(code, 0, 1)`.
    private func reduce(_ callable: PickleValue, arguments: PickleValue) throws -> PickleValue {
        guard case .tuple(let tuple) = arguments else {
            throw failure("REDUCE with \(arguments.summary) as its arguments; numpy passes a tuple")
        }
        let items = tuple.items
        switch callable {
        case .global(.reconstruct):
            guard items.count == 3, case .global(.ndarray) = items[0],
                  case .tuple(let emptyShape) = items[1], emptyShape.items.count == 1,
                  case .int(0) = emptyShape.items[0], case .bytes(let typeCode) = items[2],
                  typeCode == Array("b".utf8)
            else {
                throw failure("REDUCE of _reconstruct with arguments (\(items.map(\.summary).joined(separator: ", "))); "
                    + "only numpy's _reconstruct(ndarray, (0,), 'b') is allowed")
            }
            return .array(NumpyArray())
        case .global(.dtype):
            guard items.count == 3, case .bytes(let code) = items[0], case .int(0) = items[1], case .int(1) = items[2]
            else {
                throw failure("REDUCE of dtype with arguments (\(items.map(\.summary).joined(separator: ", "))); "
                    + "only numpy's dtype(code, 0, 1) is allowed")
            }
            guard let kind = NumpyElementKind(code: code) else {
                throw failure("dtype \(quoted(code)) is not supported: only 'f4' (float32 pixels) "
                    + "and 'i8' (int64 labels)")
            }
            return .dtype(NumpyDType(kind: kind))
        default:
            throw failure("REDUCE of \(callable.summary) is not allowed: only numpy's _reconstruct and dtype may be called")
        }
    }

    /// Sets an object's state the way numpy's __setstate__ would, for the one
    /// state layout each of dtype and ndarray has in a Python 2 numpy pickle.
    private func build(_ target: PickleValue, state: PickleValue) throws {
        guard case .tuple(let tuple) = state else {
            throw failure("BUILD with \(state.summary) as its state; numpy uses a tuple")
        }
        let items = tuple.items
        switch target {
        case .dtype(let dtype):
            guard !dtype.isLittleEndian else { throw failure("BUILD on a dtype that was already built") }
            guard items.count == 8, case .int(3) = items[0], case .bytes(let byteOrder) = items[1] else {
                throw failure("a dtype state of \(items.count) items; numpy writes (3, byte order, None, None, None, -1, -1, 0)")
            }
            guard byteOrder == Array("<".utf8) else {
                throw failure("dtype('\(dtype.kind.code)') with byte order \(quoted(byteOrder)); "
                    + "only little-endian '<' data is accepted")
            }
            guard case .none = items[2], case .none = items[3], case .none = items[4],
                  case .int(-1) = items[5], case .int(-1) = items[6], case .int(0) = items[7]
            else {
                throw failure("dtype('\(dtype.kind.code)') has a state other than numpy's plain "
                    + "(3, '<', None, None, None, -1, -1, 0): structured or unusual dtypes are not accepted")
            }
            dtype.isLittleEndian = true
        case .array(let array):
            guard array.contents == nil else { throw failure("BUILD on an array that already has its data") }
            guard items.count == 5, case .int(1) = items[0], case .tuple(let shape) = items[1],
                  case .dtype(let dtype) = items[2], case .bool(false) = items[3],
                  case .arrayData(let contents) = items[4],
                  shape.items.count == contents.shape.count,
                  zip(shape.items, contents.shape).allSatisfy({ item, extent in
                      if case .int(let value) = item { return value == Int64(extent) }
                      return false
                  }),
                  dtype.kind == contents.elements.kind
            else {
                throw failure("an array state of (\(items.map(\.summary).joined(separator: ", "))); "
                    + "numpy writes (1, shape, dtype, False, data)")
            }
            array.contents = contents
        default:
            throw failure("BUILD on \(target.summary) is not allowed: only numpy arrays and dtypes are built")
        }
    }

    // MARK: - Stack, memo and arguments

    private func failure(_ reason: String) -> DataFileError {
        DataFileError(path: input.path, offset: opcodeOffset, reason: reason)
    }

    private mutating func push(_ value: PickleValue) throws {
        guard stack.count < Self.maximumStackDepth else {
            throw failure("more than \(Self.maximumStackDepth) values on the pickle stack")
        }
        stack.append(value)
    }

    /// Removes and returns the top `count` values, oldest first.
    private mutating func pop(_ count: Int) throws -> [PickleValue] {
        let reachable = stack.count - (marks.last ?? 0)
        guard reachable >= count else {
            throw failure("stack underflow: \(opcodeName) needs \(count) values but "
                + (reachable == 0 ? "none are" : "only \(reachable) \(reachable == 1 ? "is" : "are")")
                + " on the stack" + (marks.isEmpty ? "" : " above the last MARK"))
        }
        let values = Array(stack.suffix(count))
        stack.removeLast(count)
        return values
    }

    private mutating func memoize(_ index: UInt32) throws {
        guard stack.count - (marks.last ?? 0) > 0, let top = stack.last else {
            throw failure("stack underflow: \(opcodeName) \(index) with nothing on the stack to store")
        }
        guard memo[index] != nil || memo.count < Self.maximumMemoEntries else {
            throw failure("more than \(Self.maximumMemoEntries) memo entries")
        }
        memo[index] = top
    }

    private mutating func recall(_ index: UInt32) throws {
        guard let value = memo[index] else {
            throw failure("\(opcodeName) \(index): that memo index was never stored")
        }
        try push(value)
    }

    private func makeTuple(_ items: [PickleValue]) throws -> PickleValue {
        let tuple = PickleTuple(items)
        guard tuple.nesting <= Self.maximumTupleNesting else {
            throw failure("tuples nest more than \(Self.maximumTupleNesting) deep")
        }
        return .tuple(tuple)
    }

    private mutating func argumentByte() throws -> UInt8 {
        guard let byte = try input.readByte() else { throw truncated() }
        return byte
    }

    private mutating func argumentUInt32() throws -> UInt32 {
        var value: UInt32 = 0
        for shift in stride(from: 0, to: 32, by: 8) {
            value |= UInt32(try argumentByte()) << UInt32(shift)
        }
        return value
    }

    private func truncated() -> DataFileError {
        failure("the data ends at byte \(input.offset), inside \(opcodeName) (the file is truncated)")
    }

    /// One newline-terminated line of a GLOBAL's module or name.
    private mutating func globalLine() throws -> String {
        var line: [UInt8] = []
        while true {
            let byte = try argumentByte()
            if byte == UInt8(ascii: "\n") { break }
            guard line.count < Self.maximumGlobalLineLength else {
                throw failure("GLOBAL name longer than \(Self.maximumGlobalLineLength) bytes")
            }
            line.append(byte)
        }
        return printable(line, limit: Self.maximumGlobalLineLength)
    }

    // MARK: - Strings and array data

    private mutating func string(length: Int) throws {
        if let (shape, kind) = try arrayDataContext() {
            try push(.arrayData(try arrayData(length: length, shape: shape, kind: kind)))
            return
        }
        guard length <= Self.maximumPlainStringLength else {
            throw failure("\(opcodeName) of \(length) bytes where only a short string may appear "
                + "(long strings are allowed only as an array's data)")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(length)
        for _ in 0..<length { bytes.append(try argumentByte()) }
        try push(.bytes(bytes))
    }

    /// The shape and element type if the stack above the last MARK is the start of
    /// an array's state, (1, shape, dtype, is_fortran), so that the string now
    /// being read is that array's data; nil if it is plainly something else.
    private func arrayDataContext() throws -> ([Int], NumpyElementKind)? {
        guard let mark = marks.last, stack.count - mark == 4,
              case .int(1) = stack[mark], case .tuple(let shapeTuple) = stack[mark + 1]
        else { return nil }
        var shape: [Int] = []
        for item in shapeTuple.items {
            guard case .int(let extent) = item, extent >= 0, let size = Int(exactly: extent) else {
                throw failure("an array's shape holds \(item.summary); it must hold sizes of at least 0")
            }
            shape.append(size)
        }
        guard (1...4).contains(shape.count) else {
            throw failure("an array with \(shape.count) dimensions; only 1 to 4 are accepted")
        }
        guard case .dtype(let dtype) = stack[mark + 2] else {
            throw failure("an array's state has \(stack[mark + 2].summary) where its dtype belongs")
        }
        guard dtype.isLittleEndian else {
            throw failure("an array's dtype('\(dtype.kind.code)') has no byte order: its BUILD is missing")
        }
        guard case .bool(let isFortranOrder) = stack[mark + 3] else {
            throw failure("an array's state has \(stack[mark + 3].summary) where its is_fortran flag belongs")
        }
        guard !isFortranOrder else {
            throw failure("a Fortran-ordered array; only C order (is_fortran False) is accepted")
        }
        return (shape, dtype.kind)
    }

    private mutating func arrayData(length: Int, shape: [Int], kind: NumpyElementKind) throws -> NumpyArrayContents {
        let shapeText = "(" + shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? ",)" : ")")
        var elementCount = 1
        for extent in shape {
            let (product, overflow) = elementCount.multipliedReportingOverflow(by: extent)
            guard !overflow, product <= Self.maximumArrayDataBytes else {
                throw failure("array shape \(shapeText) is too large (this reader accepts at most "
                    + "\(Self.maximumArrayDataBytes) bytes of data per array)")
            }
            elementCount = product
        }
        let expectedLength = elementCount * kind.itemSize
        guard expectedLength <= Self.maximumArrayDataBytes else {
            throw failure("array shape \(shapeText) of \(kind.code) is too large (this reader accepts at most "
                + "\(Self.maximumArrayDataBytes) bytes of data per array)")
        }
        guard length == expectedLength else {
            throw failure("\(opcodeName) holds \(length) bytes of array data, but shape \(shapeText) "
                + "of \(kind.code) needs \(expectedLength)")
        }
        let dataOffset = input.offset
        switch kind {
        case .float32:
            let pixels = try [UInt8](unsafeUninitializedCapacity: elementCount) { output, initialized in
                try streamElements(count: elementCount, itemSize: 4, dataOffset: dataOffset) { raw, first in
                    if let bad = convertPixelFloats(raw, into: output.baseAddress! + first) {
                        let value = Float(bitPattern: UInt32(littleEndian: raw.load(fromByteOffset: bad * 4,
                                                                                     as: UInt32.self)))
                        throw DataFileError(
                            path: input.path, offset: dataOffset + Int64(first + bad) * 4,
                            reason: "float32 value \(value) is not a whole number of 256ths in [0, 1), "
                                + "so it is not a pixel of byte / 256")
                    }
                    initialized = first + raw.count / 4
                }
            }
            return NumpyArrayContents(shape: shape, elements: .pixelBytes(pixels), dataOffset: dataOffset)
        case .int64:
            let values = try [Int64](unsafeUninitializedCapacity: elementCount) { output, initialized in
                try streamElements(count: elementCount, itemSize: 8, dataOffset: dataOffset) { raw, first in
                    for index in 0..<(raw.count / 8) {
                        output[first + index] = Int64(littleEndian: raw.load(fromByteOffset: index * 8, as: Int64.self))
                    }
                    initialized = first + raw.count / 8
                }
            }
            return NumpyArrayContents(shape: shape, elements: .int64(values), dataOffset: dataOffset)
        }
    }

    /// Reads `count` elements of raw data a chunk at a time and hands each chunk,
    /// with the index of its first element, to `convert`.
    private func streamElements(count: Int, itemSize: Int, dataOffset: Int64,
                                _ convert: (UnsafeRawBufferPointer, Int) throws -> Void) throws {
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.conversionChunkBytes, alignment: 16)
        defer { chunk.deallocate() }
        let elementsPerChunk = Self.conversionChunkBytes / itemSize
        var first = 0
        while first < count {
            let elements = min(elementsPerChunk, count - first)
            let piece = UnsafeMutableRawBufferPointer(rebasing: chunk[0..<(elements * itemSize)])
            let got = try input.read(into: piece)
            guard got == piece.count else {
                throw failure("the data ends at byte \(input.offset), inside the \(count * itemSize) bytes "
                    + "of array data that began at byte \(dataOffset) (the file is truncated)")
            }
            try convert(UnsafeRawBufferPointer(piece), first)
            first += elements
        }
    }
}

/// Turns little-endian float32 values that are each k/256, k in 0...255, into
/// the bytes k; returns the index of the first value that is not, else nil.
///
/// Works on the bit pattern with integer operations only, which keeps it exact
/// and fast even in an unoptimised debug build: a nonzero k/256 is 2^(e-8)
/// times 1.m with e = exponent - 119 in 0...7, and it is a whole number of
/// 256ths exactly when the mantissa's low 23 - e bits are zero.
private func convertPixelFloats(_ raw: UnsafeRawBufferPointer, into output: UnsafeMutablePointer<UInt8>) -> Int? {
    let count = raw.count / 4
    let words = raw.baseAddress!.bindMemory(to: UInt32.self, capacity: count)
    var index = 0
    while index < count {
        let bits = UInt32(littleEndian: words[index])
        if bits & 0x7fff_ffff == 0 {
            output[index] = 0 // 0.0, or -0.0, which equals it
        } else {
            // The sign bit lands above the exponent, so negative values fail this range check too.
            let exponent = bits >> 23
            if exponent < 119 || exponent > 126 { return index }
            let dropped = 23 - (exponent - 119)
            let significand = (bits & 0x7f_ffff) | 0x80_0000
            if significand & ((1 << dropped) - 1) != 0 { return index }
            output[index] = UInt8(truncatingIfNeeded: significand >> dropped)
        }
        index += 1
    }
    return nil
}

/// The standard name of every pickle opcode (protocols 0 to 5), so that a
/// refusal can say which one it met.
func pickleOpcodeName(_ opcode: UInt8) -> String? {
    pickleOpcodeNames[opcode]
}

private let pickleOpcodeNames: [UInt8: String] = [
    0x28: "MARK", 0x2e: "STOP", 0x30: "POP", 0x31: "POP_MARK", 0x32: "DUP", 0x46: "FLOAT",
    0x49: "INT", 0x4a: "BININT", 0x4b: "BININT1", 0x4c: "LONG", 0x4d: "BININT2", 0x4e: "NONE",
    0x50: "PERSID", 0x51: "BINPERSID", 0x52: "REDUCE", 0x53: "STRING", 0x54: "BINSTRING",
    0x55: "SHORT_BINSTRING", 0x56: "UNICODE", 0x58: "BINUNICODE", 0x61: "APPEND", 0x62: "BUILD",
    0x63: "GLOBAL", 0x64: "DICT", 0x7d: "EMPTY_DICT", 0x65: "APPENDS", 0x67: "GET", 0x68: "BINGET",
    0x69: "INST", 0x6a: "LONG_BINGET", 0x6c: "LIST", 0x5d: "EMPTY_LIST", 0x6f: "OBJ", 0x70: "PUT",
    0x71: "BINPUT", 0x72: "LONG_BINPUT", 0x73: "SETITEM", 0x74: "TUPLE", 0x29: "EMPTY_TUPLE",
    0x75: "SETITEMS", 0x47: "BINFLOAT", 0x80: "PROTO", 0x81: "NEWOBJ", 0x82: "EXT1", 0x83: "EXT2",
    0x84: "EXT4", 0x85: "TUPLE1", 0x86: "TUPLE2", 0x87: "TUPLE3", 0x88: "NEWTRUE", 0x89: "NEWFALSE",
    0x8a: "LONG1", 0x8b: "LONG4", 0x42: "BINBYTES", 0x43: "SHORT_BINBYTES", 0x8c: "SHORT_BINUNICODE",
    0x8d: "BINUNICODE8", 0x8e: "BINBYTES8", 0x8f: "EMPTY_SET", 0x90: "ADDITEMS", 0x91: "FROZENSET",
    0x92: "NEWOBJ_EX", 0x93: "STACK_GLOBAL", 0x94: "MEMOIZE", 0x95: "FRAME", 0x96: "BYTEARRAY8",
    0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER",
]
