// FileError.swift: what can go wrong when a file is opened, read or written.
//
// Every file SwiftNet touches (checkpoints, data sets, pictures, IDX and
// network3 exports, metrics logs) goes through the helpers in this folder,
// and they report the failures of the file system itself with this one
// type: the file is not there, is a folder or a special file (a FIFO, a
// device), cannot be read, is larger than the reader takes, a step of a
// write or an append failed, one file would be used as two, or another
// process holds it.  What a file's
// contents mean is another concern with its own error (DataFileError,
// CheckpointError, ImageError); those wrap a FileError where a reader of
// theirs meets one.  Each case prints one line, "<path>: <problem>".

/// A file the file system would not let us read or write; its description is one
/// line, "<path>: <problem>", naming no command or flag.
public enum FileError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Nothing exists at `path`.
    case missing(path: String)
    /// `path` is a folder where a file was expected; `expected` names the file in
    /// words, with its article ("a checkpoint", "a data file").
    case isFolder(path: String, expected: String)
    /// `path` is a named pipe, a device or a socket (`kind`, in words with its article)
    /// where a file was expected; it is refused before it is opened, which could wait forever.
    case notPlainFile(path: String, kind: String, expected: String)
    /// `path` exists but cannot be opened or read; `reason` is the system's word for why.
    case notReadable(path: String, reason: String)
    /// `path` holds more than `limit` bytes (at least `bytes`), so it was not read.
    case tooLarge(path: String, bytes: Int64, limit: Int64)
    /// Writing `path` failed at `step` (e.g. "cannot create PATH.tmp") for `reason`;
    /// an atomic write leaves the previous file untouched.
    case writeFailed(path: String, step: String, reason: String)
    /// One operation would use `path` as two files, `role` and `otherRole` (in words, with
    /// their articles: "the checkpoint", "the metrics log"), so one would overwrite the other.
    case sameFile(path: String, role: String, otherRole: String)
    /// Another process is writing `path` and holds its lock file `lock`; `holder` is the
    /// process id it wrote there, if it could be read.
    case inUse(path: String, lock: String, holder: Int32?)

    /// The file as the caller named it.
    public var path: String {
        switch self {
        case .missing(let path), .isFolder(let path, _), .notPlainFile(let path, _, _), .notReadable(let path, _),
             .tooLarge(let path, _, _), .writeFailed(let path, _, _), .sameFile(let path, _, _), .inUse(let path, _, _):
            return path
        }
    }

    /// What is wrong, in words, without the path.
    public var problem: String {
        switch self {
        case .missing: return "no such file"
        case .isFolder(_, let expected): return "is a directory, not \(expected)"
        case .notPlainFile(_, let kind, let expected): return "is \(kind), not \(expected)"
        case .notReadable(_, let reason): return "cannot read: \(reason)"
        case .tooLarge(_, let bytes, let limit):
            return "holds \(bytes) bytes or more, over the \(limit) bytes this reader takes for such a file"
        case .writeFailed(_, let step, let reason): return "cannot save: \(step): \(reason)"
        case .sameFile(_, let role, let otherRole): return "is both \(role) and \(otherRole); give each a file of its own"
        case .inUse(_, let lock, let holder):
            return "in use by another run" + (holder.map { " (process \($0))" } ?? "") + ", which holds \(lock)"
        }
    }

    /// The error in one line, naming what is at fault.
    public var description: String { "\(path): \(problem)" }
}
