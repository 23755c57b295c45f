// UncompressedByteStream: the bytes of a data file after gunzip, in order.
//
// zlib (through CKernels' ck_gz_* wrappers) decompresses the file, or passes
// it through when it is not gzipped. This class adds the two things the pickle
// decoder needs: cheap single-byte reads, and an exact count of the bytes
// consumed so that every error can name its offset in the uncompressed stream.
// Damage that zlib detects (a truncated stream, a bad block, a CRC or length
// trailer that does not match) is thrown as a DataFileError at the point where
// the decoder first asks for bytes beyond the last good ones.

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

    private static let readAheadSize = 1 << 16

    /// Opens a file for reading.
    /// - Parameters:
    ///   - path: a gzipped or plain file.
    ///   - missingFileHint: added to the reason when the file does not exist.
    /// - Throws: `DataFileError` if the file is missing, is a directory or cannot be opened.
    init(path: String, missingFileHint: String) throws {
        self.path = path
        var status = stat()
        if stat(path, &status) != 0 {
            let code = errno
            if code == ENOENT {
                throw DataFileError(path: path, reason: "no such file (\(missingFileHint))")
            }
            throw DataFileError(path: path, reason: "cannot open: \(String(cString: strerror(code)))")
        }
        // open(2) succeeds on a directory and only the first read fails, with a
        // message that would not say what is wrong.
        if (status.st_mode & S_IFMT) == S_IFDIR {
            throw DataFileError(path: path, reason: "is a directory, not a data file")
        }
        guard let file = ck_gz_open(path) else {
            let code = errno
            throw DataFileError(path: path, reason: "cannot open: \(String(cString: strerror(code)))")
        }
        self.file = file
        readAhead = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.readAheadSize, alignment: 16)
    }

    deinit {
        ck_gz_close(file)
        readAhead.deallocate()
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
            throw DataFileError(path: path, offset: offset,
                                reason: "the compressed data is damaged or truncated after this byte (zlib: \(zlibMessage))")
        }
        if got == 0 { reachedEnd = true }
        return got
    }
}
