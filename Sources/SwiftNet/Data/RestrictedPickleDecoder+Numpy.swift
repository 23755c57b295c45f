// RestrictedPickleDecoder+Numpy: numpy's calls, checked and imitated, and
// the conversion of array data.
//
// numpy pickles an array as a call and a state.  Up to protocol 4 (numpy 1
// and 2 alike) it is `_reconstruct(ndarray, (0,), b'b')`, an empty array,
// then BUILD with (1, shape, dtype, is_fortran, data); its dtype is
// `dtype(code, False, True)` then BUILD with (3, byte order, None, None,
// None, -1, -1, 0).  At protocol 5 it is `_frombuffer(buffer, dtype, shape,
// order)`, with the buffer in the pickle itself.  Those calls, with exactly
// those arguments, are accepted, and none is made: the decoder builds the
// inert values of PickleValue.swift.
//
// Data is converted as it streams in: float32 values become pixel bytes
// (each must be a whole number of 256ths in [0, 1)) for MNIST; parameters
// (the `.parameters` purpose) keep their float32 or float64 values.  Each
// array is charged to the memory budget before its elements are allocated.

extension RestrictedPickleDecoder {
    // MARK: - REDUCE and BUILD, limited to what numpy writes

    /// The value of `callable(*arguments)` for the calls numpy's pickles make:
    /// `_reconstruct(ndarray, (0,), 'b')`, `dtype(code, 0, 1)` (Python 3:
    /// `dtype(code, False, True)`), `_frombuffer(buffer, dtype, shape, 'C')`,
    /// and Python 3's `_codecs.encode(text, 'latin1')`.
    func reduce(_ callable: PickleValue, arguments: PickleValue) throws -> PickleValue {
        guard case .tuple(let tuple) = arguments else {
            throw failure("REDUCE with \(arguments.summary) as its arguments; numpy passes a tuple")
        }
        let items = tuple.items
        func described() -> String { items.map(\.summary).joined(separator: ", ") }
        switch callable {
        case .global(.reconstruct):
            guard items.count == 3, case .global(.ndarray) = items[0],
                  case .tuple(let emptyShape) = items[1], emptyShape.items.count == 1,
                  case .int(0) = emptyShape.items[0], case .bytes(let typeCode) = items[2],
                  typeCode == Array("b".utf8)
            else {
                throw failure("REDUCE of _reconstruct with arguments (\(described())); "
                    + "only numpy's _reconstruct(ndarray, (0,), 'b') is allowed")
            }
            return .array(NumpyArray())
        case .global(.frombuffer):
            return .array(NumpyArray(contents: try fromBuffer(items)))
        case .global(.dtype):
            guard items.count == 3, let code = items[0].stringBytes,
                  isZero(items[1]), isOne(items[2])
            else {
                throw failure("REDUCE of dtype with arguments (\(described())); only numpy's dtype(code, 0, 1) is allowed")
            }
            guard let kind = NumpyElementKind(code: code), purpose.allows(kind) else {
                throw failure("dtype \(quoted(code)) is not supported: only \(purpose.allowedTypes)")
            }
            return .dtype(NumpyDType(kind: kind))
        case .global(.codecsEncode):
            guard items.count == 2, items[1].stringBytes == Array("latin1".utf8) else {
                throw failure("REDUCE of _codecs.encode with arguments (\(described())); "
                    + "only Python 3's encode(text, 'latin1') of a byte string is allowed")
            }
            switch items[0] {
            case .text(let text): return .bytes(text)
            case .arrayData: return items[0] // converted from its text when it was read
            default:
                throw failure("REDUCE of _codecs.encode on \(items[0].summary); only text can be encoded")
            }
        default:
            throw failure("REDUCE of \(callable.summary) is not allowed: only numpy's _reconstruct, _frombuffer and dtype "
                + "(and _codecs.encode of Latin-1 text) may be called")
        }
    }

