// FileIdentity.swift: whether two paths name one file, and whether a path names a plain file.
//
// A command that reads one file and writes another must not write over
// what it reads, and a run that writes several files must not write two of
// them into one: `--save` equal to `--data` replaced the data set with a
// checkpoint, and a metrics log equal to the checkpoint lost every line.
// Comparing the strings is not enough ("m.ckpt", "./m.ckpt", a link to it,
// a hard link), so two paths are the same file when they resolve to the
// same path once every link is followed, or, when both exist, when they
// are the same device and inode.  Either is enough: a write through a link
// or a hard link's other name reaches the same bytes.
//
// The same stat answers the second question.  open(2) on a FIFO waits for a
// writer forever, a device can be endless, and a socket cannot be opened at
// all, so every reader asks `checkPlainFile` first, which refuses anything
// but a plain file (or nothing there, which the reader then reports).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Where a file lives on its file system, and the questions that settles.
package enum FileIdentity {
    /// True when `first` and `second` name one file: the same path once links are
    /// followed, or the same device and inode when both exist.
    package static func same(_ first: String, _ second: String) -> Bool {
        if let one = deviceAndInode(first), let other = deviceAndInode(second), one == other { return true }
        return resolved(first) == resolved(second)
    }

    /// `path` made absolute with every link followed: the whole path when it exists,
    /// else its folder (when that exists) plus the last component.
    package static func resolved(_ path: String) -> String {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        if let real = realPath(absolute) { return real }
        let url = URL(fileURLWithPath: absolute)
        let folder = url.deletingLastPathComponent().path
        return (realPath(folder) ?? folder) + "/" + url.lastPathComponent
    }

    /// Refuses anything at `path` that is not a plain file, by its type, without opening it.
    /// Nothing at `path` passes, for the reader to report in its own words.
    /// - Parameters:
    ///   - path: the file about to be read.
    ///   - expected: the file in words with its article ("a checkpoint").
    /// - Throws: `FileError.isFolder` or `FileError.notPlainFile`.
    package static func checkPlainFile(_ path: String, expected: String) throws {
        var status = stat()
        guard stat(path, &status) == 0 else { return }
        switch status.st_mode & S_IFMT {
        case S_IFREG: return
        case S_IFDIR: throw FileError.isFolder(path: path, expected: expected)
        case S_IFIFO: throw FileError.notPlainFile(path: path, kind: "a named pipe (FIFO)", expected: expected)
        case S_IFCHR: throw FileError.notPlainFile(path: path, kind: "a character device", expected: expected)
        case S_IFBLK: throw FileError.notPlainFile(path: path, kind: "a block device", expected: expected)
        case S_IFSOCK: throw FileError.notPlainFile(path: path, kind: "a socket", expected: expected)
        default: throw FileError.notPlainFile(path: path, kind: "a special file", expected: expected)
        }
    }

    private static func deviceAndInode(_ path: String) -> [UInt64]? {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        return [UInt64(status.st_dev), UInt64(status.st_ino)]
    }

    private static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
