// RestrictedPickleDecoder+Strings: the opcodes whose argument is a string,
// which may be an array's data.
//
// Each pickle protocol spells an array's bytes its own way.  Python 2 writes
// a str: quoted and backslash-escaped in protocol 0 (STRING), raw in 1 and 2
// (BINSTRING).  Python 3 writes bytes (BINBYTES) from protocol 3 on; before
// that it has no bytes opcode, so it writes the bytes as Latin-1 text and a
// call that turns them back, `_codecs.encode(text, 'latin1')`: in protocol 0
// as raw-unicode-escape text (UNICODE), in 1 and 2 as UTF-8 (BINUNICODE).  The
// decoder accepts that one call and performs the Latin-1 conversion itself,
// so nothing is run.  Protocol 5 stores the data before its dtype and shape,
// as a buffer (BYTEARRAY8) that waits, raw, for `_frombuffer`.
//
// Array data is converted while it streams in (RestrictedPickleDecoder+Numpy),
// so the 157 MB of MNIST training floats never sit in memory at once.  The
// decoder knows a string is array data from its place on the stack: right
// after the (version, shape, dtype, is_fortran) part of an array's state
// (and, in Python 3's spelling, the `_codecs.encode` global).  Any other
// string must be short: a dtype code, a byte order, a module name.

extension RestrictedPickleDecoder {
    /// SHORT_BINSTRING and BINSTRING (a Python 2 str), and Python 3's
    /// SHORT_BINBYTES, BINBYTES, BINBYTES8 and BYTEARRAY8.
    /// - Parameters:
    ///   - mayBeBuffer: true for Python 3's bytes opcodes, whose long values may be
    ///     protocol 5 buffers that `_frombuffer` makes into arrays.
    mutating func byteString(length: Int, mayBeBuffer: Bool = false) throws {
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
        let isByteArray = opcode == 0x96
        if length <= Self.maximumPlainStringLength, !isByteArray {
            try charge(length + PickleMemoryBudget.entryCost, for: "a string of \(length) bytes")
            var bytes: [UInt8] = []
            bytes.reserveCapacity(length)
            for _ in 0..<length { bytes.append(try argumentByte()) }
            try push(.bytes(bytes))
            return
        }
        guard mayBeBuffer else {
            throw failure("\(opcodeName) of \(length) bytes where only a short string may appear "
                + "(long strings are allowed only as an array's data)")
        }
        try charge(length, for: "\(opcodeName) of \(length) bytes")
        let dataOffset = input.offset
        let input = self.input
        // Read straight into the array's storage. A length field that lies reserves
        // address space within the budget, but only the pages the file fills are touched.
        var got = 0
        let bytes = try [UInt8](unsafeUninitializedCapacity: length) { storage, initialized in
            got = try input.read(into: UnsafeMutableRawBufferPointer(storage))
            initialized = got
        }
        guard got == length else {
            throw failure("the data ends at byte \(input.offset), inside the \(length) bytes of \(opcodeName) "
                + "that began at byte \(dataOffset) (the file is truncated)", .damaged)
        }
        try push(.rawBytes(PickleRawBytes(bytes: bytes, dataOffset: dataOffset)))
    }

    /// BINUNICODE, SHORT_BINUNICODE and BINUNICODE8: UTF-8 text whose characters
    /// must all be Latin-1 (below 256), because the only text a numpy pickle
    /// holds is a short name or, in Python 3's spelling, an array's bytes as
    /// Latin-1 characters.
    mutating func text(length: Int) throws {
        var reader = Latin1TextReader(input: input, encodedLength: length, textStart: input.offset, opcodeOffset: opcodeOffset)
        try readEncoded(&reader, asText: true, encodedLength: length)
    }

    /// STRING: protocol 0's quoted, backslash-escaped str, as Python 2's repr writes it.
    mutating func quotedString() throws {
        var reader = try EscapedStringReader(input: input, opcodeOffset: opcodeOffset)
        try readEncoded(&reader, asText: false, encodedLength: nil)
    }

    /// UNICODE: protocol 0's text, a line in Python's raw-unicode-escape encoding.
    mutating func escapedText() throws {
        var reader = RawUnicodeEscapeReader(input: input, opcodeOffset: opcodeOffset)
        try readEncoded(&reader, asText: true, encodedLength: nil)
    }

