// RestrictedPickleDecoder: reads numpy arrays from a Python pickle without
// running anything.
//
// Python's own unpickler will call any function a file names (`os.system` is
// the classic example), so a pickle from the internet must never reach one.
// This is a small stack machine that knows only the opcodes a protocol 2
// pickle of numpy arrays uses, and only the few globals that such a pickle
// names. It does not call them: REDUCE and BUILD are checked against the
// exact argument shapes numpy writes and produce inert values
// (PickleValue.swift). Anything else stops decoding with a DataFileError that
// names the offset of the offending opcode in the uncompressed stream.
//
// Python 2's cPickle (which wrote MNIST and network3's saved parameters)
// stores an array's bytes as a BINSTRING.  Python 3 writing protocol 2 has no
// byte-string opcode, so it writes text and a call, `_codecs.encode(text,
// 'latin1')`, that turns the text back into bytes; the decoder accepts that
// one call and performs the Latin-1 conversion itself, so nothing is run.
//
// Array data is converted while it streams in: float32 values become pixel
// bytes (each must be a whole number of 256ths in [0, 1)), so the 157 MB of
// MNIST training floats never sit in memory at once; parameters (the
// `.parameters` purpose) keep their float32 or float64 values. The decoder
// knows a string is array data from its place on the stack: right after the
// (version, shape, dtype, is_fortran) part of an array's state (and, in
// Python 3's spelling, the `_codecs.encode` global).
//
// Every loop is bounded by the bytes in the stream and every container by a
// fixed limit below, so hostile input ends in an error, never a hang, a trap
// or an unbounded allocation.

struct RestrictedPickleDecoder {
    /// What the arrays are for, which decides the element types allowed and how they are kept.
    enum Purpose {
        /// MNIST: float32 pixels (kept as bytes, each a whole number of 256ths) and int64 labels.
        case mnist
        /// network3's saved layers: float32 or float64 weights and biases, kept as they are.
        case parameters

        func allows(_ kind: NumpyElementKind) -> Bool {
            switch self {
            case .mnist: return kind == .float32 || kind == .int64
            case .parameters: return kind == .float32 || kind == .float64
            }
        }

        var allowedTypes: String {
            switch self {
            case .mnist: return "'f4' (float32 pixels) and 'i8' (int64 labels)"
            case .parameters: return "'f4' and 'f8' (float32 and float64 parameters)"
            }
        }
    }


    /// The most values the stack may hold; numpy's pickles need about ten.
    static let maximumStackDepth = 1_000
    static let maximumMarkDepth = 100
    static let maximumTupleNesting = 16
    static let maximumMemoEntries = 10_000
    /// Strings that are not array data are dtype codes and byte orders: a few bytes.
    static let maximumPlainStringLength = 256
    static let maximumGlobalLineLength = 200
    /// Pickles in one file of network3 parameters: w and b of up to 64 layers.
    static let maximumPickles = 128
    /// One array's raw data; MNIST's largest is 157 MB. Keeps a lying length
    /// field from reserving more memory than any real dataset needs.
    static let maximumArrayDataBytes = 1 << 30
    /// Raw data is converted in pieces of this many bytes (a multiple of every item size).
    static let conversionChunkBytes = 1 << 18

