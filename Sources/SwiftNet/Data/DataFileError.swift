// DataFileError: the one error the data layer throws.
//
// Whatever goes wrong with a data file (it is missing, its gzip stream is
// damaged, its pickle holds something other than numpy arrays, a pixel is not
// a whole number of 256ths) is reported as a single line that names the file
// and, where the problem sits inside the decompressed stream, the byte offset
// there, so that a person can find it with `python3 -m pickletools`.

/// A data file that cannot be used; its description is one line a person can act on:
/// "<path>: <reason>" or "<path>: at byte <offset>: <reason>".
public struct DataFileError: Error, CustomStringConvertible {
    /// The file as the caller named it.
    public let path: String
    /// The byte offset in the uncompressed stream where the problem was found,
    /// or nil when the problem concerns the file as a whole.
    public let offset: Int64?
    /// What is wrong, in words, without the path or offset.
    public let reason: String

    /// Creates an error about a data file.
    /// - Parameters:
    ///   - path: the file as the caller named it.
    ///   - offset: the byte offset in the uncompressed stream, if the problem has one.
    ///   - reason: what is wrong, in words.
    public init(path: String, offset: Int64? = nil, reason: String) {
        self.path = path
        self.offset = offset
        self.reason = reason
    }

    public var description: String {
        if let offset {
            return "\(path): at byte \(offset): \(reason)"
        }
        return "\(path): \(reason)"
    }
}
