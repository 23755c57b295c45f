// AtomicFile.swift: the one writer of whole files, which never leaves a half-written one.
//
// A checkpoint replaces the previous one after every epoch, an export or a
// picture replaces whatever was there, and a crash, a kill -9 or a power
// cut in the middle of a write must not destroy the last good file.  So
// every file SwiftNet writes whole goes through here: the bytes go to
// PATH.tmp.<pid> in the same folder (a rename is only atomic within one
// file system), the temporary file is fsync'ed so its contents are on disk
// before its name is, it is renamed over PATH, and the folder is fsync'ed
// so that the rename itself survives a power cut.  At every moment PATH is
// either the old file or the new one.  The temporary name carries the
// process id because two processes writing one PATH through one PATH.tmp
// truncated and renamed each other's half-written files; a leftover of a
// process that died is removed by `removeStaleTemporaries`, which a
// training run calls once it holds its lock.

import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole-file writes that replace a file atomically.
package enum AtomicFile {
    /// The temporary file a write of `path` by this process goes through.
    package static func temporaryPath(for path: String) -> String { temporaryPrefix(for: path) + String(getpid()) }

    private static func temporaryPrefix(for path: String) -> String { path + ".tmp." }

    /// Removes the temporary files of `path` that processes no longer running left
    /// behind (a kill in the middle of a write), and the plain PATH.tmp that earlier
    /// versions wrote.  A temporary of a live process is left alone.
    package static func removeStaleTemporaries(of path: String) {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path, prefix = url.lastPathComponent + ".tmp"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
        for name in names where name.hasPrefix(prefix) {
            let suffix = name.dropFirst(prefix.count)
            let isStale: Bool
            if suffix.isEmpty {
                isStale = true
            } else if suffix.first == ".", let pid = Int32(suffix.dropFirst()), pid > 0 {
                isStale = kill(pid, 0) != 0 && errno == ESRCH
            } else {
                isStale = false  // not a name this writer makes
            }
            if isStale { unlink(folder + "/" + name) }
        }
    }

    /// Test hook: SWIFTNET_TEST_STALL_CHECKPOINT_WRITE=N makes the Nth write of
    /// this process stop forever halfway through its temporary file, after
    /// printing "checkpoint write stalled" to stderr, so that a test can kill
    /// the process at exactly that moment.  Unset, it costs one lookup per process.
    private static let stallOnWrite = ProcessInfo.processInfo.environment["SWIFTNET_TEST_STALL_CHECKPOINT_WRITE"].flatMap(Int.init)
    nonisolated(unsafe) private static var writesStarted = 0

    /// Replaces `path` with `bytes` atomically (see the file comment).
    /// - Parameters:
    ///   - bytes: the new contents.
    ///   - path: the destination; its folder must exist.
    /// - Throws: `FileError.writeFailed` naming the step that failed; `path` is then untouched.
    package static func write(_ bytes: [UInt8], to path: String) throws {
        let temporary = temporaryPath(for: path)
        func failure(_ step: String, _ code: Int32 = errno) -> FileError {
            .writeFailed(path: path, step: step, reason: String(cString: strerror(code)))
        }
        writesStarted += 1
        let stall = stallOnWrite == writesStarted
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw failure("cannot create \(temporary)") }
        do {
            try writeAll(bytes, to: descriptor, upTo: stall ? bytes.count / 2 : bytes.count) { failure("writing \(temporary)") }
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
        try syncFolder(of: path) { step, code in failure(step, code) }
    }

    /// Writes `bytes[0..<end]` to `descriptor`, retrying short writes and EINTR.
    static func writeAll(_ bytes: [UInt8], to descriptor: Int32, upTo end: Int, failure: () -> FileError) throws {
        try bytes.withUnsafeBytes { raw in
            var written = 0
            while written < end {
                let result = systemWrite(descriptor, raw.baseAddress! + written, end - written)
                if result < 0 {
                    if errno == EINTR { continue }
                    throw failure()
                }
                written += result
            }
        }
    }

    /// Makes a rename or a creation in `path`'s folder durable.  Some file
    /// systems cannot sync a folder (EINVAL, EROFS); the change stands there anyway.
    static func syncFolder(of path: String, failure: (String, Int32) -> FileError) throws {
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        let folderDescriptor = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard folderDescriptor >= 0 else { return }
        let synced = fsync(folderDescriptor) == 0 || errno == EINVAL || errno == EROFS
        let code = errno
        close(folderDescriptor)
        guard synced else { throw failure("fsync of the folder \(folder)", code) }
    }

    private static func stallForever() -> Never {
        FileHandle.standardError.write(Data("checkpoint write stalled\n".utf8))
        while true { sleep(1000) }
    }
}

/// write(2), out of reach of `AtomicFile.write`'s name.
private func systemWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, bytes, count)
}