    /// Reads a string through `reader`: as an array's data if the stack says it is
    /// one, else as a short string (bytes) or text.
    /// - Parameters:
    ///   - encodedLength: the encoded size where the opcode states it, to refuse
    ///     text that cannot be the array's data before reading it.
    private mutating func readEncoded<Reader: PickleStringReader>(_ reader: inout Reader, asText: Bool, encodedLength: Int?) throws {
        if let (shape, kind) = try arrayDataContext(encodedAsText: asText) {
            let (elementCount, byteCount) = try arraySize(shape: shape, kind: kind)
            // Each byte is one character of one or two UTF-8 bytes.
            if let encodedLength, !(encodedLength >= byteCount && encodedLength / 2 <= byteCount) {
                throw failure("\(opcodeName) of \(encodedLength) bytes cannot hold the \(byteCount) bytes of array data "
                    + "that shape \(describe(shape)) of \(kind.code) needs")
            }
            let name = opcodeName
            let contents = try arrayData(shape: shape, kind: kind, elementCount: elementCount, dataOffset: input.offset,
                                         exactOffsets: false) { piece in
                let got = try reader.read(into: piece)
                guard got == piece.count else {
                    throw failure("\(name)'s text ends before the \(byteCount) bytes of array data it must hold")
                }
                return got
            }
            guard try reader.isAtEnd() else {
                throw failure("\(opcodeName) holds more text than the \(byteCount) bytes of array data it stands for")
            }
            try push(.arrayData(contents))
            return
        }
        var characters = [UInt8](repeating: 0, count: Self.maximumPlainStringLength)
        let got = try characters.withUnsafeMutableBytes { raw in try reader.read(into: raw) }
        guard try reader.isAtEnd() else {
            throw failure("\(opcodeName) longer than \(Self.maximumPlainStringLength) characters where only a short "
                + "string may appear (long strings are allowed only as an array's data)")
        }
        try charge(got + PickleMemoryBudget.entryCost, for: "a string of \(got) bytes")
        let value = Array(characters[0..<got])
        try push(asText ? .text(value) : .bytes(value))
    }
}

/// Produces a string's bytes (for text, its Latin-1 characters) from the stream.
protocol PickleStringReader {
    /// Fills `piece`; returns fewer than its size only when the string ends.
    mutating func read(into piece: UnsafeMutableRawBufferPointer) throws -> Int
}

extension PickleStringReader {
    /// Whether the string has no more bytes (consumes its terminator if so).
    mutating func isAtEnd() throws -> Bool {
        var probe: UInt8 = 0
        return try withUnsafeMutableBytes(of: &probe) { try read(into: $0) } == 0
    }
}

/// Reads BINUNICODE text as Latin-1: each character is one UTF-8 byte below
/// 0x80, or two (0xC2 or 0xC3, then a continuation byte) for 0x80...0xFF.
/// Any other character cannot stand for a byte and is refused.
struct Latin1TextReader: PickleStringReader {
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

    mutating func read(into piece: UnsafeMutableRawBufferPointer) throws -> Int {
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
        return stored
    }

    private mutating func nextByte() throws -> UInt8 {
        guard let byte = try input.readByte() else {
            throw DataFileError(.damaged, path: input.path, offset: opcodeOffset,
                                reason: "the data ends at byte \(input.offset), inside text that began at byte "
                                    + "\(textStart) (the file is truncated)")
        }
        remaining -= 1
        return byte
    }

    private func notLatin1(_ offset: Int64) -> DataFileError {
        DataFileError(.unexpectedContents, path: input.path, offset: offset,
                      reason: "the text holds a character above U+00FF or invalid UTF-8; "
                          + "only Latin-1 text can stand for bytes")
    }
}

/// What the two escaped-text readers share: the next byte of their line, and their refusals.
protocol EscapedTextReading {
    var input: UncompressedByteStream { get }
    var opcodeOffset: Int64 { get }
    /// What the text is, in messages: "STRING", "UNICODE text".
    static var textName: String { get }
}

extension EscapedTextReading {
    func nextByte() throws -> UInt8 {
        guard let byte = try input.readByte() else {
            throw DataFileError(.damaged, path: input.path, offset: opcodeOffset,
                                reason: "the data ends at byte \(input.offset), inside \(Self.textName) (the file is truncated)")
        }
        return byte
    }

    func problem(_ reason: String) -> DataFileError {
        DataFileError(.unexpectedContents, path: input.path, offset: input.offset - 1, reason: reason)
    }
}

/// Reads STRING's argument, 'text' or "text" and a newline, undoing the
/// escapes of Python's repr: \\ \' \" \n \t \r \a \b \f \v, \xhh and octal
/// \ooo; an unknown escape stays as it is, both characters, as in Python.
struct EscapedStringReader: PickleStringReader, EscapedTextReading {
    let input: UncompressedByteStream
    let opcodeOffset: Int64
    private let quote: UInt8
    private var finished = false
    /// The second character of an unknown escape, still to be stored.
    private var pending: UInt8?

    init(input: UncompressedByteStream, opcodeOffset: Int64) throws {
        self.input = input
        self.opcodeOffset = opcodeOffset
        let first = try input.readByte()
        guard first == UInt8(ascii: "'") || first == UInt8(ascii: "\"") else {
            throw DataFileError(first == nil ? .damaged : .unexpectedContents, path: input.path, offset: opcodeOffset,
                                reason: first == nil ? "the data ends inside STRING (the file is truncated)"
                                    : "STRING's argument does not start with a quote")
        }
        quote = first!
    }

