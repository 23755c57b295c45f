// BoundedFile.swift: the one reader of files, which never reads more than it was told to.
//
// Every file a person hands SwiftNet is trusted no more than its size on
// disk: a checkpoint, a picture or a metrics log is read whole into memory,
// so the reader takes a limit and refuses a larger file before reading it,
// and stops the moment the bytes it has read pass the limit (the size that
// fstat reports is only a hint: the file may grow while it is read).  A
// reader that knows its file's magic number has the first bytes checked
// before the rest is read, so `/dev/zero` named as a checkpoint costs a few
// bytes, not a gigabyte; and what a read will hold, with the copies its
// decoder makes, is checked against a MemoryBudget.  Data
// sets are too large to hold twice and may be gzipped, so their streaming
// reader (UncompressedByteStream) asks `checkReadable` first, which makes
// the same checks on the file's size, and counts what it inflates against a
// limit of its own.  Every failure is one FileError.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole-file reads with a size limit.
package enum BoundedFile {
    /// The whole of a file, refused if it is larger than `limit` bytes.
    /// - Parameters:
    ///   - path: the file.
    ///   - limit: the largest size accepted, in bytes.
    ///   - expected: the file in words with its article ("a checkpoint"), for the message about a folder.
    /// - Returns: the file's bytes.
    /// - Throws: `FileError.missing`, `.isFolder`, `.notPlainFile`, `.notReadable` or `.tooLarge`.
    package static func read(_ path: String, limit: Int, expected: String) throws -> [UInt8] {
        try read(path, limit: limit, expected: expected, start: Start(length: 0, check: { _ in }))
    }

    /// How a reader vets a file's first bytes before the rest is read.
    struct Start {
        /// How many bytes `check` wants (fewer only if the file is shorter).
        let length: Int
        /// Throws if the bytes cannot begin the file expected (a wrong magic number).
        let check: ([UInt8]) throws -> Void
        /// What the whole read may hold in memory, with `copies` as many bytes again held by its decoder.
        var budget: MemoryBudget?
        var copies = 1
    }

    /// The whole of a file, its first `start.length` bytes read and checked
    /// first, so that a file of the wrong kind (or `/dev/zero`) is refused
    /// after a few bytes instead of after `limit`.
    /// - Throws: what `read(_:limit:expected:)` throws, what `start.check` throws, and
    ///   `MemoryBudgetError` if the file and its copies would not fit `start.budget`.
    static func read(_ path: String, limit: Int, expected: String, start: Start) throws -> [UInt8] {
        try FileIdentity.checkPlainFile(path, expected: expected)  // before open(2), which waits forever on a FIFO
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw openFailure(path, errno) }
        defer { close(descriptor) }
        let size = try checkedSize(of: descriptor, path: path, limit: limit, expected: expected)
        let checkBudget = { (bytes: Int) throws in
            try start.budget?.check(MemoryTally.product([bytes, 1 + start.copies]), for: "reading \(path) (\(bytes) bytes or more)")
        }
        try checkBudget(size)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(size)
        var chunk = [UInt8](repeating: 0, count: min(limit + 1, 1 << 20))
        var started = start.length == 0
        while true {
            let wanted = started ? chunk.count : min(chunk.count, start.length - bytes.count)
            let got = chunk.withUnsafeMutableBytes { raw in systemRead(descriptor, raw.baseAddress!, wanted) }
            if got < 0 {
                if errno == EINTR { continue }
                throw FileError.notReadable(path: path, reason: String(cString: strerror(errno)))
            }
            bytes += chunk[0..<got]
            if !started, got == 0 || bytes.count >= start.length {
                try start.check(bytes)
                started = true
            }
            if got == 0 { return bytes }
            guard bytes.count <= limit else {
                throw FileError.tooLarge(path: path, bytes: Int64(bytes.count), limit: Int64(limit))
            }
            // The size fstat reported is only a hint; what was really read counts.
            if bytes.count > size { try checkBudget(bytes.count) }
        }
    }

    /// Checks that `path` is a readable file of at most `limit` bytes, without reading it;
    /// for readers that stream a file instead of holding it.
    /// - Parameters:
    ///   - path: the file.
    ///   - limit: the largest size accepted, in bytes.
    ///   - expected: the file in words with its article ("a data file"), for the message about a folder.
    /// - Throws: `FileError.missing`, `.isFolder`, `.notPlainFile`, `.notReadable` or `.tooLarge`.
    package static func checkReadable(_ path: String, limit: Int, expected: String) throws {
        try FileIdentity.checkPlainFile(path, expected: expected)  // before open(2), which waits forever on a FIFO
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw openFailure(path, errno) }
        defer { close(descriptor) }
        _ = try checkedSize(of: descriptor, path: path, limit: limit, expected: expected)
    }

    /// The size of a regular file in bytes, or nil if it is not one (a device, a pipe) or cannot be read.
    static func size(of path: String) -> Int? {
        var status = stat()
        guard stat(path, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int(status.st_size)
    }

    private static func checkedSize(of descriptor: Int32, path: String, limit: Int, expected: String) throws -> Int {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw FileError.notReadable(path: path, reason: String(cString: strerror(errno)))
        }
        // open(2) succeeds on a folder and only the first read fails, with a
        // message that would not say what is wrong.
        if (status.st_mode & S_IFMT) == S_IFDIR { throw FileError.isFolder(path: path, expected: expected) }
        guard status.st_size <= limit else {
            throw FileError.tooLarge(path: path, bytes: Int64(status.st_size), limit: Int64(limit))
        }
        return Int(status.st_size)
    }

    private static func openFailure(_ path: String, _ code: Int32) -> FileError {
        code == ENOENT ? .missing(path: path) : .notReadable(path: path, reason: String(cString: strerror(code)))
    }
}

/// read(2), out of reach of `BoundedFile.read`'s name.
private func systemRead(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
    read(descriptor, buffer, count)
}
