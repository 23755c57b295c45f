// AppendingFile.swift: files that grow a line at a time, such as metrics logs.
//
// A metrics log gains one JSON line per epoch and must survive a kill at
// any moment with every line it had, whole.  Rewriting the log atomically
// each epoch would make that true at a cost that grows with the log; an
// append is enough, done with care: the file is opened O_APPEND (so every
// write lands at the end, even when two processes share it), each record
// goes out in one write(2) call retried only over what is left, and is
// fsync'ed before `append` returns, so a record reported written is on
// disk.  A write that fails part way (a full disk takes some bytes, then
// refuses the rest) is cut back to where the record began, so the file
// holds whole records only.  A kill can still cut the last record short,
// never an earlier one; MetricsLog drops such a fragment of a line.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A file opened for appending whole records, each made durable before `append` returns.
package final class AppendingFile {
    /// The file as the caller named it.
    package let path: String
    private let descriptor: Int32

    /// Opens `path` for appending, creating it (and syncing its folder) if needed.
    /// - Parameters:
    ///   - path: the file; its folder must exist.
    /// - Throws: `FileError.writeFailed` when it cannot be opened or created.
    package init(path: String) throws {
        self.path = path
        let existed = access(path, F_OK) == 0
        descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw FileError.writeFailed(path: path, step: "cannot open for appending", reason: String(cString: strerror(errno)))
        }
        if !existed {
            try AtomicFile.syncFolder(of: path) { step, code in
                .writeFailed(path: path, step: step, reason: String(cString: strerror(code)))
            }
        }
    }

    deinit { close(descriptor) }

    /// Appends `bytes` at the end of the file and fsyncs it.
    /// - Throws: `FileError.writeFailed` if the write or the fsync fails.
    package func append(_ bytes: [UInt8]) throws {
        let start = lseek(descriptor, 0, SEEK_END)
        do {
            try AtomicFile.writeAll(bytes, to: descriptor, upTo: bytes.count) {
                .writeFailed(path: path, step: "appending", reason: String(cString: strerror(errno)))
            }
        } catch {
            if start >= 0 { _ = ftruncate(descriptor, start) }  // no fragment for the next append to glue onto
            throw error
        }
        guard fsync(descriptor) == 0 else {
            throw FileError.writeFailed(path: path, step: "fsync after appending", reason: String(cString: strerror(errno)))
        }
    }
}
