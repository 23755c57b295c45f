// RunLock.swift: one training run per checkpoint path at a time.
//
// Two runs started on one --save path wrote the same files: the latest and
// the best checkpoint could come from different runs, their metrics lines
// interleaved in one log, and their temporary files collided.  So a run
// holds an flock(2) on PATH.lock from its start to its end, and a second
// run on the same path is refused at once, naming the process that holds
// it (whose id the holder writes into the lock file).  flock is released by
// the kernel when its holder dies, however it dies, so a lock file left
// behind by a killed run never blocks the next one; the file itself is
// left in place, since removing it would let a third run lock a new file
// while the second still holds the old one.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive lock on a file's companion PATH.lock, held while the value lives.
package final class RunLock {
    /// The file the lock guards, as the caller named it.
    package let path: String
    /// The lock file beside it.
    package let lockPath: String
    private let descriptor: Int32

    /// The lock file that guards `path`: m.ckpt -> m.ckpt.lock.
    package static func lockPath(for path: String) -> String { path + ".lock" }

    /// Takes the lock guarding `path`, or throws at once if another process holds it.
    /// - Parameters:
    ///   - path: the file a run is about to write (its folder must exist).
    /// - Throws: `FileError.inUse` naming the holder's process id, or
    ///   `FileError.writeFailed` if the lock file cannot be created.
    package init(guarding path: String) throws {
        self.path = path
        lockPath = Self.lockPath(for: path)
        let descriptor = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw FileError.writeFailed(path: path, step: "cannot create the lock file \(lockPath)", reason: String(cString: strerror(errno)))
        }
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            if errno == EINTR { continue }
            let code = errno
            let holder = Self.holder(readingFrom: descriptor)
            close(descriptor)
            guard code == EWOULDBLOCK else {
                throw FileError.writeFailed(path: path, step: "cannot lock \(lockPath)", reason: String(cString: strerror(code)))
            }
            throw FileError.inUse(path: path, lock: lockPath, holder: holder)
        }
        self.descriptor = descriptor
        // The holder's id, for the message a second run gives; the lock itself is the flock.
        let line = Array("\(getpid())\n".utf8)
        if ftruncate(descriptor, 0) == 0 {
            _ = line.withUnsafeBytes { pwrite(descriptor, $0.baseAddress!, line.count, 0) }
        }
    }

    /// Throws if another process holds the lock guarding `path`, without keeping it:
    /// for a command that wants to refuse before it loads its data.  Nothing at all
    /// is created when no lock file exists yet.
    /// - Throws: `FileError.inUse` naming the holder.
    package static func checkFree(guarding path: String) throws {
        let lockPath = lockPath(for: path)
        let descriptor = open(lockPath, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        if flock(descriptor, LOCK_SH | LOCK_NB) != 0, errno == EWOULDBLOCK {
            throw FileError.inUse(path: path, lock: lockPath, holder: holder(readingFrom: descriptor))
        }
        flock(descriptor, LOCK_UN)
    }

    deinit {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }

    /// The process id a holder wrote into the lock file, if there is one.
    private static func holder(readingFrom descriptor: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 16)
        let count = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress!, $0.count, 0) }
        guard count > 0 else { return nil }
        let digits = buffer[0..<count].prefix { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
        return Int32(String(decoding: digits, as: UTF8.self)).flatMap { $0 > 0 ? $0 : nil }
    }
}
