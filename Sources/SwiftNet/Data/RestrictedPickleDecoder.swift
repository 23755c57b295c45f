// RestrictedPickleDecoder: reads numpy arrays from a Python pickle without
// running anything.
//
// Python's own unpickler will call any function a file names (`os.system` is
// the classic example), so a pickle from the internet must never reach one.
// This is a small stack machine that knows the opcodes that Python 2's
// cPickle and Python 3's pickle write for plain data (protocols 0 to 5:
// integers, floats, strings, tuples, lists and the memo), and only the few
// globals that numpy's arrays name. It does not call them: REDUCE and BUILD
// are checked against the exact argument shapes numpy 1 and 2 write and
// produce inert values (PickleValue.swift, RestrictedPickleDecoder+Numpy.swift).
// Anything else stops decoding with a DataFileError that names the offset of
// the offending opcode in the uncompressed stream and says what is accepted.
//
// This file is the machine: entry points, opcodes, stack and memo.  The
// opcodes' arguments are read in RestrictedPickleDecoder+Arguments.swift;
// strings and text, whose bytes may be an array's data, in
// RestrictedPickleDecoder+Strings.swift; numpy's calls and the conversion of
// array data in RestrictedPickleDecoder+Numpy.swift.
//
// Every loop is bounded by the bytes in the stream, every container by a
// fixed limit below, and everything kept by one memory budget per file
// (PickleMemoryBudget.swift), so hostile input ends in an error, never a
// hang, a trap or an unbounded allocation.

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

        /// The file the reader wants, for messages about files of another kind.
        var expectedFile: String {
            switch self {
            case .mnist: return "a pickle of MNIST's arrays as network3.py's mnist.pkl.gz"
            case .parameters: return "a network3 parameter pickle"
            }
        }
    }

    /// The most values the stack may hold; numpy's pickles need about ten.
    static let maximumStackDepth = 1_000
    static let maximumMarkDepth = 100
    /// How deeply tuples and lists may nest; MNIST's pickle nests three deep.
    static let maximumNesting = 16
    static let maximumMemoEntries = 10_000
    /// Strings that are not array data are dtype codes, byte orders and names: a few bytes.
    static let maximumPlainStringLength = 256
    static let maximumGlobalLineLength = 200
    /// The longest decimal argument of INT, LONG, FLOAT, PUT or GET (protocol 0).
    static let maximumNumberLineLength = 64
    /// Pickles in one file of network3 parameters: w and b of up to 64 layers.
    static let maximumPickles = 128
    /// The most bytes the decoder holds for one file unless told otherwise. MNIST's
    /// pickle needs 56 MB (its pixels are kept as bytes); written at protocol 5, whose
    /// raw buffers arrive before their dtype, 275 MB. A 1 GiB limit leaves room for
    /// data sets several times larger and stops a small file that inflates to
    /// gigabytes of arrays long before it exhausts memory.  A lower process-wide
    /// budget (`MemoryBudget.default`, `cnn --memory-limit`) lowers it.
    static var defaultMemoryLimit: Int { min(1 << 30, MemoryBudget.default.bytes) }
    /// Raw data is converted in pieces of this many bytes (a multiple of every item size).
    static let conversionChunkBytes = 1 << 18

    let input: UncompressedByteStream
    let purpose: Purpose
    let budget: PickleMemoryBudget
    /// Where this pickle began in the stream (files of parameters hold several).
    private let pickleStart: Int64
    var stack: [PickleValue] = []
    /// Stack heights at each MARK; values below the top one are out of reach, as in Python.
    var marks: [Int] = []
    private var memo: [UInt32: PickleValue] = [:]
    /// Where the opcode being executed began, for messages.
    var opcodeOffset: Int64 = 0
    var opcode: UInt8 = 0
    var opcodeName: String { pickleOpcodeName(opcode) ?? "opcode 0x\(hexByte(opcode))" }

    /// Decodes one pickle from the stream and checks that the stream ends right after it.
    /// - Parameters:
    ///   - input: the uncompressed bytes, positioned at the start of the pickle.
    ///   - memoryLimit: the most bytes the decoded values may hold (PickleMemoryBudget).
    /// - Returns: the pickled value.
    /// - Throws: `DataFileError` for anything outside the restricted format, for
    ///   truncated or damaged input, for data after the pickle's STOP, and
    ///   (`.tooLarge`) for values that need more than `memoryLimit` bytes.
    static func decode(from input: UncompressedByteStream, memoryLimit: Int = defaultMemoryLimit) throws -> PickleValue {
        try refuseOtherFormats(input, purpose: .mnist)
        var decoder = RestrictedPickleDecoder(input: input, purpose: .mnist, budget: PickleMemoryBudget(limit: memoryLimit))
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
    ///   - memoryLimit: the most bytes all the decoded values together may hold.
    /// - Returns: the pickled values, in file order; at least one.
    /// - Throws: `DataFileError` for anything outside the restricted format, for
    ///   truncated or damaged input, an empty file, more than `maximumPickles`
    ///   pickles, or (`.tooLarge`) values that need more than `memoryLimit` bytes.
    static func decodeSequence(from input: UncompressedByteStream, purpose: Purpose,
                               memoryLimit: Int = defaultMemoryLimit) throws -> [PickleValue] {
        try refuseOtherFormats(input, purpose: purpose)
        let budget = PickleMemoryBudget(limit: memoryLimit)
        var values: [PickleValue] = []
        while try values.isEmpty || !input.isAtEnd() {
            guard values.count < maximumPickles else {
                throw DataFileError(.unexpectedContents, path: input.path, offset: input.offset,
                                    reason: "more than \(maximumPickles) pickles in one file")
            }
            var decoder = RestrictedPickleDecoder(input: input, purpose: purpose, budget: budget)
            values.append(try decoder.run())
        }
        return values
    }

    /// Names the format of a file that is plainly not a pickle, before its first
    /// byte is misread as an opcode.
    private static func refuseOtherFormats(_ input: UncompressedByteStream, purpose: Purpose) throws {
        guard input.offset == 0, let format = NonPickleFormat(prefix: try input.peek(NonPickleFormat.prefixLength)) else { return }
        throw DataFileError(.unexpectedContents, path: input.path, reason: format.reason(expected: purpose.expectedFile))
    }

    private init(input: UncompressedByteStream, purpose: Purpose, budget: PickleMemoryBudget) {
        self.input = input
        self.purpose = purpose
        self.budget = budget
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
                guard opcodeOffset == pickleStart else {
                    throw failure("PROTO \(version) is not allowed after the start of a pickle")
                }
                guard version <= 5 else {
                    throw failure("PROTO \(version) is newer than this reader knows: it reads protocols 0 to 5 "
                        + "(Python 2 and 3 up to 3.13); re-save the file with pickle protocol 5 or lower")
                }
            case 0x95: // FRAME: protocol 4's framing changes nothing about the opcodes inside.
                _ = try argumentUInt64()
            case UInt8(ascii: "c"): // GLOBAL
                let module = try globalLine()
                let name = try globalLine()
                try push(.global(try allowedGlobal(module + "." + name)))
            case 0x93: // STACK_GLOBAL
                let operands = try pop(2)
                guard case .text(let module) = operands[0], case .text(let name) = operands[1] else {
                    throw failure("STACK_GLOBAL of \(operands[0].summary) and \(operands[1].summary); "
                        + "a module and a name are text")
                }
                try push(.global(try allowedGlobal(printable(module + Array(".".utf8) + name, limit: 2 * Self.maximumGlobalLineLength))))
            case UInt8(ascii: "p"): // PUT
                try memoize(try memoIndex(try numberLine()))
            case UInt8(ascii: "q"): // BINPUT
                try memoize(UInt32(try argumentByte()))
            case UInt8(ascii: "r"): // LONG_BINPUT
                try memoize(try argumentUInt32())
            case 0x94: // MEMOIZE
                try memoize(UInt32(truncatingIfNeeded: memo.count))
            case UInt8(ascii: "g"): // GET
                try recall(try memoIndex(try numberLine()))
            case UInt8(ascii: "h"): // BINGET
                try recall(UInt32(try argumentByte()))
            case UInt8(ascii: "j"): // LONG_BINGET
                try recall(try argumentUInt32())
            case UInt8(ascii: "I"): // INT: protocol 0 and 1 also spell False and True so.
                let line = try numberLine()
                switch line {
                case "00": try push(.bool(false))
                case "01": try push(.bool(true))
                default: try push(.int(try decimal(line)))
                }
            case UInt8(ascii: "L"): // LONG: "123L" from Python 2, "123" also accepted.
                let line = try numberLine()
                try push(.int(try decimal(line.hasSuffix("L") ? String(line.dropLast()) : line)))
            case 0x8a: // LONG1
                try push(.int(try littleEndianInteger(byteCount: Int(try argumentByte()))))
            case 0x8b: // LONG4
                let count = Int32(bitPattern: try argumentUInt32())
                guard count >= 0 else { throw failure("LONG4 claims a negative length (\(count))") }
                try push(.int(try littleEndianInteger(byteCount: Int(count))))
            case UInt8(ascii: "K"): // BININT1
                try push(.int(Int64(try argumentByte())))
            case UInt8(ascii: "M"): // BININT2
                let low = try argumentByte()
                let high = try argumentByte()
                try push(.int(Int64(low) | Int64(high) << 8))
            case UInt8(ascii: "J"): // BININT
                try push(.int(Int64(Int32(bitPattern: try argumentUInt32()))))
            case UInt8(ascii: "F"): // FLOAT
                let line = try numberLine()
                guard let value = Double(line) else { throw failure("FLOAT '\(line)' is not a number") }
                try push(.float(value))
            case UInt8(ascii: "G"): // BINFLOAT: big-endian, unlike every other binary argument.
                try push(.float(Double(bitPattern: UInt64(bigEndian: try argumentUInt64()))))
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
                try push(try makeTuple([]))
            case 0x85, 0x86, 0x87: // TUPLE1, TUPLE2, TUPLE3
                let items = try pop(Int(opcode) - 0x84)
                try push(try makeTuple(items))
            case UInt8(ascii: "t"): // TUPLE
                try push(try makeTuple(try popToMark()))
            case UInt8(ascii: "]"): // EMPTY_LIST
                try push(.list(try makeList([])))
            case UInt8(ascii: "l"): // LIST
                try push(.list(try makeList(try popToMark())))
            case UInt8(ascii: "a"): // APPEND
                let item = try pop(1)[0]
                try append([item], to: try listBelow())
            case UInt8(ascii: "e"): // APPENDS
                let items = try popToMark()
                try append(items, to: try listBelow())
            case UInt8(ascii: "S"): // STRING
                try quotedString()
            case UInt8(ascii: "U"): // SHORT_BINSTRING
                try byteString(length: Int(try argumentByte()))
            case UInt8(ascii: "T"): // BINSTRING
                let length = Int32(bitPattern: try argumentUInt32())
                guard length >= 0 else {
                    throw failure("BINSTRING claims a negative length (\(length))")
                }
                try byteString(length: Int(length))
            case UInt8(ascii: "C"): // SHORT_BINBYTES
                try byteString(length: Int(try argumentByte()), mayBeBuffer: true)
            case UInt8(ascii: "B"): // BINBYTES
                try byteString(length: Int(try argumentUInt32()), mayBeBuffer: true)
            case 0x8e, 0x96: // BINBYTES8, BYTEARRAY8
                try byteString(length: try argumentLength64(), mayBeBuffer: true)
            case UInt8(ascii: "V"): // UNICODE
                try escapedText()
            case UInt8(ascii: "X"): // BINUNICODE
                try text(length: Int(try argumentUInt32()))
            case 0x8c: // SHORT_BINUNICODE
                try text(length: Int(try argumentByte()))
            case 0x8d: // BINUNICODE8
                try text(length: try argumentLength64())
            case UInt8(ascii: "R"): // REDUCE
                let operands = try pop(2)
                try push(try reduce(operands[0], arguments: operands[1]))
            case UInt8(ascii: "b"): // BUILD
                let operands = try pop(2)
                try build(operands[0], state: operands[1])
                try push(operands[0])
            case 0x97, 0x98: // NEXT_BUFFER, READONLY_BUFFER
                throw failure("\(opcodeName) is not allowed: the pickle's array data was kept out of the file "
                    + "(out-of-band buffers); re-save it without buffer_callback so that the data is in the file")
            case UInt8(ascii: "."): // STOP
                return try stop()
            default:
                throw failure("\(opcodeName) is not allowed: only " + Self.acceptedContents
                    + "; re-save the file with numpy arrays only")
            }
        }
    }

    /// What a pickle may hold, for refusals.
    static let acceptedContents = "numpy arrays in tuples and lists (with None, booleans, integers, floats and "
        + "strings), as Python 2's cPickle and Python 3's pickle write them at protocols 0 to 5, may appear"

    private mutating func stop() throws -> PickleValue {
        guard marks.isEmpty, stack.count == 1 else {
            throw failure("STOP with \(stack.count) values and \(marks.count) MARKs on the stack; "
                + "a pickle ends with exactly one value")
        }
        return stack[0]
    }

    private func allowedGlobal(_ fullName: String) throws -> AllowedGlobal {
        guard let global = AllowedGlobal(fullName: fullName) else {
            throw failure("global '\(fullName)' is not allowed: only numpy's array and dtype reconstructors ("
                + AllowedGlobal.allowedNames.joined(separator: ", ")
                + ") may appear in a data file; re-save it with numpy arrays only")
        }
        return global
    }

    // MARK: - Stack, memo and containers

    func failure(_ reason: String, _ kind: DataFileError.Kind = .unexpectedContents) -> DataFileError {
        DataFileError(kind, path: input.path, offset: opcodeOffset, reason: reason)
    }

    /// Charges the budget, or throws naming `what` and the limit.
    func charge(_ bytes: Int, for what: @autoclosure () -> String) throws {
        guard budget.charge(bytes) else {
            throw failure("\(what()) would take more than the \(budget.remaining) bytes left of the "
                + "\(budget.limit)-byte memory limit this reader was given", .tooLarge)
        }
    }

    mutating func push(_ value: PickleValue) throws {
        guard stack.count < Self.maximumStackDepth else {
            throw failure("more than \(Self.maximumStackDepth) values on the pickle stack")
        }
        stack.append(value)
    }

    /// Removes and returns the top `count` values, oldest first.
    mutating func pop(_ count: Int) throws -> [PickleValue] {
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

    /// Removes and returns the values above the last MARK, and the MARK.
    private mutating func popToMark() throws -> [PickleValue] {
        guard let mark = marks.popLast() else {
            throw failure("\(opcodeName) without a MARK before it")
        }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    private mutating func memoize(_ index: UInt32) throws {
        guard stack.count - (marks.last ?? 0) > 0, let top = stack.last else {
            throw failure("stack underflow: \(opcodeName) \(index) with nothing on the stack to store")
        }
        if memo[index] == nil {
            guard memo.count < Self.maximumMemoEntries else {
                throw failure("more than \(Self.maximumMemoEntries) memo entries")
            }
            try charge(PickleMemoryBudget.entryCost, for: "memo entry \(index)")
        }
        memo[index] = top
    }

    private mutating func recall(_ index: UInt32) throws {
        guard let value = memo[index] else {
            throw failure("\(opcodeName) \(index): that memo index was never stored")
        }
        try push(value)
    }

    private func memoIndex(_ line: String) throws -> UInt32 {
        guard let index = UInt32(line) else {
            throw failure("\(opcodeName) '\(line)' is not a memo index (a whole number below 2^32)")
        }
        return index
    }

    private func makeTuple(_ items: [PickleValue]) throws -> PickleValue {
        let tuple = PickleTuple(items)
        guard tuple.nesting <= Self.maximumNesting else {
            throw failure("tuples and lists nest more than \(Self.maximumNesting) deep")
        }
        try charge(PickleMemoryBudget.entryCost + items.count * PickleMemoryBudget.itemCost, for: "a tuple of \(items.count)")
        return .tuple(tuple)
    }

    private func makeList(_ items: [PickleValue]) throws -> PickleList {
        let list = PickleList()
        try charge(PickleMemoryBudget.entryCost, for: "a list")
        try append(items, to: .list(list))
        return list
    }

    /// The value APPEND and APPENDS append to: the top of the stack, left in place.
    private func listBelow() throws -> PickleValue {
        guard stack.count > (marks.last ?? 0), let target = stack.last else {
            throw failure("stack underflow: \(opcodeName) with no list on the stack to append to")
        }
        return target
    }

    /// APPEND and APPENDS: only to a list, which Python's pickles alone append to.
    private func append(_ items: [PickleValue], to target: PickleValue) throws {
        guard case .list(let list) = target else {
            throw failure("\(opcodeName) to \(target.summary); only a list can be appended to")
        }
        try charge(items.count * PickleMemoryBudget.itemCost, for: "\(items.count) list items")
        for item in items {
            list.append(item)
            guard list.nesting <= Self.maximumNesting else {
                throw failure("tuples and lists nest more than \(Self.maximumNesting) deep")
            }
        }
    }
}
