// DataFileError: the one error the data layer throws about a file.
//
// Whatever goes wrong with a data file (it is missing, its gzip stream is
// damaged, its pickle holds something other than numpy arrays, a pixel is not
// a whole number of 256ths, a label is outside the classes) is reported as a
// single line that names the file and, where the problem sits inside the
// decompressed stream, the byte offset there, so that a person can find it
// with `python3 -m pickletools` or `xxd`.  Code that must tell the problems
// apart (a missing file from a damaged one, a wrong shape from a bad label)
// switches on `kind`; the words stay in `reason`.  A missing file gets no
// advice on where to find one here: that is the caller's to add.

/// A data file that cannot be used; its description is one line a person can act on:
/// "<path>: <reason>" or "<path>: at byte <offset>: <reason>".
public struct DataFileError: Error, CustomStringConvertible {
    /// What kind of problem it is, for code that treats them differently.
    public enum Kind: String, Equatable, Sendable, CaseIterable {
        /// There is no file at the path (or, for a folder of IDX files, one of the files is not in it).
        case missing
        /// The file exists but cannot be read: a folder, no permission, an I/O error.
        case notReadable
        /// The file, or what it inflates to, is larger than the reader takes.
        case tooLarge
        /// The bytes are cut short or the compressed stream is damaged.
        case damaged
        /// The file is readable but is not what the reader expects: another format,
        /// another structure, element type or dtype, or bytes after its end.
        case unexpectedContents
        /// The images have a shape the reader cannot take (an extent of zero, rows of the wrong size).
        case badShape
        /// A label lies outside the classes.
        case badLabel
        /// A value cannot be stored exactly (a pixel that is not a whole number of 256ths)
        /// or is not finite.
        case badValue
        /// The file disagrees with another file or setting it goes with: image and label
        /// counts, the test images' shape against the training images', a validation
        /// split larger than the training file.
        case inconsistent
    }

    /// What kind of problem it is.
    public let kind: Kind
    /// The file as the caller named it.
    public let path: String
    /// The byte offset in the uncompressed stream where the problem was found,
    /// or nil when the problem concerns the file as a whole.
    public let offset: Int64?
    /// What is wrong, in words, without the path or offset.
    public let reason: String

    /// Creates an error about a data file.
    /// - Parameters:
    ///   - kind: what kind of problem it is.
    ///   - path: the file as the caller named it.
    ///   - offset: the byte offset in the uncompressed stream, if the problem has one.
    ///   - reason: what is wrong, in words.
    public init(_ kind: Kind, path: String, offset: Int64? = nil, reason: String) {
        self.kind = kind
        self.path = path
        self.offset = offset
        self.reason = reason
    }

    /// The data layer's view of a file that could not be read at all.
    /// - Parameters:
    ///   - error: what the file reader threw.
    public init(_ error: FileError) {
        let kind: Kind
        switch error {
        case .missing: kind = .missing
        case .tooLarge: kind = .tooLarge
        case .isFolder, .notPlainFile, .notReadable, .writeFailed, .sameFile, .inUse: kind = .notReadable
        }
        self.init(kind, path: error.path, reason: error.problem)
    }

    /// The error in one line, naming what is at fault.
    public var description: String {
        if let offset {
            return "\(path): at byte \(offset): \(reason)"
        }
        return "\(path): \(reason)"
    }
}