    private let input: UncompressedByteStream
    private let purpose: Purpose
    /// Where this pickle began in the stream (files of parameters hold several).
    private let pickleStart: Int64
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
        var decoder = RestrictedPickleDecoder(input: input, purpose: .mnist)
        let value = try decoder.run()
        // Reading on to the end also makes zlib check the gzip CRC and length.
        let end = input.offset
        if try input.readByte() != nil {
            throw DataFileError(.unexpectedContents, path: input.path, offset: end, reason: "unexpected data after the pickle's STOP opcode")
        }
        return value
    }

    /// Decodes pickles one after another until the stream ends, as a file
    /// written by repeated `cPickle.dump` calls holds them (network3's saved
    /// parameters: w and b of each layer in turn).
    /// - Parameters:
    ///   - input: the uncompressed bytes, positioned at the start of the first pickle.
    ///   - purpose: what the arrays are for.
    /// - Returns: the pickled values, in file order; at least one.
    /// - Throws: `DataFileError` for anything outside the restricted format, for
    ///   truncated or damaged input, an empty file, or more than `maximumPickles` pickles.
    static func decodeSequence(from input: UncompressedByteStream, purpose: Purpose) throws -> [PickleValue] {
        var values: [PickleValue] = []
        while try values.isEmpty || !input.isAtEnd() {
            guard values.count < maximumPickles else {
                throw DataFileError(.unexpectedContents, path: input.path, offset: input.offset,
                                    reason: "more than \(maximumPickles) pickles in one file")
            }
            var decoder = RestrictedPickleDecoder(input: input, purpose: purpose)
            values.append(try decoder.run())
        }
        return values
    }

    private init(input: UncompressedByteStream, purpose: Purpose) {
        self.input = input
        self.purpose = purpose
        pickleStart = input.offset
    }

    // MARK: - The machine

    private mutating func run() throws -> PickleValue {
        while true {
            opcodeOffset = input.offset
            guard let next = try input.readByte() else {
                if opcodeOffset == 0 { throw failure("the file is empty") }
                throw failure("the pickle ends without its STOP opcode (the file is truncated)", .damaged)
            }
            opcode = next
            switch opcode {
            case 0x80: // PROTO
                let version = try argumentByte()
                guard opcodeOffset == pickleStart, version <= 2 else {
                    throw failure("PROTO \(version) is not allowed: only a leading PROTO 0, 1 or 2 (Python 2 cPickle)")
                }
            case UInt8(ascii: "c"): // GLOBAL
                let module = try globalLine()
                let name = try globalLine()
                let fullName = module + "." + name
                guard let global = AllowedGlobal(fullName: fullName) else {
                    throw failure("global '\(fullName)' is not allowed (only "
                        + AllowedGlobal.allowedNames.joined(separator: ", ")
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
            case UInt8(ascii: "X"): // BINUNICODE
                try text(length: Int(try argumentUInt32()))
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
        return stack[0]
    }

    // MARK: - REDUCE and BUILD, limited to what numpy writes

    /// The value of `callable(*arguments)` for the calls numpy's pickles make:
    /// `_reconstruct(ndarray, (0,), 'b')`, `dtype(code, 0, 1)` (Python 3:
    /// `dtype(code, False, True)`), and Python 3's `_codecs.encode(text, 'latin1')`.
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
            guard items.count == 3, let code = items[0].stringBytes,
                  isZero(items[1]), isOne(items[2])
            else {
                throw failure("REDUCE of dtype with arguments (\(items.map(\.summary).joined(separator: ", "))); "
                    + "only numpy's dtype(code, 0, 1) is allowed")
            }
            guard let kind = NumpyElementKind(code: code), purpose.allows(kind) else {
                throw failure("dtype \(quoted(code)) is not supported: only \(purpose.allowedTypes)")
            }
            return .dtype(NumpyDType(kind: kind))
        case .global(.codecsEncode):
            guard items.count == 2, items[1].stringBytes == Array("latin1".utf8) else {
                throw failure("REDUCE of _codecs.encode with arguments (\(items.map(\.summary).joined(separator: ", "))); "
                    + "only Python 3's encode(text, 'latin1') of a byte string is allowed")
            }
            switch items[0] {
            case .text(let text): return .bytes(text)
            case .arrayData: return items[0] // converted from its text when it was read
            default:
                throw failure("REDUCE of _codecs.encode on \(items[0].summary); only text can be encoded")
            }
        default:
            throw failure("REDUCE of \(callable.summary) is not allowed: only numpy's _reconstruct and dtype "
                + "(and _codecs.encode of Latin-1 text) may be called")
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

    // MARK: - Stack, memo and arguments

    private func failure(_ reason: String, _ kind: DataFileError.Kind = .unexpectedContents) -> DataFileError {
        DataFileError(kind, path: input.path, offset: opcodeOffset, reason: reason)
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
        failure("the data ends at byte \(input.offset), inside \(opcodeName) (the file is truncated)", .damaged)
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

    // MARK: - Strings, text and array data

    private mutating func string(length: Int) throws {
        if let (shape, kind) = try arrayDataContext(encodedAsText: false) {
            let (elementCount, byteCount) = try arraySize(shape: shape, kind: kind)
            guard length == byteCount else {
                throw failure("\(opcodeName) holds \(length) bytes of array data, but shape \(describe(shape)) "
                    + "of \(kind.code) needs \(byteCount)")
            }
            let input = self.input
            try push(.arrayData(try arrayData(shape: shape, kind: kind, elementCount: elementCount, dataOffset: input.offset,
                                              exactOffsets: true) { piece in try input.read(into: piece) }))
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

    /// BINUNICODE: UTF-8 text whose characters must all be Latin-1 (below 256),
    /// because the only text a numpy pickle holds is a short name or, in
    /// Python 3's spelling, an array's bytes as Latin-1 characters.
    private mutating func text(length: Int) throws {
        var reader = Latin1TextReader(input: input, encodedLength: length, textStart: input.offset, opcodeOffset: opcodeOffset)
        if let (shape, kind) = try arrayDataContext(encodedAsText: true) {
            let (elementCount, byteCount) = try arraySize(shape: shape, kind: kind)
            // Each byte is one character of one or two UTF-8 bytes.
            guard length >= byteCount, length / 2 <= byteCount else {
                throw failure("BINUNICODE of \(length) bytes cannot hold the \(byteCount) bytes of array data "
                    + "that shape \(describe(shape)) of \(kind.code) needs")
            }
            let contents = try arrayData(shape: shape, kind: kind, elementCount: elementCount, dataOffset: input.offset,
                                         exactOffsets: false) { piece in try reader.read(into: piece, arrayBytes: byteCount) }
            guard reader.remaining == 0 else {
                throw failure("BINUNICODE holds more text than the \(byteCount) bytes of array data it stands for")
            }
            try push(.arrayData(contents))
            return
        }
        guard length <= Self.maximumPlainStringLength else {
            throw failure("BINUNICODE of \(length) bytes where only a short text may appear "
                + "(long text is allowed only as an array's data)")
        }
        var characters = [UInt8](repeating: 0, count: length)
        let got = try characters.withUnsafeMutableBytes { raw in try reader.read(into: raw, arrayBytes: nil) }
        try push(.text(Array(characters[0..<got])))
    }

    /// The shape and element type if the stack above the last MARK is the start of
    /// an array's state, (1, shape, dtype, is_fortran), so that the string now
    /// being read is that array's data; nil if it is plainly something else.
    /// - Parameters:
    ///   - encodedAsText: true for text, which is array data only in Python 3's
    ///     spelling, with `_codecs.encode` pushed after is_fortran.
    private func arrayDataContext(encodedAsText: Bool) throws -> ([Int], NumpyElementKind)? {
        guard let mark = marks.last, stack.count - mark == (encodedAsText ? 5 : 4),
              case .int(1) = stack[mark], case .tuple(let shapeTuple) = stack[mark + 1]
        else { return nil }
        if encodedAsText {
            guard case .global(.codecsEncode) = stack[mark + 4] else { return nil }
        }
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

    /// The number of elements and of data bytes an array of `shape` and `kind` has.
    private func arraySize(shape: [Int], kind: NumpyElementKind) throws -> (elements: Int, bytes: Int) {
        var elementCount = 1
        for extent in shape {
            let (product, overflow) = elementCount.multipliedReportingOverflow(by: extent)
            guard !overflow, product <= Self.maximumArrayDataBytes else {
                throw failure("array shape \(describe(shape)) is too large (this reader accepts at most "
                    + "\(Self.maximumArrayDataBytes) bytes of data per array)", .tooLarge)
            }
            elementCount = product
        }
        let byteCount = elementCount * kind.itemSize
        guard byteCount <= Self.maximumArrayDataBytes else {
            throw failure("array shape \(describe(shape)) of \(kind.code) is too large (this reader accepts at most "
                + "\(Self.maximumArrayDataBytes) bytes of data per array)", .tooLarge)
        }
        return (elementCount, byteCount)
    }

    /// Converts an array's data as `fill` delivers it.
    /// - Parameters:
    ///   - exactOffsets: true when data byte i sits at `dataOffset + i` in the
    ///     stream (a byte string); false for text, where errors name the element instead.
    ///   - fill: stores the next bytes of data in its argument and returns how
    ///     many; fewer than asked for means the data ended early.
    private func arrayData(shape: [Int], kind: NumpyElementKind, elementCount: Int, dataOffset: Int64, exactOffsets: Bool,
                           fill: (UnsafeMutableRawBufferPointer) throws -> Int) throws -> NumpyArrayContents {
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

/// Reads BINUNICODE text as Latin-1: each character is one UTF-8 byte below
/// 0x80, or two (0xC2 or 0xC3, then a continuation byte) for 0x80...0xFF.
/// Any other character cannot stand for a byte and is refused.
private struct Latin1TextReader {
    let input: UncompressedByteStream
    /// UTF-8 bytes of the text not yet read.
    private(set) var remaining: Int
    let textStart: Int64
    let opcodeOffset: Int64

    init(input: UncompressedByteStream, encodedLength: Int, textStart: Int64, opcodeOffset: Int64) {
        self.input = input
        remaining = encodedLength
        self.textStart = textStart
        self.opcodeOffset = opcodeOffset
    }

    /// Fills `piece` with characters; returns fewer than its size only when the text ends.
    /// - Parameters:
    ///   - arrayBytes: the array's data size when the text is array data, for messages.
    mutating func read(into piece: UnsafeMutableRawBufferPointer, arrayBytes: Int?) throws -> Int {
        var stored = 0
        while stored < piece.count, remaining > 0 {
            let lead = try nextByte()
            var character = lead
            if lead >= 0x80 {
                let at = input.offset - 1
                guard lead == 0xc2 || lead == 0xc3, remaining > 0 else { throw notLatin1(at) }
                let next = try nextByte()
                guard next & 0xc0 == 0x80 else { throw notLatin1(at) }
                character = (lead & 0x03) << 6 | (next & 0x3f)
            }
            piece[stored] = character
            stored += 1
        }
        if let arrayBytes, stored < piece.count {
            throw DataFileError(.unexpectedContents, path: input.path, offset: opcodeOffset,
                                reason: "BINUNICODE's text ends before the \(arrayBytes) bytes of array data it must hold")
        }
        return stored
    }

    private mutating func nextByte() throws -> UInt8 {
        guard let byte = try input.readByte() else {
            throw DataFileError(.damaged, path: input.path, offset: opcodeOffset,
                                reason: "the data ends at byte \(input.offset), inside BINUNICODE text that began at byte "
                                    + "\(textStart) (the file is truncated)")
        }
        remaining -= 1
        return byte
    }

    private func notLatin1(_ offset: Int64) -> DataFileError {
        DataFileError(.unexpectedContents, path: input.path, offset: offset,
                      reason: "BINUNICODE text holds a character above U+00FF or invalid UTF-8; "
                          + "only Latin-1 text can stand for bytes")
    }
}

/// A shape as Python prints it: (3,) or (2, 784).
private func describe(_ shape: [Int]) -> String {
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