    mutating func read(into piece: UnsafeMutableRawBufferPointer) throws -> Int {
        var stored = 0
        while stored < piece.count {
            if let byte = pending {
                piece[stored] = byte
                stored += 1
                pending = nil
                continue
            }
            if finished { break }
            let byte = try nextByte()
            if byte == quote {
                guard try nextByte() == UInt8(ascii: "\n") else {
                    throw problem("STRING holds its closing quote before the end of its line")
                }
                finished = true
                break
            }
            guard byte != UInt8(ascii: "\n") else { throw problem("STRING's line ends without its closing quote") }
            piece[stored] = byte == UInt8(ascii: "\\") ? try escape() : byte
            stored += 1
        }
        return stored
    }

    /// The byte an escape stands for (its backslash read already).
    private mutating func escape() throws -> UInt8 {
        let code = try nextByte()
        switch code {
        case UInt8(ascii: "n"): return 0x0a
        case UInt8(ascii: "t"): return 0x09
        case UInt8(ascii: "r"): return 0x0d
        case UInt8(ascii: "a"): return 0x07
        case UInt8(ascii: "b"): return 0x08
        case UInt8(ascii: "f"): return 0x0c
        case UInt8(ascii: "v"): return 0x0b
        case UInt8(ascii: "\\"), UInt8(ascii: "'"), UInt8(ascii: "\""): return code
        case UInt8(ascii: "x"):
            guard let high = hexValue(try nextByte()), let low = hexValue(try nextByte()) else {
                throw problem("STRING holds a \\x escape without two hex digits")
            }
            return high << 4 | low
        case UInt8(ascii: "0")...UInt8(ascii: "7"):
            var value = Int(code - UInt8(ascii: "0"))
            for _ in 0..<2 {
                guard let next = try input.peek(1).first, (UInt8(ascii: "0")...UInt8(ascii: "7")).contains(next) else { break }
                _ = try nextByte()
                value = value * 8 + Int(next - UInt8(ascii: "0"))
            }
            return UInt8(truncatingIfNeeded: value)
        case UInt8(ascii: "\n"):
            throw problem("STRING's line ends without its closing quote")
        default:
            pending = code
            return UInt8(ascii: "\\")
        }
    }

    static let textName = "STRING"
}

/// Reads UNICODE's argument, a line of raw-unicode-escape text, as Latin-1
/// characters: each byte is the character of that code, except that \uXXXX
/// and \UXXXXXXXX stand for one character where an odd number of backslashes
/// comes before the u (Python's rule; Python 3 writes every backslash and
/// newline so). Characters above U+00FF cannot stand for bytes and are refused.
struct RawUnicodeEscapeReader: PickleStringReader, EscapedTextReading {
    let input: UncompressedByteStream
    let opcodeOffset: Int64
    private var finished = false
    /// Backslashes read but not yet stored, then the character that followed them.
    private var pendingBackslashes = 0
    private var pendingCharacter: UInt8?
    private var endsAfterPending = false

    init(input: UncompressedByteStream, opcodeOffset: Int64) {
        self.input = input
        self.opcodeOffset = opcodeOffset
    }

    mutating func read(into piece: UnsafeMutableRawBufferPointer) throws -> Int {
        var stored = 0
        while stored < piece.count {
            if pendingBackslashes > 0 {
                piece[stored] = UInt8(ascii: "\\")
                pendingBackslashes -= 1
                stored += 1
                continue
            }
            if let character = pendingCharacter {
                piece[stored] = character
                pendingCharacter = nil
                stored += 1
                continue
            }
            if endsAfterPending { finished = true }
            if finished { break }
            let byte = try nextByte()
            if byte == UInt8(ascii: "\n") {
                finished = true
                break
            }
            guard byte == UInt8(ascii: "\\") else {
                piece[stored] = byte
                stored += 1
                continue
            }
            var run = 1
            var following = try nextByte()
            while following == UInt8(ascii: "\\") {
                run += 1
                following = try nextByte()
            }
            if run % 2 == 1, following == UInt8(ascii: "u") || following == UInt8(ascii: "U") {
                pendingBackslashes = run - 1
                pendingCharacter = try escapedCharacter(digits: following == UInt8(ascii: "u") ? 4 : 8)
            } else if following == UInt8(ascii: "\n") {
                pendingBackslashes = run
                endsAfterPending = true
            } else {
                pendingBackslashes = run
                pendingCharacter = following
            }
        }
        return stored
    }

    private func escapedCharacter(digits: Int) throws -> UInt8 {
        var value: UInt32 = 0
        for _ in 0..<digits {
            guard let digit = hexValue(try nextByte()) else {
                throw problem("UNICODE text holds a \\u or \\U escape without its hex digits")
            }
            value = value << 4 | UInt32(digit)
        }
        guard value <= 0xff else {
            throw problem("UNICODE text holds a character above U+00FF; only Latin-1 text can stand for bytes")
        }
        return UInt8(value)
    }

    static let textName = "UNICODE text"
}

private func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
    default: return nil
    }
}
