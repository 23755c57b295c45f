// UncompressedByteStream: the bytes of a data file after gunzip, in order.
//
// zlib (through CKernels' ck_gz_* wrappers) decompresses the file, or passes
// it through when it is not gzipped. This class adds the two things the pickle
// decoder needs: cheap single-byte reads, and an exact count of the bytes
// consumed so that every error can name its offset in the uncompressed stream.
// Damage that zlib detects (a truncated stream, a bad block, a CRC or length
// trailer that does not match) is thrown as a DataFileError when the decoder
// first asks for bytes beyond the last good ones.  zlib cannot say which
// uncompressed byte is bad, only how far it got: the error names the
// uncompressed offset it had inflated to (all bytes before it came out, so the
// damage lies at or beyond it there) and the byte of the compressed file where
// inflate gave up (the damage lies at or before it there).  A changed
// literal goes unnoticed until the CRC-32 in the trailer, which covers the
// whole stream, so that error names no offset at all.  The file is
// checked by Files/BoundedFile before zlib opens it, and the bytes inflated
// are counted against a limit, so that a small file that inflates without
// end (a gzip bomb) is refused rather than read forever.

import CKernels

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

final class UncompressedByteStream {
    /// The file as the caller named it, for messages.
    let path: String
    /// Uncompressed bytes handed to the caller so far: the offset of the next byte.
    private(set) var offset: Int64 = 0

    private let file: OpaquePointer
    /// Read-ahead so that opcode-sized reads do not each cross into C.
    private let readAhead: UnsafeMutableRawBufferPointer
    private var readAheadStart = 0
    private var readAheadEnd = 0
    private var reachedEnd = false
    /// Bytes zlib has produced so far.
    private var inflated: Int64 = 0

    private static let readAheadSize = 1 << 16

    /// The most bytes a stream inflates to, and the largest file it opens, unless told
    /// otherwise: far above any data set read here (MNIST's pickle inflates to 220 MB),
    /// far below what would exhaust memory or time.
    static let defaultLimit = 1 << 32
    /// The most uncompressed bytes this stream hands out.
    private let limit: Int64

