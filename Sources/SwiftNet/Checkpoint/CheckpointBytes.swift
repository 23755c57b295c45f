// CheckpointBytes.swift: little-endian encoding for checkpoint files.
//
// A checkpoint is a flat sequence of fixed-width little-endian fields.  The
// writer appends them; the reader takes them from one section's payload
// and never reads past its end, so a lying length cannot make it read
// beyond the bytes it was given.  Floats travel as their bit patterns, so a
// saved parameter comes back bit for bit.

import CKernels

/// Appends little-endian fields to a byte array.
struct CheckpointByteWriter {
    private(set) var bytes: [UInt8] = []

    mutating func reserve(_ count: Int) { bytes.reserveCapacity(count) }
    mutating func append(_ raw: [UInt8]) { bytes += raw }
    mutating func u8(_ value: UInt8) { bytes.append(value) }
    mutating func u32(_ value: UInt32) {
        for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }
    mutating func u64(_ value: UInt64) {
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }
    mutating func count(_ value: Int) { u32(UInt32(value)) }
    mutating func f32(_ value: Float) { u32(value.bitPattern) }
    mutating func f64(_ value: Double) { u64(value.bitPattern) }
    mutating func floats(_ values: UnsafeBufferPointer<Float>) {
        #if _endian(little)
        // The file's byte order is the machine's: one copy, which matters in debug builds.
        bytes.append(contentsOf: UnsafeRawBufferPointer(values))
        #else
        for value in values { u32(value.bitPattern) }
        #endif
    }
}

/// Reads little-endian fields from `bytes[start..<end]`, throwing a
/// CheckpointFormatProblem that names the field and its offset when the
/// payload ends too soon.
struct CheckpointByteReader {
    let bytes: [UInt8]
    private(set) var position: Int
    let end: Int
    /// The section's name, for messages.
    let section: String

    init(_ bytes: [UInt8], from start: Int, to end: Int, section: String) {
        self.bytes = bytes
        position = start
        self.end = end
        self.section = section
    }

    private mutating func take(_ count: Int, _ field: String) throws -> Int {
        guard end - position >= count else {
            throw CheckpointFormatProblem(offset: position, reason: "section \(section) ends inside its \(field)")
        }
        defer { position += count }
        return position
    }

    mutating func u8(_ field: String) throws -> UInt8 {
        bytes[try take(1, field)]
    }

    mutating func u32(_ field: String) throws -> UInt32 {
        let at = try take(4, field)
        var value: UInt32 = 0
        for index in 0..<4 { value |= UInt32(bytes[at + index]) << UInt32(8 * index) }
        return value
    }

    mutating func u64(_ field: String) throws -> UInt64 {
        let at = try take(8, field)
        var value: UInt64 = 0
        for index in 0..<8 { value |= UInt64(bytes[at + index]) << UInt64(8 * index) }
        return value
    }

    /// `count` raw bytes.
    mutating func bytes(_ count: Int, _ field: String) throws -> ArraySlice<UInt8> {
        let at = try take(count, field)
        return bytes[at..<(at + count)]
    }

    mutating func f32(_ field: String) throws -> Float { Float(bitPattern: try u32(field)) }
    mutating func f64(_ field: String) throws -> Double { Double(bitPattern: try u64(field)) }

    /// A u32 that must lie in `range`.
    mutating func count(_ field: String, in range: ClosedRange<Int>) throws -> Int {
        let at = position
        let value = Int(try u32(field))
        guard range.contains(value) else {
            throw CheckpointFormatProblem(offset: at, reason: "\(section)'s \(field) is \(value); it must lie in \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    /// `count` floats into `destination`, which must have room for them.
    mutating func floats(_ count: Int, into destination: UnsafeMutablePointer<Float>, _ field: String) throws {
        let at = try take(count * 4, field)
        bytes.withUnsafeBytes { raw in
            #if _endian(little)
            UnsafeMutableRawPointer(destination).copyMemory(from: raw.baseAddress! + at, byteCount: count * 4)
            #else
            for index in 0..<count {
                let bits = raw.loadUnaligned(fromByteOffset: at + index * 4, as: UInt32.self)
                destination[index] = Float(bitPattern: UInt32(littleEndian: bits))
            }
            #endif
        }
    }

    /// Throws unless every byte of the payload was read.
    func expectEnd() throws {
        guard position == end else {
            throw CheckpointFormatProblem(offset: position, reason: "section \(section) has \(end - position) bytes more than its contents")
        }
    }
}

/// zlib's CRC-32 of `bytes[range]`.
func checkpointCRC32(_ bytes: [UInt8], _ range: Range<Int>) -> UInt32 {
    bytes.withUnsafeBytes { raw in ck_crc32Buffer(0, UnsafeRawBufferPointer(rebasing: raw[range])) }
}