    /// Protocol 5's `_frombuffer(buffer, dtype, shape, order)`: the raw bytes
    /// were read before their dtype and shape, so they are converted now.
    private func fromBuffer(_ items: [PickleValue]) throws -> NumpyArrayContents {
        let raw: PickleRawBytes
        switch items.first {
        case .rawBytes(let buffer)?: raw = buffer
        case .bytes(let bytes)?: raw = PickleRawBytes(bytes: bytes, dataOffset: opcodeOffset) // short data, read as a string
        default:
            throw failure("REDUCE of _frombuffer with arguments (\(items.map(\.summary).joined(separator: ", "))); "
                + "numpy writes _frombuffer(buffer, dtype, shape, order)")
        }
        guard items.count == 4, case .dtype(let dtype) = items[1], case .tuple(let shapeTuple) = items[2],
              let order = items[3].stringBytes
        else {
            throw failure("REDUCE of _frombuffer with arguments (\(items.map(\.summary).joined(separator: ", "))); "
                + "numpy writes _frombuffer(buffer, dtype, shape, order)")
        }
        guard dtype.isLittleEndian else {
            throw failure("_frombuffer's dtype('\(dtype.kind.code)') has no byte order: its BUILD is missing")
        }
        guard order == Array("C".utf8) else {
            throw failure("_frombuffer with order \(quoted(order)); only C order ('C') is accepted")
        }
        let shape = try extents(of: shapeTuple)
        let (elementCount, byteCount) = try arraySize(shape: shape, kind: dtype.kind)
        guard raw.bytes.count == byteCount else {
            throw failure("_frombuffer's buffer holds \(raw.bytes.count) bytes, but shape \(describe(shape)) "
                + "of \(dtype.kind.code) needs \(byteCount)")
        }
        var position = 0
        return try raw.bytes.withUnsafeBytes { source in
            try arrayData(shape: shape, kind: dtype.kind, elementCount: elementCount, dataOffset: raw.dataOffset,
                          exactOffsets: true) { piece in
                piece.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[position..<(position + piece.count)]))
                position += piece.count
                return piece.count
            }
        }
    }

    /// Sets an object's state the way numpy's __setstate__ would, for the one
    /// state layout each of dtype and ndarray has in a numpy pickle.
    func build(_ target: PickleValue, state: PickleValue) throws {
        guard case .tuple(let tuple) = state else {
            throw failure("BUILD with \(state.summary) as its state; numpy uses a tuple")
        }
        let items = tuple.items
        switch target {
        case .dtype(let dtype):
            guard !dtype.isLittleEndian else { throw failure("BUILD on a dtype that was already built") }
            guard items.count == 8, case .int(3) = items[0], let byteOrder = items[1].stringBytes else {
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

    /// numpy's dtype flags: 0 and 1 from Python 2, False and True from Python 3.
    private func isZero(_ value: PickleValue) -> Bool {
        switch value {
        case .int(0), .bool(false): return true
        default: return false
        }
    }

    private func isOne(_ value: PickleValue) -> Bool {
        switch value {
        case .int(1), .bool(true): return true
        default: return false
        }
    }

    // MARK: - Array data

    /// The shape and element type if the stack says that the string now being
    /// read is an array's data, after the (1, shape, dtype, is_fortran) of its
    /// state above the last MARK; nil if it is plainly something else.
    /// - Parameters:
    ///   - encodedAsText: true for text, which is array data only in Python 3's
    ///     spelling, with `_codecs.encode` pushed after is_fortran and, in
    ///     protocols 0 and 1 (which have no TUPLE2), a MARK for its arguments.
    func arrayDataContext(encodedAsText: Bool) throws -> ([Int], NumpyElementKind)? {
        guard let mark = marks.last else { return nil }
        var state = mark
        if encodedAsText {
            if stack.count == mark, marks.count >= 2, mark - marks[marks.count - 2] == 5 {
                state = marks[marks.count - 2]
            } else if stack.count - mark != 5 {
                return nil
            }
            guard case .global(.codecsEncode) = stack[state + 4] else { return nil }
        } else {
            guard stack.count - mark == 4 else { return nil }
        }
        guard case .int(1) = stack[state], case .tuple(let shapeTuple) = stack[state + 1] else { return nil }
        let shape = try extents(of: shapeTuple)
        guard case .dtype(let dtype) = stack[state + 2] else {
            throw failure("an array's state has \(stack[state + 2].summary) where its dtype belongs")
        }
        guard dtype.isLittleEndian else {
            throw failure("an array's dtype('\(dtype.kind.code)') has no byte order: its BUILD is missing")
        }
        guard case .bool(let isFortranOrder) = stack[state + 3] else {
            throw failure("an array's state has \(stack[state + 3].summary) where its is_fortran flag belongs")
        }
        guard !isFortranOrder else {
            throw failure("a Fortran-ordered array; only C order (is_fortran False) is accepted")
        }
        return (shape, dtype.kind)
    }

    /// An array's shape from its tuple: 1 to 4 sizes of at least 0.
    private func extents(of shapeTuple: PickleTuple) throws -> [Int] {
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
        return shape
    }

    /// The number of elements and of data bytes an array of `shape` and `kind` has.
    func arraySize(shape: [Int], kind: NumpyElementKind) throws -> (elements: Int, bytes: Int) {
        var elementCount = 1
        for extent in shape {
            let (product, overflow) = elementCount.multipliedReportingOverflow(by: extent)
            guard !overflow else {
                throw failure("array shape \(describe(shape)) is too large: its size does not fit in 64 bits", .tooLarge)
            }
            elementCount = product
        }
        // Raw data streams through a small buffer, so only what arrayData keeps is charged, there.
        let (byteCount, overflow) = elementCount.multipliedReportingOverflow(by: kind.itemSize)
        guard !overflow else {
            throw failure("array shape \(describe(shape)) of \(kind.code) is too large: its size does not fit in 64 bits", .tooLarge)
        }
        return (elementCount, byteCount)
    }

    /// Converts an array's data as `fill` delivers it, charging what it keeps first.
    /// - Parameters:
    ///   - exactOffsets: true when data byte i sits at `dataOffset + i` in the
    ///     stream (raw bytes); false for text, where errors name the element instead.
    ///   - fill: stores the next bytes of data in its argument and returns how
    ///     many; fewer than asked for means the data ended early.
    func arrayData(shape: [Int], kind: NumpyElementKind, elementCount: Int, dataOffset: Int64, exactOffsets: Bool,
                   fill: (UnsafeMutableRawBufferPointer) throws -> Int) throws -> NumpyArrayContents {
        // MNIST keeps a float32 pixel as one byte.
        let keptSize = kind == .float32 && purpose == .mnist ? 1 : kind.itemSize
        guard budget.charge(elementCount, of: keptSize) else {
            throw failure("array shape \(describe(shape)) of \(kind.code) is too large: its \(elementCount) elements "
                + "would take more than the \(budget.remaining) bytes left of the \(budget.limit)-byte memory limit "
                + "this reader was given", .tooLarge)
        }
        func elements<T>(_ type: T.Type, _ convert: (UnsafeRawBufferPointer, UnsafeMutablePointer<T>, Int) throws -> Void) throws -> [T] {
            try [T](unsafeUninitializedCapacity: elementCount) { output, initialized in
                try streamElements(count: elementCount, itemSize: kind.itemSize, dataOffset: dataOffset, fill: fill) { raw, first in
                    try convert(raw, output.baseAddress! + first, first)
                    initialized = first + raw.count / kind.itemSize
                }
            }
        }
        switch (kind, purpose) {
        case (.float32, .mnist):
            let pixels = try elements(UInt8.self) { raw, output, first in
                if let bad = convertPixelFloats(raw, into: output) {
                    let value = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: bad * 4, as: UInt32.self)))
                    throw DataFileError(
                        .badValue, path: input.path, offset: exactOffsets ? dataOffset + Int64(first + bad) * 4 : dataOffset,
                        reason: "float32 value \(value)\(exactOffsets ? "" : " (element \(first + bad))") is not a whole "
                            + "number of 256ths in [0, 1), so it is not a pixel of byte / 256")
                }
            }
            return NumpyArrayContents(shape: shape, elements: .pixelBytes(pixels), dataOffset: dataOffset)
        case (.float32, .parameters):
            let values = try elements(Float.self) { raw, output, _ in
                for index in 0..<(raw.count / 4) {
                    output[index] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self)))
                }
            }
            return NumpyArrayContents(shape: shape, elements: .float32(values), dataOffset: dataOffset)
        case (.float64, _):
            let values = try elements(Double.self) { raw, output, _ in
                for index in 0..<(raw.count / 8) {
                    output[index] = Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self)))
                }
            }
            return NumpyArrayContents(shape: shape, elements: .float64(values), dataOffset: dataOffset)
        case (.int64, _):
            let values = try elements(Int64.self) { raw, output, _ in
                for index in 0..<(raw.count / 8) {
                    output[index] = Int64(littleEndian: raw.loadUnaligned(fromByteOffset: index * 8, as: Int64.self))
                }
            }
            return NumpyArrayContents(shape: shape, elements: .int64(values), dataOffset: dataOffset)
        }
    }

    /// Reads `count` elements of raw data a chunk at a time and hands each chunk,
    /// with the index of its first element, to `convert`.
    private func streamElements(count: Int, itemSize: Int, dataOffset: Int64,
                                fill: (UnsafeMutableRawBufferPointer) throws -> Int,
                                _ convert: (UnsafeRawBufferPointer, Int) throws -> Void) throws {
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.conversionChunkBytes, alignment: 16)
        defer { chunk.deallocate() }
        let elementsPerChunk = Self.conversionChunkBytes / itemSize
        var first = 0
        while first < count {
            let elements = min(elementsPerChunk, count - first)
            let piece = UnsafeMutableRawBufferPointer(rebasing: chunk[0..<(elements * itemSize)])
            let got = try fill(piece)
            guard got == piece.count else {
                throw failure("the data ends at byte \(input.offset), inside the \(count * itemSize) bytes "
                    + "of array data that began at byte \(dataOffset) (the file is truncated)")
            }
            try convert(UnsafeRawBufferPointer(piece), first)
            first += elements
        }
    }
}

/// A shape as Python prints it: (3,) or (2, 784).
func describe(_ shape: [Int]) -> String {
    "(" + shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? ",)" : ")")
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