    /// Opens a file for reading.
    /// - Parameters:
    ///   - path: a gzipped or plain file.
    ///   - limit: the most bytes the file may hold, and the most it may inflate to.
    /// - Throws: `DataFileError` of kind `.missing`, `.notReadable` or `.tooLarge`
    ///   if the file is missing, is a directory, cannot be opened or is too large.
    init(path: String, limit: Int = defaultLimit) throws {
        self.path = path
        self.limit = Int64(limit)
        do {
            try BoundedFile.checkReadable(path, limit: limit, expected: "a data file")
        } catch let error as FileError {
            throw DataFileError(error)
        }
        guard let file = ck_gz_open(path) else {
            let code = errno
            throw DataFileError(.notReadable, path: path, reason: "cannot read: \(String(cString: strerror(code)))")
        }
        self.file = file
        readAhead = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.readAheadSize, alignment: 16)
    }

    deinit {
        ck_gz_close(file)
        readAhead.deallocate()
    }

    /// Up to `count` of the next bytes, without consuming them: fewer only near the end.
    /// - Throws: `DataFileError` if zlib finds the data damaged or truncated.
    func peek(_ count: Int) throws -> [UInt8] {
        if readAheadEnd - readAheadStart < count {
            // Keep what is buffered and top it up; a read-ahead holds far more than a peek.
            let kept = readAheadEnd - readAheadStart
            readAhead.baseAddress!.copyMemory(from: readAhead.baseAddress! + readAheadStart, byteCount: kept)
            readAheadStart = 0
            readAheadEnd = kept
            while readAheadEnd < count {
                let got = try readFromZlib(into: readAhead.baseAddress! + readAheadEnd, count: readAhead.count - readAheadEnd)
                if got == 0 { break }
                readAheadEnd += got
            }
        }
        return Array(UnsafeRawBufferPointer(rebasing: readAhead[readAheadStart..<min(readAheadEnd, readAheadStart + count)]))
    }

    /// Whether the stream has no more bytes (reads ahead to find out, consuming nothing).
    /// - Throws: `DataFileError` if zlib finds the data damaged or truncated.
    func isAtEnd() throws -> Bool {
        if readAheadStart == readAheadEnd { try refillReadAhead() }
        return readAheadStart == readAheadEnd
    }

    /// The next byte, or nil at a clean end of the stream.
    /// - Throws: `DataFileError` if zlib finds the data damaged or truncated.
    func readByte() throws -> UInt8? {
        if readAheadStart == readAheadEnd {
            try refillReadAhead()
            if readAheadStart == readAheadEnd { return nil }
        }
        let byte = readAhead.load(fromByteOffset: readAheadStart, as: UInt8.self)
        readAheadStart += 1
        offset += 1
        return byte
    }

    /// Fills `destination` from the stream, as far as the stream goes.
    /// - Parameters:
    ///   - destination: where the bytes go.
    /// - Returns: the number of bytes stored; less than `destination.count` only at a clean end.
    /// - Throws: `DataFileError` if zlib finds the data damaged or truncated.
    func read(into destination: UnsafeMutableRawBufferPointer) throws -> Int {
        var stored = 0
        while stored < destination.count {
            let wanted = destination.count - stored
            let buffered = readAheadEnd - readAheadStart
            if buffered > 0 {
                let taken = min(buffered, wanted)
                destination.baseAddress!.advanced(by: stored)
                    .copyMemory(from: readAhead.baseAddress!.advanced(by: readAheadStart), byteCount: taken)
                readAheadStart += taken
                stored += taken
                offset += Int64(taken)
            } else if wanted >= Self.readAheadSize {
                // Large payloads go straight to their destination: one copy fewer.
                let got = try readFromZlib(into: destination.baseAddress!.advanced(by: stored),
                                           count: min(wanted, 1 << 30))
                if got == 0 { break }
                stored += got
                offset += Int64(got)
            } else {
                try refillReadAhead()
                if readAheadStart == readAheadEnd { break }
            }
        }
        return stored
    }

    private func refillReadAhead() throws {
        readAheadStart = 0
        readAheadEnd = try readFromZlib(into: readAhead.baseAddress!, count: readAhead.count)
    }

    private func readFromZlib(into destination: UnsafeMutableRawPointer, count: Int) throws -> Int {
        if reachedEnd { return 0 }
        let got = ck_gz_read(file, destination, UInt32(count))
        if got < 0 {
            // zlib puts the path in front of its message; the error names it already.
            var zlibMessage = Substring(String(cString: ck_gz_error(file)))
            if zlibMessage.hasPrefix(path + ": ") { zlibMessage = zlibMessage.dropFirst(path.count + 2) }
            let stoppedAt = ck_gz_compressed_offset(file)
            let stopped = stoppedAt >= 0 ? "zlib gave up at byte \(stoppedAt) of the compressed file" : "zlib gave up"
            if zlibMessage == "incorrect data check" || zlibMessage == "incorrect length check" {
                // The trailer checks the whole stream: nothing says where the damage is.
                throw DataFileError(.damaged, path: path, reason: "the gzip data is damaged: what it inflates to does not match "
                    + "the CRC-32 and length in its trailer (\(zlibMessage)), so the damage may lie anywhere in it")
            }
            // The caller's offset lags behind by the read-ahead; zlib's own count does not.
            let inflatedTo = max(offset, ck_gz_offset(file))
            throw DataFileError(.damaged, path: path, offset: inflatedTo,
                                reason: "the gzip data is damaged or truncated: \(stopped) (\(zlibMessage)); it had inflated "
                                    + "the bytes before this offset, so the damage lies at or beyond it in the uncompressed data")
        }
        if got == 0 { reachedEnd = true }
        // Counted from what zlib has produced, read-ahead included, so the limit holds for every caller.
        inflated += Int64(got)
        guard inflated <= limit else {
            throw DataFileError(.tooLarge, path: path, offset: limit,
                                reason: "inflates to more than \(limit) bytes, more than any data set this reader takes")
        }
        return got
    }
}
