// NonPickleFormat: what a file given as a pickle is, when its first bytes say it is not one.
//
// People hand a reader the wrong file: a SwiftNet checkpoint to the network3
// importer, a .npy or .npz that numpy.save wrote, a file gzipped twice, an
// IDX file.  Run as a pickle, such a file fails at its first byte with an
// opcode name that helps no one ("STRING is not allowed" for a checkpoint's
// "SWNETCKP"), so the decoder looks at the first bytes of the uncompressed
// stream before it starts, and names the format and what would work instead.

enum NonPickleFormat {
    case swiftNetCheckpoint
    case gzipInsideGzip
    case numpyArrayFile
    case zipArchive
    case hdf5
    case idx
    case png
    case otherCompression(String)

    /// The most first bytes any format here needs.
    static let prefixLength = 8

    /// The format these first bytes of a file announce, or nil if they may begin a pickle.
    init?(prefix: [UInt8]) {
        func starts(_ magic: [UInt8]) -> Bool { prefix.starts(with: magic) }
        if starts(Checkpoint.magic) {
            self = .swiftNetCheckpoint
        } else if starts([0x1f, 0x8b]) {
            self = .gzipInsideGzip
        } else if starts([0x93] + Array("NUMPY".utf8)) {
            self = .numpyArrayFile
        } else if starts(Array("PK".utf8) + [3, 4]) || starts(Array("PK".utf8) + [5, 6]) {
            self = .zipArchive
        } else if starts([0x89] + Array("HDF\r\n".utf8)) {
            self = .hdf5
        } else if starts([0x89] + Array("PNG".utf8)) {
            self = .png
        } else if starts(Array("BZh".utf8)) {
            self = .otherCompression("bzip2")
        } else if starts([0xfd] + Array("7zXZ".utf8)) {
            self = .otherCompression("xz")
        } else if prefix.count >= 4, prefix[0] == 0, prefix[1] == 0, prefix[2] == 8, (1...3).contains(prefix[3]) {
            // IDX: two zero bytes, type 0x08 (unsigned bytes), 1 to 3 dimensions.
            self = .idx
        } else {
            return nil
        }
    }

    /// "is <what it is>, not <expected>; <what would work>", for a DataFileError's reason.
    /// - Parameters:
    ///   - expected: what the reader wanted, such as "a network3 parameter pickle".
    func reason(expected: String) -> String {
        switch self {
        case .swiftNetCheckpoint:
            return "is a SwiftNet checkpoint, not \(expected): it is a model already and needs no import"
        case .gzipInsideGzip:
            return "is gzipped twice: it inflates to another gzip stream, not \(expected); gunzip it once"
        case .numpyArrayFile:
            return "is a numpy .npy file (numpy.save), not \(expected); write the arrays with pickle.dump instead"
        case .zipArchive:
            return "is a zip archive (numpy.savez's .npz, or a PyTorch file), not \(expected); "
                + "write the arrays with pickle.dump instead"
        case .hdf5:
            return "is an HDF5 file (Keras .h5), not \(expected); write the arrays with pickle.dump instead"
        case .idx:
            return "is an IDX file, not \(expected)"
        case .png:
            return "is a PNG image, not \(expected)"
        case .otherCompression(let name):
            return "is \(name)-compressed, not \(expected); decompress it (gzip is read directly)"
        }
    }
}
