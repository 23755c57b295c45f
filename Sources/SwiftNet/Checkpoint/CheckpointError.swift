// CheckpointError.swift: the one error checkpoint files produce.
//
// Whether a checkpoint is truncated, damaged, written by a newer
// SwiftNet, or for a different network, the problem is reported as one line
// that names the file and, where the problem sits at a place in it, the byte
// offset, so that `xxd -s OFFSET` shows it.  A file the system will not
// read or write at all (missing, a folder, a full disk) is a FileError from
// Files/, not one of these.

/// A checkpoint that cannot be read or written; its description is one line:
/// "<path>: <reason>" or "<path>: at byte <offset>: <reason>".
public struct CheckpointError: Error, CustomStringConvertible {
    /// What kind of problem it is, for code that reacts to one kind (a
    /// missing file is a `FileError`, not a CheckpointError).
    public enum Kind: Sendable, Equatable {
        /// Not a SwiftNet checkpoint at all (another file).
        case notACheckpoint
        /// A network3 pickle given where a checkpoint belongs.
        case pickle
        /// Written by a newer SwiftNet.
        case newerVersion
        /// Truncated, damaged or inconsistent inside.
        case damaged
        /// Whole, but for another network than the one it is given to.
        case wrongNetwork
        /// A network or run this checkpoint cannot hold or continue.
        case unusable
    }

    /// What kind of problem it is, to switch on.
    public let kind: Kind
    /// The file as the caller named it.
    public let path: String
    /// Where in the file the problem was found, if it has a place.
    public let offset: Int?
    /// What is wrong, in words, without the path or offset.
    public let reason: String

    /// Creates an error about a checkpoint file.
    /// - Parameters:
    ///   - path: the file as the caller named it.
    ///   - offset: the byte offset of the problem, if it has one.
    ///   - reason: what is wrong, in words.
    ///   - kind: what kind of problem it is.
    public init(path: String, offset: Int? = nil, reason: String, kind: Kind = .unusable) {
        self.kind = kind
        self.path = path
        self.offset = offset
        self.reason = reason
    }

    /// The error in one line, naming what is at fault.
    public var description: String {
        if let offset { return "\(path): at byte \(offset): \(reason)" }
        return "\(path): \(reason)"
    }
}

/// A problem found while decoding bytes, before the path is known to the code
/// that finds it; `Checkpoint` turns it into a CheckpointError.
struct CheckpointFormatProblem: Error {
    let offset: Int?
    let reason: String
    var kind: CheckpointError.Kind = .damaged
}
