// CheckpointFile.swift: whole-file reads, and writes that never leave a half-written file.
//
// A checkpoint replaces the previous one after every epoch, so a crash, a
// kill -9 or a power cut in the middle of a write must not destroy the last
// good state.  The bytes go to PATH.tmp in the same folder (a rename is only
// atomic within one file system), the temporary file is fsync'ed so its
// contents are on disk before its name is, it is renamed over PATH, and the
// folder is fsync'ed so that the rename itself survives a power cut.  At
// every moment PATH is either the old file or the new one; a leftover
// PATH.tmp is simply overwritten by the next save.
//
// Reads take the whole file at once with a size limit, because checkpoints
// are small (a few MB) and a decoder over an in-memory array can check every
// length against the bytes that are really there.

import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

enum CheckpointFile {
    /// The temporary file a write of `path` goes through.
    static func temporaryPath(for path: String) -> String { path + ".tmp" }

    /// Test hook: SWIFTNET_TEST_STALL_CHECKPOINT_WRITE=N makes the Nth write of
    /// this process stop forever halfway through its temporary file, after
    /// printing "checkpoint write stalled" to stderr, so that a test can kill
    /// the process at exactly that moment.  Unset, it costs one lookup per write.
    private static let stallOnWrite = ProcessInfo.processInfo.environment["SWIFTNET_TEST_STALL_CHECKPOINT_WRITE"].flatMap(Int.init)
    nonisolated(unsafe) private static var writesStarted = 0

    /// Replaces `path` with `bytes` atomically (see the file comment).
    /// - Parameters:
    ///   - bytes: the new contents.
    ///   - path: the destination; its folder must exist.
    /// - Throws: `CheckpointError` naming the step that failed; `path` is then untouched.
    static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        let temporary = temporaryPath(for: path)
        func failure(_ step: String, _ code: Int32 = errno) -> CheckpointError {
            CheckpointError(path: path, reason: "cannot save: \(step): \(String(cString: strerror(code)))")
        }
        writesStarted += 1
        let stall = stallOnWrite == writesStarted
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw failure("cannot create \(temporary)") }
        do {
            try bytes.withUnsafeBytes { raw in
                var written = 0
                let end = stall ? raw.count / 2 : raw.count
                while written < end {
                    let result = write(descriptor, raw.baseAddress! + written, end - written)
                    if result < 0 {
                        if errno == EINTR { continue }
                        throw failure("writing \(temporary)")
                    }
                    written += result
                }
            }
            if stall { stallForever() }
            guard fsync(descriptor) == 0 else { throw failure("fsync of \(temporary)") }
        } catch {
            close(descriptor)
            unlink(temporary)
            throw error
        }
        guard close(descriptor) == 0 else {
            let code = errno
            unlink(temporary)
            throw failure("closing \(temporary)", code)
        }
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw failure("renaming \(temporary) to \(path)", code)
        }
        // The rename is done; syncing the folder makes it durable.  Some file
        // systems cannot sync a folder (EINVAL); the rename stands there anyway.
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        let folderDescriptor = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folderDescriptor >= 0 {
            let synced = fsync(folderDescriptor) == 0 || errno == EINVAL || errno == EROFS
            let code = errno
            close(folderDescriptor)
            guard synced else { throw failure("fsync of the folder \(folder)", code) }
        }
    }

    private static func stallForever() -> Never {
        FileHandle.standardError.write(Data("checkpoint write stalled\n".utf8))
        while true { sleep(1000) }
    }

    /// The whole of a file.
    /// - Parameters:
    ///   - path: the file.
    ///   - limit: the largest size accepted.
    /// - Throws: `CheckpointError` if it is missing, a folder, unreadable, or larger than `limit`.
    static func readWhole(_ path: String, limit: Int) throws -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            let code = errno
            throw CheckpointError(path: path, reason: code == ENOENT ? "no such file" : "cannot open: \(String(cString: strerror(code)))")
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw CheckpointError(path: path, reason: "cannot read: \(String(cString: strerror(errno)))")
        }
        if (status.st_mode & S_IFMT) == S_IFDIR {
            throw CheckpointError(path: path, reason: "is a directory, not a checkpoint")
        }
        let tooLarge = CheckpointError(path: path, reason: "is larger than any checkpoint (at most \(limit) bytes)")
        guard status.st_size <= limit else { throw tooLarge }
        // The size from fstat is only a hint: the file may grow or shrink while it is read.
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Int(status.st_size))
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let got = chunk.withUnsafeMutableBytes { raw in read(descriptor, raw.baseAddress!, raw.count) }
            if got < 0 {
                if errno == EINTR { continue }
                throw CheckpointError(path: path, reason: "cannot read: \(String(cString: strerror(errno)))")
            }
            if got == 0 { return bytes }
            bytes += chunk[0..<got]
            guard bytes.count <= limit else { throw tooLarge }
        }
    }
}
