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
    public init(path: String, offset: Int? = nil, reason: String) {
        self.path = path
        self.offset = offset
        self.reason = reason
    }

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
}
