// RestrictedPickleDecoder+Arguments: the arguments that follow an opcode.
//
// Binary protocols give little-endian integers and lengths of 1, 2, 4 or 8
// bytes (BINFLOAT alone is big-endian); protocol 0 gives a line of text
// ended by a newline: a decimal number, a memo index, a module or a name.
// Each line has a length limit, so a file without newlines cannot make the
// decoder gather it for ever, and every number must fit in 64 bits.

extension RestrictedPickleDecoder {
    mutating func argumentByte() throws -> UInt8 {
        guard let byte = try input.readByte() else { throw truncated() }
        return byte
    }

    mutating func argumentUInt32() throws -> UInt32 {
        var value: UInt32 = 0
        for shift in stride(from: 0, to: 32, by: 8) {
            value |= UInt32(try argumentByte()) << UInt32(shift)
        }
        return value
    }

    mutating func argumentUInt64() throws -> UInt64 {
        let low = UInt64(try argumentUInt32())
        return low | UInt64(try argumentUInt32()) << 32
    }

    /// An 8-byte length (protocol 4's BINUNICODE8 and BINBYTES8, protocol 5's BYTEARRAY8).
    mutating func argumentLength64() throws -> Int {
        let length = try argumentUInt64()
        guard let value = Int(exactly: length), value >= 0 else {
            throw failure("\(opcodeName) claims a length of \(length) bytes", .tooLarge)
        }
        return value
    }

    /// LONG1 and LONG4: a little-endian two's-complement integer, which must fit in 64 bits.
    mutating func littleEndianInteger(byteCount: Int) throws -> Int64 {
        guard byteCount <= 8 else {
            throw failure("\(opcodeName) of \(byteCount) bytes; only integers that fit in 64 bits are accepted")
        }
        var bits: UInt64 = 0
        for index in 0..<byteCount { bits |= UInt64(try argumentByte()) << UInt64(8 * index) }
        // Extend the sign of the last byte.
        if byteCount > 0, byteCount < 8, bits >> UInt64(8 * byteCount - 1) & 1 == 1 {
            bits |= ~0 << UInt64(8 * byteCount)
        }
        return Int64(bitPattern: bits)
    }

    func truncated() -> DataFileError {
        failure("the data ends at byte \(input.offset), inside \(opcodeName) (the file is truncated)", .damaged)
    }

    /// One newline-terminated line of a GLOBAL's module or name.
    mutating func globalLine() throws -> String {
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

    /// The decimal argument of a protocol 0 opcode, without its newline.
    mutating func numberLine() throws -> String {
        var line: [UInt8] = []
        while true {
            let byte = try argumentByte()
            if byte == UInt8(ascii: "\n") { break }
            guard line.count < Self.maximumNumberLineLength else {
                throw failure("\(opcodeName)'s argument is longer than \(Self.maximumNumberLineLength) bytes")
            }
            line.append(byte)
        }
        return printable(line, limit: Self.maximumNumberLineLength)
    }

    /// A decimal integer as Python writes one; it must fit in 64 bits.
    func decimal(_ line: String) throws -> Int64 {
        guard let value = Int64(line) else {
            throw failure("\(opcodeName) '\(line)' is not a decimal integer that fits in 64 bits")
        }
        return value
    }
}
